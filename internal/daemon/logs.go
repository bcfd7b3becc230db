package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

const (
	// maxLogStreams bounds the Engine log streams one `scalectl logs`
	// holds open at once.
	maxLogStreams = 64
	// logPollInterval is how often following re-lists the containers to
	// find replicas that joined or came back.
	logPollInterval = time.Second
	// followBuffer is how many lines the followed streams may have read
	// ahead of the client.
	followBuffer = 64
)

// logOpener is the engine adapter's log call.
type logOpener interface {
	Logs(ctx context.Context, id string, o replicaio.LogOptions) (replicaio.LineReader, error)
}

func (b *backend) Logs(ctx context.Context, name string, opts controlapi.LogsOptions) (controlapi.LogStream, error) {
	opener, ok := b.runtime.(logOpener)
	if !ok {
		return nil, errors.New("this engine adapter does not read logs")
	}
	spec, err := b.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if opts.LoadBalancer && spec.Spec.LoadBalancer == nil {
		return nil, fmt.Errorf("%w: scalespec %q has no load balancer; drop --lb", controlapi.ErrInvalid, name)
	}
	all, err := b.runtime.ListManaged(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	sel := logSelector{spec: name, names: opts.Replicas, lb: opts.LoadBalancer}
	if err := sel.check(all); err != nil {
		return nil, err
	}
	f := &logFollower{open: opener.Logs, list: b.runtime.ListManaged, sel: sel, opts: opts, poll: logPollInterval, now: time.Now}
	return func(ctx context.Context, emit func(controlapi.LogRecord) error) error {
		return f.run(ctx, all, emit)
	}, nil
}

// logSelector picks the containers whose logs are shown: the app replicas
// of one spec, its load balancer with lb, or the ones named. It only ever
// sees what ListManaged returned, so only this instance's containers.
type logSelector struct {
	spec  string
	names []string
	lb    bool
}

func (s logSelector) match(c controllers.Container) bool {
	if c.Labels[v1alpha1.LabelSpec] != s.spec {
		return false
	}
	role := c.Labels[v1alpha1.LabelRole]
	if s.lb && role == v1alpha1.RoleLB {
		return true
	}
	if len(s.names) > 0 {
		return slices.Contains(s.names, c.Name)
	}
	return role == v1alpha1.RoleApp
}

// pick returns the matching containers, app replicas by number, then the
// load balancer: the order lines of the same instant keep.
func (s logSelector) pick(all []controllers.Container) []controllers.Container {
	var out []controllers.Container
	for _, c := range all {
		if s.match(c) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return replicaOrder(out[i]) < replicaOrder(out[j]) })
	return out
}

// replicaOrder sorts app replicas by number and the load balancer last.
func replicaOrder(c controllers.Container) int {
	if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
		return 1 << 30
	}
	n, err := strconv.Atoi(c.Labels[v1alpha1.LabelReplica])
	if err != nil {
		return 1<<30 - 1
	}
	return n
}

// check fails for a replica named that the spec does not have, naming the
// ones it has, and for more containers than one call may follow.
func (s logSelector) check(all []controllers.Container) error {
	var have []string
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] == s.spec {
			have = append(have, c.Name)
		}
	}
	sort.Strings(have)
	for _, n := range s.names {
		if !slices.Contains(have, n) {
			return fmt.Errorf("%w: scalespec %q has no replica %q; its replicas: %s", controlapi.ErrNotFound, s.spec, n, listOrNone(have))
		}
	}
	if n := len(s.pick(all)); n > maxLogStreams {
		return fmt.Errorf("%w: scalespec %q has %d containers; logs reads at most %d at once: pick some with --replica",
			controlapi.ErrInvalid, s.spec, n, maxLogStreams)
	}
	return nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// logFollower streams the logs of the selected containers: first what
// they wrote until now, merged in time order; then, following, new lines
// as they come, with replicas that join (a scale-up, a rollout's new
// replicas, a replacement) and leave (their container stopped).
type logFollower struct {
	open func(ctx context.Context, id string, o replicaio.LogOptions) (replicaio.LineReader, error)
	list func(ctx context.Context) ([]controllers.Container, error)
	sel  logSelector
	opts controlapi.LogsOptions
	poll time.Duration
	now  func() time.Time
}

func lineRecord(replica string, l replicaio.Line) controlapi.LogRecord {
	return controlapi.LogRecord{Replica: replica, Time: l.Time, Stream: l.Stream, Line: l.Text}
}

