package daemon

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

// chanLines is a followed stream: lines as the test sends them, io.EOF
// when it closes the channel.
type chanLines struct {
	ch  chan replicaio.Line
	ctx context.Context
}

func (c chanLines) Next() (replicaio.Line, error) {
	select {
	case l, ok := <-c.ch:
		if !ok {
			return replicaio.Line{}, io.EOF
		}
		return l, nil
	case <-c.ctx.Done():
		return replicaio.Line{}, c.ctx.Err()
	}
}
func (chanLines) Close() error { return nil }

type sliceLines []replicaio.Line

func (s *sliceLines) Next() (replicaio.Line, error) {
	if len(*s) == 0 {
		return replicaio.Line{}, io.EOF
	}
	l := (*s)[0]
	*s = (*s)[1:]
	return l, nil
}
func (*sliceLines) Close() error { return nil }

func logContainer(id, spec, role, n, state string) controllers.Container {
	name := spec + "-" + n
	return controllers.Container{ID: id, Name: name, State: state,
		Labels: map[string]string{v1alpha1.LabelSpec: spec, v1alpha1.LabelRole: role, v1alpha1.LabelReplica: n}}
}

// fakeLogs is the engine's side: history per container, a channel per
// followed container, and a record of how each was opened.
type fakeLogs struct {
	mu      sync.Mutex
	history map[string][]replicaio.Line
	follow  map[string]chan replicaio.Line
	opened  []string
	list    []controllers.Container
}

func (f *fakeLogs) open(ctx context.Context, id string, o replicaio.LogOptions) (replicaio.LineReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	desc := id + " history"
	if o.Follow {
		desc = id + " follow"
	}
	if !o.Since.IsZero() {
		desc += " since " + o.Since.UTC().Format("15:04:05")
	}
	if !o.Until.IsZero() {
		desc += " until " + o.Until.UTC().Format("15:04:05")
	}
	f.opened = append(f.opened, desc)
	if o.Follow {
		ch, ok := f.follow[id]
		if !ok {
			return nil, controllers.ErrNotFound
		}
		return chanLines{ch: ch, ctx: ctx}, nil
	}
	lines := sliceLines(append([]replicaio.Line(nil), f.history[id]...))
	return &lines, nil
}

func (f *fakeLogs) listNow(context.Context) ([]controllers.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]controllers.Container(nil), f.list...), nil
}

