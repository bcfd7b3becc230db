package v1alpha1

import (
	"slices"
	"testing"
)

func TestCompareReplicaNames(t *testing.T) {
	names := []string{"web-10", "web-lb", "api-3", "web-2", "web-1", "web", "web-x"}
	slices.SortFunc(names, CompareReplicaNames)
	want := []string{"api-3", "web", "web-1", "web-2", "web-10", "web-lb", "web-x"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %v, want %v", names, want)
	}
}
