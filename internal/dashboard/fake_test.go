package dashboard

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// secret is what the fake's template carries in its env and command, as
// the default stack carries the Redis password: it must never reach the
// page.
const secret = "s3cr3t-redis-password-4f2a"

// fakeSource is an in-memory backend: one web spec with n replicas.
type fakeSource struct {
	mu       sync.Mutex
	replicas int32
	unhealth map[string]bool
	requests map[string]int64
	tops     atomic.Int64
	reads    atomic.Int64
}

func newFake(n int32) *fakeSource {
	return &fakeSource{replicas: n, unhealth: map[string]bool{}, requests: map[string]int64{}}
}

func (f *fakeSource) scale(n int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas = n
}

func (f *fakeSource) spec() v1alpha1.ScaleSpec {
	n := f.replicas
	s := v1alpha1.ScaleSpec{APIVersion: v1alpha1.GroupVersion, Kind: v1alpha1.Kind, Metadata: v1alpha1.ObjectMeta{Name: "web"}}
	s.Spec.Replicas = &n
	s.Spec.DependsOn = []string{"redis"}
	s.Spec.Template = v1alpha1.Template{Image: "demoapp:dev", Port: 5000,
		Command: []string{"/demoapp", "--password", secret},
		Env:     []v1alpha1.EnvVar{{Name: "REDIS_PASSWORD", Value: secret}}}
	s.Spec.Template.Resources.Limits.CPUs = "0.5"
	s.Spec.Template.Resources.Limits.Memory = "128M"
	s.Spec.LoadBalancer = &v1alpha1.LoadBalancer{Image: "scaler-nginx:dev", HostIP: "127.0.0.1", Port: 8080}
	var up []string
	for i := range n {
		name := fmt.Sprintf("web-%d", i+1)
		if !f.unhealth[name] {
			up = append(up, name)
		}
	}
	s.Status = &v1alpha1.Status{Replicas: n, ReadyReplicas: int32(len(up)), UpdatedReplicas: n, Upstream: up,
		Conditions: []v1alpha1.Condition{{Type: v1alpha1.ConditionAvailable, Status: v1alpha1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
	return s
}

func (f *fakeSource) List(context.Context) ([]v1alpha1.ScaleSpec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads.Add(1)
	return []v1alpha1.ScaleSpec{f.spec()}, nil
}

func (f *fakeSource) Replicas(_ context.Context, name string) ([]v1alpha1.ReplicaInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spec()
	hash := v1alpha1.TemplateHash(s.Spec.Template)
	var out []v1alpha1.ReplicaInfo
	for i := range f.replicas {
		n := fmt.Sprintf("web-%d", i+1)
		h := "healthy"
		if f.unhealth[n] {
			h = "unhealthy"
		}
		out = append(out, v1alpha1.ReplicaInfo{Name: n, Role: v1alpha1.RoleApp, State: "running", Health: h, TemplateHash: hash, Revision: "1",
			InUpstream: !f.unhealth[n]})
	}
	return out, nil
}

func (f *fakeSource) Events(context.Context, string) ([]v1alpha1.Event, error) {
	now := time.Now()
	return []v1alpha1.Event{
		{Type: v1alpha1.EventNormal, Reason: "ScaledUp", Spec: "web", Object: "scalespec/web", Message: "created web-2", Count: 1, FirstTimestamp: now, LastTimestamp: now},
	}, nil
}

func (f *fakeSource) Top(context.Context, string, controlapi.TopOptions) ([]controlapi.TopReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tops.Add(1)
	rep := controlapi.TopReport{Spec: "web", LoadBalancer: true}
	for i := range f.replicas {
		n := fmt.Sprintf("web-%d", i+1)
		f.requests[n] += 10
		c := f.requests[n]
		rep.TotalRequests += c
		rep.Replicas = append(rep.Replicas, controlapi.ReplicaUsage{Name: n, State: "running", Health: "healthy", InUpstream: true,
			CPUPercent: 12.5, CPULimit: 0.5, MemoryBytes: 20 << 20, MemoryLimitBytes: 128e6, Requests: &c})
	}
	// Shares as the daemon's Top computes them.
	for i := range rep.Replicas {
		share := float64(*rep.Replicas[i].Requests) / float64(rep.TotalRequests)
		rep.Replicas[i].Share = &share
	}
	return []controlapi.TopReport{rep}, nil
}