func (f *logFollower) run(ctx context.Context, initial []controllers.Container, emit func(controlapi.LogRecord) error) error {
	start := f.now()
	picked := f.sel.pick(initial)
	history := replicaio.LogOptions{Since: f.opts.Since, Tail: f.opts.Tail}
	if f.opts.Follow {
		// History ends now, and following starts from now: every line
		// is in one part or the other, and each part is exact.
		history.Until = start
	}
	var sources []replicaio.Source
	for _, c := range picked {
		if c.State == controllers.StateCreated {
			continue // never started: no log yet
		}
		rd, err := f.open(ctx, c.ID, history)
		if err != nil {
			if errors.Is(err, controllers.ErrNotFound) {
				continue // removed since the list
			}
			if err := emit(controlapi.LogRecord{Replica: c.Name, Error: err.Error()}); err != nil {
				return err
			}
			continue
		}
		sources = append(sources, replicaio.Source{Replica: c.Name, Lines: rd})
	}
	var emitErr error
	err := replicaio.Merge(sources,
		func(replica string, l replicaio.Line) error { return emit(lineRecord(replica, l)) },
		func(replica string, err error) {
			if emitErr == nil && ctx.Err() == nil {
				emitErr = emit(controlapi.LogRecord{Replica: replica, Error: err.Error()})
			}
		})
	if err != nil || emitErr != nil || !f.opts.Follow {
		return errors.Join(err, emitErr)
	}
	return f.follow(ctx, start, picked, emit)
}

// tracked is one container seen while following.
type tracked struct {
	name string
	// last is the time of its last line shown: a stream that comes back
	// starts after it.
	last time.Time
	// joined: its log was (or is being) shown; active: a stream is open.
	joined, active bool
}

// followed is a line of one container's stream, or its end (done).
type followed struct {
	id   string
	line replicaio.Line
	done bool
	err  error
}

func (f *logFollower) follow(ctx context.Context, start time.Time, initial []controllers.Container, emit func(controlapi.LogRecord) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan followed, followBuffer)
	active := 0
	// stream follows one container from since, dropping lines up to
	// since: the Engine's bound is inclusive and those were shown.
	stream := func(id string, since time.Time) {
		active++
		go func() {
			send := func(m followed) bool {
				select {
				case lines <- m:
					return true
				case <-ctx.Done():
					return false
				}
			}
			rd, err := f.open(ctx, id, replicaio.LogOptions{Since: since, Tail: -1, Follow: true})
			if err != nil {
				send(followed{id: id, done: true, err: err})
				return
			}
			defer rd.Close()
			for {
				l, err := rd.Next()
				if err != nil {
					send(followed{id: id, done: true, err: err})
					return
				}
				if !since.IsZero() && !l.Time.After(since) {
					continue
				}
				if !send(followed{id: id, line: l}) {
					return
				}
			}
		}()
	}

	seen := map[string]*tracked{}
	for _, c := range initial {
		t := &tracked{name: c.Name, last: start, joined: c.State != controllers.StateCreated}
		seen[c.ID] = t
		if c.State == controllers.StateRunning {
			t.active = true
			stream(c.ID, start)
		}
	}
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	overLimit := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-lines:
			t := seen[m.id]
			if !m.done {
				t.last = m.line.Time
				if err := emit(lineRecord(t.name, m.line)); err != nil {
					return err
				}
				continue
			}
			t.active = false
			active--
			if m.err != nil && !errors.Is(m.err, io.EOF) && !errors.Is(m.err, controllers.ErrNotFound) && ctx.Err() == nil {
				if err := emit(controlapi.LogRecord{Replica: t.name, Error: m.err.Error()}); err != nil {
					return err
				}
			}
			if err := emit(controlapi.LogRecord{Replica: t.name, Time: f.now(), Event: controlapi.LogLeft}); err != nil {
				return err
			}
		case <-tick.C:
			all, err := f.list(ctx)
			if err != nil {
				continue // the Engine hiccuped; the next tick tries again
			}
			for _, c := range f.sel.pick(all) {
				t := seen[c.ID]
				if t == nil {
					t = &tracked{name: c.Name}
					seen[c.ID] = t
				}
				if t.active || c.State == controllers.StateCreated {
					continue
				}
				// A new container with a log, or one that left and runs
				// again (restarted, or its stream broke).
				if t.joined && c.State != controllers.StateRunning {
					continue
				}
				if active >= maxLogStreams {
					if !overLimit {
						overLimit = true
						if err := emit(controlapi.LogRecord{Replica: c.Name, Error: fmt.Sprintf("not followed: logs follows at most %d containers at once", maxLogStreams)}); err != nil {
							return err
						}
					}
					continue
				}
				t.joined, t.active = true, true
				if err := emit(controlapi.LogRecord{Replica: c.Name, Time: f.now(), Event: controlapi.LogJoined}); err != nil {
					return err
				}
				stream(c.ID, t.last)
			}
		}
	}
}
