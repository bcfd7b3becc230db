package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// preview is Preview of the harness's spec changed by edit.
func (h *harness) preview(edit func(*v1alpha1.ScaleSpec)) string {
	h.t.Helper()
	s := h.specs.specs["web"].DeepCopy()
	edit(s)
	steps, err := h.r.Preview(context.Background(), s)
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Join(steps, "\n") + "\n"
}

// TestPreview: the steps Preview prints come from the planner, pass after
// pass, so that a rollout shows whole and in the order it will run; it
// changes nothing.
func TestPreview(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	hash := func(edit func(*v1alpha1.ScaleSpec)) string {
		s := h.specs.specs["web"].DeepCopy()
		edit(s)
		s.Default()
		return short(v1alpha1.TemplateHash(s.Spec.Template))
	}
	v2 := func(s *v1alpha1.ScaleSpec) { s.Spec.Template.Image = "demoapp:v2" }
	same := func(*v1alpha1.ScaleSpec) {}
	for _, tc := range []struct {
		name string
		edit func(*v1alpha1.ScaleSpec)
		want string
	}{
		{"a new template rolls one at a time (maxSurge 1, maxUnavailable 0)", v2, `
 1. create web-4 (template NEW), wait until healthy, add to the upstream
 2. drain web-3 (outdated): out of the upstream, stopped once its requests end
 3. create web-3 (template NEW), wait until healthy, add to the upstream
 4. drain web-2 (outdated): out of the upstream, stopped once its requests end
 5. create web-2 (template NEW), wait until healthy, add to the upstream
 6. drain web-1 (outdated): out of the upstream, stopped once its requests end
`},
		{"scale up", func(s *v1alpha1.ScaleSpec) { n := int32(5); s.Spec.Replicas = &n }, `
 1. create web-4 (template OLD), wait until healthy, add to the upstream
    create web-5 (template OLD), wait until healthy, add to the upstream
`},
		{"scale down drains from the top", func(s *v1alpha1.ScaleSpec) { n := int32(1); s.Spec.Replicas = &n }, `
 1. drain web-3 (scale-down): out of the upstream, stopped once its requests end
    drain web-2 (scale-down): out of the upstream, stopped once its requests end
`},
		{"nothing changes", same, `
nothing to do for the replicas: 3 of template OLD run
`},
		{"a new algorithm reloads nginx", func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Algorithm = v1alpha1.AlgorithmIPHash }, `
reload nginx in web-lb: its config changes (algorithm, timeouts or snippet); checked with nginx -t first, the running config stays if it fails
nothing to do for the replicas: 3 of template OLD run
`},
		{"a new load balancer image replaces it", func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "nginx:other" }, `
replace the load balancer web-lb (its image or address changes, to nginx:other on 127.0.0.1:8080): the new one is checked (image, nginx -t, port) before the old one stops
nothing to do for the replicas: 3 of template OLD run
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.TrimPrefix(tc.want, "\n")
			want = strings.ReplaceAll(want, "NEW", hash(v2))
			want = strings.ReplaceAll(want, "OLD", hash(same))
			if got := h.preview(tc.edit); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if calls := h.rt.takeCalls(); len(calls) != 0 {
		t.Errorf("Preview changed something: %v", calls)
	}

	// A replica that died is replaced in the first step.
	h.rt.set("web-2", StateExited, HealthNone)
	got := h.preview(same)
	if !strings.HasPrefix(got, " 1. remove web-2 (exited)\n    create web-2 (template "+hash(same)+")") {
		t.Errorf("with web-2 dead:\n%s", got)
	}
}

// TestPreviewOfALargeRolloutIsBounded: a rollout of 40 replicas one at a
// time is 80 passes (of 1,000, 2,000); the preview shows the first
// previewMaxWaves and says the rest goes on the same way.
func TestPreviewOfALargeRolloutIsBounded(t *testing.T) {
	h := newHarness(t, testSpec(40))
	converge(h)
	got := h.preview(func(s *v1alpha1.ScaleSpec) {
		s.Spec.Strategy.MaxSurge, s.Spec.Strategy.MaxUnavailable = &v1alpha1.IntOrPercent{Value: 1}, &v1alpha1.IntOrPercent{}
		s.Spec.Template.Image = "demoapp:v2"
	})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "and so on, a pass at a time, until 40 replicas of template ") {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(got, fmt.Sprintf("%2d. ", previewMaxWaves)) || strings.Contains(got, fmt.Sprintf("%2d. ", previewMaxWaves+1)) {
		t.Errorf("want exactly %d passes shown:\n%s", previewMaxWaves, got)
	}
}
