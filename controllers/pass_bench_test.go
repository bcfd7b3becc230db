package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// BenchmarkReconcilePass is the cost of one reconcile pass of a converged
// spec on the fake engine (so scalerd's own work, not the Engine's), as the
// replicas grow: one spec of 10 to 1,000 replicas (the API's limit per
// spec), and one spec's pass among 100 specs of 100 replicas, whose
// observation lists all 10,000. BENCHMARKS.md, "The cost of a pass".
//
//	go test ./controllers -run '^$' -bench ReconcilePass -benchmem
func BenchmarkReconcilePass(b *testing.B) {
	for _, c := range []struct{ specs, replicas int }{{1, 10}, {1, 100}, {1, 1000}, {100, 100}} {
		b.Run(fmt.Sprintf("specs=%d/replicas=%d", c.specs, c.replicas), func(b *testing.B) {
			rt := newFakeRuntime()
			specs := &memSpecs{specs: map[string]*v1alpha1.ScaleSpec{}, errs: map[string]error{}}
			var names []string
			for i := range c.specs {
				s := testSpec(int32(c.replicas))
				s.Metadata.Name = fmt.Sprintf("web%d", i)
				s.Spec.LoadBalancer.Port = int32(8080 + i)
				specs.specs[s.Metadata.Name] = s
				names = append(names, s.Metadata.Name)
			}
			r := NewReconciler(rt, specs, logr.Discard(), NewRecorder(100), nil)
			ctx := context.Background()
			converged := func() bool {
				rt.mu.Lock()
				defer rt.mu.Unlock()
				n := 0
				for _, ct := range rt.containers {
					if ct.Labels[v1alpha1.LabelRole] == v1alpha1.RoleApp {
						ct.State, ct.Health = StateRunning, HealthHealthy
						n++
					}
				}
				return n == c.specs*c.replicas
			}
			for pass := 0; ; pass++ {
				for _, n := range names {
					if _, err := r.Reconcile(ctx, n); err != nil {
						b.Fatal(err)
					}
				}
				r.WaitInFlight()
				if converged() {
					break
				}
				if pass > 100 {
					b.Fatal("did not converge in 100 passes")
				}
			}
			for _, n := range names {
				if _, err := r.Reconcile(ctx, n); err != nil { // the upstream, once all are ready
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Reconcile(ctx, names[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
