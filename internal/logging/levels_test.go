package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestVerboseLinesSayTheirVLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "text", 2)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("created replica")
	log.V(1).Info("planned")
	log.V(2).Info("reconciled")
	log.V(3).Info("hidden")
	got := buf.String()
	for _, want := range []string{"level=INFO msg=\"created replica\"", "level=V1 msg=planned", "level=V2 msg=reconciled"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hidden") {
		t.Errorf("V(3) shown at -v 2:\n%s", got)
	}
}
