package e2e

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/nginx"
	"github.com/scaler-dev/scaler/test/bench"
)

// TestZeroDowntimeScenarios is the short version of the benchmark's
// scenario 1 (test/bench, `make bench`), run by `make test`: the same code
// path, scaling 1 → 3 → 5 → 1, rolling out 3 replicas, killing one, and
// changing the load-balancing algorithm, each under a steady load that
// must lose no request.
func TestZeroDowntimeScenarios(t *testing.T) {
	s := upStack(t, 1)
	target := newScalerTarget(t, s)
	opts := bench.RunOptions{
		Load:   bench.LoadOptions{Rate: 100, Concurrency: 32, Timeout: 10 * time.Second},
		Warmup: 500 * time.Millisecond, Before: time.Second, Settle: 500 * time.Millisecond,
	}
	for _, sc := range bench.Scenarios(true) {
		res, err := bench.Run(t.Context(), target, sc, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d requests, %d failed %v; p99 before %.1fms, during %.1fms", sc.Name, res.Load.Requests, res.Load.Failures,
			res.Load.FailuresByKind, res.Before.LatencyMillis.P99, res.During.LatencyMillis.P99)
		if res.Load.Requests < 100 {
			t.Errorf("%s: only %d requests were sent; the load did not run", sc.Name, res.Load.Requests)
		}
		switch {
		case res.Failed() && sc.Reloads && res.ResentOnly():
			// A real reload's cost with nginx, written down in README
			// ("Reload"): old workers close idle keep-alive connections,
			// and a GET sent on one as it closed is resent by the client.
			t.Logf("%s: %d of %d requests were resent by the client across the reload", sc.Name, res.Load.Failures, res.Load.Requests)
		case res.Failed():
			t.Errorf("%s: %d of %d requests failed: %v", sc.Name, res.Load.Failures, res.Load.Requests, res.Load.FailuresByKind)
		}
		for _, st := range res.Steps {
			if st.AddsReplicas && st.NewTrafficSeconds == nil {
				t.Errorf("%s: %s: no new replica answered; answers by instance: %v; converged after %v, observed %.1fs", sc.Name, st.Name, res.Load.Instances, derefSeconds(st.ConvergedSeconds), st.ObservedSeconds)
			}
		}
	}
}

// scalerTarget drives a harness stack as a bench.Target. Every change is
// a save of the web spec's file, as a user editing it makes it; the spec is
// the harness's webSpec with the settings a scenario changed.
type scalerTarget struct {
	t        *testing.T
	s        *stack
	web      string
	api      *controlapi.Client
	replicas int
	greeting string
	// algorithm is the load balancer's, "" for the default (least_conn).
	algorithm string
	// health replaces the harness's health-check timing (1s, 5s, 3
	// retries) where set.
	health bench.HealthCheck
	// noCPULimit drops the 0.5 CPU limit (for the throughput comparison).
	noCPULimit bool
}

func newScalerTarget(t *testing.T, s *stack) *scalerTarget {
	return &scalerTarget{t: t, s: s, web: s.name("web"), api: controlapi.NewClient(s.socket), replicas: 1, greeting: "hello"}
}

func (st *scalerTarget) Name() string { return "scaler" }
func (st *scalerTarget) URL() string  { return st.s.url() }

// spec renders the web spec with the target's settings. Each setting is a
// replacement in the harness's spec, which fails loudly if the harness's
// text changes under it.
func (st *scalerTarget) spec() string {
	spec := st.s.webSpec(st.replicas, st.greeting)
	if st.algorithm != "" {
		spec = mustReplace(st.t, spec, "  loadBalancer:\n", "  loadBalancer:\n    algorithm: "+st.algorithm+"\n")
	}
	if h := st.health; h.Interval != "" {
		spec = mustSetHealth(st.t, spec, "interval", h.Interval)
	}
	if h := st.health; h.Timeout != "" {
		spec = mustSetHealth(st.t, spec, "timeout", h.Timeout)
	}
	if h := st.health; h.Retries != 0 {
		spec = mustSetHealth(st.t, spec, "retries", strconv.Itoa(h.Retries))
	}
	if st.noCPULimit {
		spec = mustReplace(st.t, spec, `limits: {cpus: "0.5", memory: 128M}`, `limits: {memory: 128M}`)
	}
	return spec
}