func TestLogFollowerMergesHistoryThenFollowsJoinsAndLeaves(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	now := sec(10)
	web1 := logContainer("id1", "web", v1alpha1.RoleApp, "1", controllers.StateRunning)
	web2 := logContainer("id2", "web", v1alpha1.RoleApp, "2", controllers.StateRunning)
	web3 := logContainer("id3", "web", v1alpha1.RoleApp, "3", controllers.StateRunning)
	lb := logContainer("idlb", "web", v1alpha1.RoleLB, "0", controllers.StateRunning)
	lb.Name = "web-lb"
	other := logContainer("idx", "api", v1alpha1.RoleApp, "1", controllers.StateRunning)
	initial := []controllers.Container{web2, other, lb, web1}
	f := &fakeLogs{
		history: map[string][]replicaio.Line{
			"id1": {{Time: sec(1), Text: "one"}, {Time: sec(3), Text: "three"}},
			"id2": {{Time: sec(2), Text: "two"}},
		},
		follow: map[string]chan replicaio.Line{"id1": make(chan replicaio.Line), "id2": make(chan replicaio.Line), "id3": make(chan replicaio.Line, 1)},
		list:   initial,
	}
	follower := &logFollower{open: f.open, list: f.listNow, sel: logSelector{spec: "web"},
		opts: controlapi.LogsOptions{Tail: -1, Follow: true}, poll: 5 * time.Millisecond, now: func() time.Time { return now }}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	records := make(chan controlapi.LogRecord, 100)
	done := make(chan error, 1)
	go func() {
		done <- follower.run(ctx, initial, func(r controlapi.LogRecord) error { records <- r; return nil })
	}()
	next := func() string {
		t.Helper()
		select {
		case r := <-records:
			switch {
			case r.Event != "":
				return r.Event + " " + r.Replica
			case r.Error != "":
				return "error " + r.Replica + ": " + r.Error
			}
			return r.Replica + ": " + r.Line
		case <-time.After(10 * time.Second):
			t.Fatal("no record within 10s")
			return ""
		}
	}
	var got []string
	for range 3 {
		got = append(got, next())
	}
	if want := "web-1: one|web-2: two|web-1: three"; strings.Join(got, "|") != want {
		t.Fatalf("history %q, want %q", strings.Join(got, "|"), want)
	}

	// A line at the boundary was history: the followed stream drops it.
	f.follow["id1"] <- replicaio.Line{Time: now, Text: "shown already"}
	f.follow["id1"] <- replicaio.Line{Time: sec(11), Text: "eleven"}
	if r := next(); r != "web-1: eleven" {
		t.Fatalf("followed %q", r)
	}
	// web-3 appears in the list: it joins, then its lines come.
	f.follow["id3"] <- replicaio.Line{Time: sec(12), Text: "hello from three"}
	f.mu.Lock()
	f.list = append(f.list, web3)
	f.mu.Unlock()
	if r := next(); r != "joined web-3" {
		t.Fatalf("want web-3 to join, got %q", r)
	}
	if r := next(); r != "web-3: hello from three" {
		t.Fatalf("want web-3's line, got %q", r)
	}
	// web-2's container stops: its stream ends and it leaves.
	close(f.follow["id2"])
	if r := next(); r != "left web-2" {
		t.Fatalf("want web-2 to leave, got %q", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run ended with %v", err)
	}
	f.mu.Lock()
	opened := strings.Join(f.opened, "|")
	f.mu.Unlock()
	for _, want := range []string{"id1 history until 03:00:10", "id1 follow since 03:00:10", "id3 follow"} {
		if !strings.Contains(opened, want) {
			t.Errorf("opened %q, missing %q", opened, want)
		}
	}
	if strings.Contains(opened, "idx") || strings.Contains(opened, "idlb") {
		t.Errorf("opened another spec's or the load balancer's log: %q", opened)
	}
}

func TestLogSelector(t *testing.T) {
	lb := logContainer("idlb", "web", v1alpha1.RoleLB, "0", controllers.StateRunning)
	lb.Name = "web-lb"
	all := []controllers.Container{
		logContainer("id2", "web", v1alpha1.RoleApp, "2", controllers.StateRunning),
		logContainer("id10", "web", v1alpha1.RoleApp, "10", controllers.StateRunning),
		lb,
		logContainer("id1", "web", v1alpha1.RoleApp, "1", controllers.StateExited),
		logContainer("idx", "webby", v1alpha1.RoleApp, "1", controllers.StateRunning),
	}
	names := func(cs []controllers.Container) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		sel  logSelector
		want string
	}{
		{logSelector{spec: "web"}, "web-1,web-2,web-10"},
		{logSelector{spec: "web", lb: true}, "web-1,web-2,web-10,web-lb"},
		{logSelector{spec: "web", names: []string{"web-lb"}}, "web-lb"},
		{logSelector{spec: "web", names: []string{"web-2"}, lb: true}, "web-2,web-lb"},
	} {
		if got := names(tc.sel.pick(all)); got != tc.want {
			t.Errorf("%+v picked %s, want %s", tc.sel, got, tc.want)
		}
	}
	err := logSelector{spec: "web", names: []string{"web-9"}}.check(all)
	if !errors.Is(err, controlapi.ErrNotFound) || !strings.Contains(err.Error(), "its replicas: web-1, web-10, web-2, web-lb") {
		t.Errorf("check = %v", err)
	}
}

func TestExecTargetPicksTheFirstReadyReplica(t *testing.T) {
	spec := &v1alpha1.ScaleSpec{Metadata: v1alpha1.ObjectMeta{Name: "web"},
		Spec: v1alpha1.Spec{Template: v1alpha1.Template{HealthCheck: &v1alpha1.HealthCheck{Command: []string{"true"}}}}}
	starting := logContainer("id1", "web", v1alpha1.RoleApp, "1", controllers.StateRunning)
	starting.Health = controllers.HealthStarting
	healthy := logContainer("id2", "web", v1alpha1.RoleApp, "2", controllers.StateRunning)
	healthy.Health = controllers.HealthHealthy
	exited := logContainer("id3", "web", v1alpha1.RoleApp, "3", controllers.StateExited)
	all := []controllers.Container{exited, healthy, starting}
	if c, err := execTarget(spec, all, ""); err != nil || c.Name != "web-2" {
		t.Errorf("default target %s, %v; want web-2, the first ready", c.Name, err)
	}
	if c, err := execTarget(spec, all, "web-1"); err != nil || c.Name != "web-1" {
		t.Errorf("named target %s, %v", c.Name, err)
	}
	if _, err := execTarget(spec, all, "web-3"); !errors.Is(err, controlapi.ErrInvalid) || !strings.Contains(err.Error(), "is exited") {
		t.Errorf("exited target: %v", err)
	}
	if _, err := execTarget(spec, all, "web-7"); !errors.Is(err, controlapi.ErrNotFound) {
		t.Errorf("missing target: %v", err)
	}
	if _, err := execTarget(spec, []controllers.Container{starting}, ""); !errors.Is(err, controlapi.ErrInvalid) || !strings.Contains(err.Error(), "no ready replica") {
		t.Errorf("none ready: %v", err)
	}
}