// mustSetHealth sets one field of the spec's healthCheck, whatever the
// harness sets it to.
func mustSetHealth(t *testing.T, spec, field, value string) string {
	t.Helper()
	line := regexp.MustCompile(`(?m)^      ` + field + `: .*$`)
	if !line.MatchString(spec) {
		t.Fatalf("the harness's web spec has no healthCheck %s; update scalerTarget.spec:\n%s", field, spec)
	}
	return line.ReplaceAllLiteralString(spec, "      "+field+": "+value)
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the harness's web spec no longer contains %q; update scalerTarget.spec:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

// save writes the spec file and returns when it was saved (renamed into
// place: the moment scalerd's watcher can see it).
func (st *scalerTarget) save() time.Time {
	st.s.writeSpec("web.yaml", st.spec())
	return time.Now()
}

// saveCommand is how the report spells a save.
func (st *scalerTarget) saveCommand(what string) string {
	return "save web.yaml with " + what
}

// waitStatus polls the control API until ok accepts the web spec's status.
func (st *scalerTarget) waitStatus(ctx context.Context, timeout time.Duration, what string, ok func(v1alpha1.Status) bool) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		spec, err := st.api.Get(ctx, st.web)
		switch {
		case err != nil:
			last = err.Error()
		case spec.Status == nil:
			last = "no status yet"
		case spec.Status.ObservedGeneration == spec.Metadata.Generation && ok(*spec.Status):
			return nil
		default:
			s := spec.Status
			last = fmt.Sprintf("replicas=%d ready=%d updatedReady=%d upstream=%v", s.Replicas, s.ReadyReplicas, s.UpdatedReadyReplicas, s.Upstream)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %s", timeout, what, last)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReplicas waits for exactly n replicas, all ready and in the upstream.
func (st *scalerTarget) waitReplicas(ctx context.Context, n int, timeout time.Duration) error {
	return st.waitStatus(ctx, timeout, fmt.Sprintf("%d ready replicas in the upstream", n), func(s v1alpha1.Status) bool {
		return allServing(s, n)
	})
}

// allServing reports whether the status shows exactly n replicas, all of
// the current template, ready and in the upstream.
func allServing(s v1alpha1.Status, n int) bool {
	return s.Replicas == int32(n) && s.ReadyReplicas == int32(n) && s.UpdatedReadyReplicas == int32(n) && len(s.Upstream) == n
}

// waitReplaced waits until none of the containers in old runs any more
// and n replicas of the current template serve.
func (st *scalerTarget) waitReplaced(ctx context.Context, old map[string]string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		now := st.s.containers(st.web, v1alpha1.RoleApp)
		left := 0
		for _, id := range now {
			for _, oldID := range old {
				if id == oldID {
					left++
				}
			}
		}
		if left == 0 {
			return st.waitReplicas(ctx, n, time.Until(deadline))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s: %d of the old containers still there", timeout, left)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Reset saves the spec with n replicas of version (GREETING) and waits
// for them to serve; a new version is rolled out first.
func (st *scalerTarget) Reset(ctx context.Context, n int, version string) error {
	if version != st.greeting {
		old := st.s.containers(st.web, v1alpha1.RoleApp)
		st.greeting, st.replicas = version, n
		st.save()
		return st.waitReplaced(ctx, old, n, 5*time.Minute)
	}
	st.replicas = n
	st.save()
	return st.waitReplicas(ctx, n, 3*time.Minute)
}

// Scale saves replicas: n, which is what `scalectl scale web --replicas n`
// does too.
func (st *scalerTarget) Scale(ctx context.Context, n int) (bench.Change, error) {
	st.replicas = n
	ch := bench.Change{Commands: []string{st.saveCommand(fmt.Sprintf("replicas: %d", n))}, Requested: st.save()}
	if err := st.waitReplicas(ctx, n, 3*time.Minute); err != nil {
		return ch, err
	}
	ch.Converged = time.Now()
	ch.Note = "done: status shows every replica ready and in the upstream"
	return ch, nil
}

// RollingUpdate saves a new GREETING: a template change, rolled out
// maxSurge 1, maxUnavailable 0.
func (st *scalerTarget) RollingUpdate(ctx context.Context, version string) (bench.Change, error) {
	old := st.s.containers(st.web, v1alpha1.RoleApp)
	st.greeting = version
	ch := bench.Change{Commands: []string{st.saveCommand(fmt.Sprintf("GREETING=%q (maxSurge 1, maxUnavailable 0)", version))}, Requested: st.save()}
	if err := st.waitReplaced(ctx, old, st.replicas, 5*time.Minute); err != nil {
		return ch, err
	}
	ch.Converged = time.Now()
	ch.Note = "done: every old replica removed, the new ones ready and in the upstream"
	return ch, nil
}

// Kill kills the second replica (by name) with `docker kill -s KILL`.
func (st *scalerTarget) Kill(ctx context.Context) (bench.Change, error) {
	return st.killAndWait(ctx, "docker kill -s KILL %s", func(id string) error {
		_, err := bench.Docker(ctx, "kill", "-s", "KILL", id)
		return err
	})
}

// Crash kills the second replica's process from the host, as the kernel's
// OOM killer would; to scalerd it is the same "die" as a docker kill.
func (st *scalerTarget) Crash(ctx context.Context) (bench.Change, error) {
	return st.killAndWait(ctx, "kill -KILL $(docker inspect -f '{{.State.Pid}}' %s)", func(id string) error { return bench.KillProcess(ctx, id) })
}

// killAndWait kills the second replica with kill and waits for its
// replacement to serve; command, with the replica's name for %s, is how
// the report spells it.
func (st *scalerTarget) killAndWait(ctx context.Context, command string, kill func(id string) error) (bench.Change, error) {
	name, id, host, err := st.victim(ctx)
	if err != nil {
		return bench.Change{}, err
	}
	ch := bench.Change{Commands: []string{fmt.Sprintf(command, name)}, Requested: time.Now(), Killed: host}
	if err := kill(id); err != nil {
		return ch, err
	}
	ch.KilledAt = time.Now()
	// From before the kill: scalerd can take the replica out of the
	// upstream before the docker CLI has returned.
	if err := st.waitUpstreamRestored(ctx, ch.Requested, name, st.replicas, 3*time.Minute); err != nil {
		return ch, err
	}
	if err := st.waitReplaced(ctx, map[string]string{name: id}, st.replicas, 3*time.Minute); err != nil {
		return ch, err
	}
	ch.Converged = time.Now()
	ch.Note = "done: a replacement ready and in the upstream"
	return ch, nil
}

// waitUpstreamRestored waits until scalerd has reloaded nginx without the
// killed replica and then again with n replicas. The status alone cannot
// say so: until the reconcile that replaces the replica ends, it still
// shows the n ready replicas from before the kill.
func (st *scalerTarget) waitUpstreamRestored(ctx context.Context, since time.Time, killed string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		events, err := st.api.Events(ctx, st.web)
		if err == nil {
			var without time.Time
			for _, e := range events {
				names := upstreamNames(e.Message)
				if e.Reason == controllers.ReasonUpstreamUpdated && !e.LastTimestamp.Before(since) && !slices.Contains(names, killed) && len(names) < n {
					without = e.LastTimestamp
				}
			}
			for _, e := range events {
				if !without.IsZero() && e.Reason == controllers.ReasonUpstreamUpdated && e.LastTimestamp.After(without) && len(upstreamNames(e.Message)) == n {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s to leave the upstream and a replacement to join it", timeout, killed)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// victim picks the replica Kill kills: the second by name, so that it is
// never the only one.
func (st *scalerTarget) victim(ctx context.Context) (name, id, host string, err error) {
	cs := st.s.containers(st.web, v1alpha1.RoleApp)
	names := make([]string, 0, len(cs))
	for n := range cs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return "", "", "", fmt.Errorf("kill needs 2 replicas or more, there are %v", names)
	}
	name, id = names[1], cs[names[1]]
	host, err = bench.Docker(ctx, "inspect", "-f", "{{.Config.Hostname}}", id)
	return name, id, host, err
}

// ChangeLoadBalancer saves algorithm: round_robin, which scalerd applies
// with a reload of the same nginx container.
func (st *scalerTarget) ChangeLoadBalancer(ctx context.Context) (bench.Change, error) {
	st.algorithm = v1alpha1.AlgorithmRoundRobin
	lb := st.web + "-lb"
	ch := bench.Change{Commands: []string{st.saveCommand("loadBalancer.algorithm: round_robin")}, Requested: st.save()}
	deadline := time.Now().Add(time.Minute)
	for {
		conf, err := bench.Docker(ctx, "exec", lb, "cat", nginx.ConfigPath)
		if err == nil && strings.Contains(conf, "upstream ") && !strings.Contains(conf, `algorithm = "least_conn"`) {
			ch.Converged = time.Now()
			ch.Note = "done: nginx runs the new config (same container, reloaded)"
			return ch, nil
		}
		if time.Now().After(deadline) {
			return ch, errors.New("the load balancer's config still has least_conn after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// upstreamNames reads "upstream is now [a b c]".
func upstreamNames(msg string) []string {
	i, j := strings.IndexByte(msg, '['), strings.LastIndexByte(msg, ']')
	if i < 0 || j < i {
		return nil
	}
	return strings.Fields(msg[i+1 : j])
}

func derefSeconds(s *float64) string {
	if s == nil {
		return "never"
	}
	return fmt.Sprintf("%.2fs", *s)
}
