package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/engine"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

// Defaults of scalerd's --engine-timeout and of the cap on Engine calls in
// flight.
const (
	DefaultEngineTimeout = 30 * time.Second
	DefaultMaxInFlight   = 32
)

// ErrEngineTimeout is what every Bounded call wraps when the Engine gave no
// answer within --engine-timeout: match it with errors.Is.
var ErrEngineTimeout = errors.New("the Docker Engine did not answer in time")

// TimeoutError says which Engine call got no answer, within what time, and
// which flag sets that time.
type TimeoutError struct {
	Op      string
	Timeout time.Duration
	// Queued is true when the call never reached the Engine: all the
	// slots for calls in flight stayed taken for the whole timeout.
	Queued      bool
	MaxInFlight int
}

func (e *TimeoutError) Error() string {
	if e.Queued {
		return fmt.Sprintf("%s: the Docker Engine did not answer within %s (scalerd --engine-timeout): all %d slots for Engine calls in flight stayed taken; check that dockerd responds (docker info) or raise --engine-timeout",
			e.Op, e.Timeout, e.MaxInFlight)
	}
	return fmt.Sprintf("%s: the Docker Engine did not answer within %s (scalerd --engine-timeout); check that dockerd responds (docker info) or raise --engine-timeout",
		e.Op, e.Timeout)
}

// Is makes errors.Is(err, ErrEngineTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrEngineTimeout }

// errDeadline is the cancel cause of a Bounded call's own deadline, telling
// it apart from the caller's.
var errDeadline = errors.New("engine call deadline")

// Bounded puts a deadline and a cap on concurrency on every Engine call of
// a Runtime, in one place, so that a dockerd that hangs costs each caller
// at most the timeout instead of wedging every reconcile worker and the
// resync. Calls that return a stream (Events, Logs, OpenSession,
// StartProcess) get the deadline for their setup only: the stream itself
// lives as long as its caller wants.
//
// A call is run aside and abandoned at its deadline, because some Engine
// calls do not watch their context once the connection is made (an exec
// attach hijacks it). The abandoned call keeps its slot until it actually
// returns, so a hung Engine holds at most MaxInFlight goroutines, and
// whatever it returns late (a stream, a session) is closed.
//
// Bounded also tracks whether the Engine answers, for /readyz: a call that
// timed out or a failed Ping makes it unhealthy, a call or Ping that got an
// answer makes it healthy again.
type Bounded struct {
	rt          *Runtime
	timeout     time.Duration
	maxInFlight int
	slots       chan struct{}

	mu     sync.Mutex
	down   bool
	reason string
	// answered is when the Engine last answered a call or a ping.
	answered time.Time
	onChange func(healthy bool, reason string)
}

var _ engine.Runtime = (*Bounded)(nil)

// NewBounded wraps rt. timeout bounds each call (a stop also gets its grace
// period); maxInFlight caps the calls in flight at once.
func NewBounded(rt *Runtime, timeout time.Duration, maxInFlight int) *Bounded {
	if timeout <= 0 {
		timeout = DefaultEngineTimeout
	}
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	return &Bounded{rt: rt, timeout: timeout, maxInFlight: maxInFlight, slots: make(chan struct{}, maxInFlight)}
}

// OnHealthChange sets a function called, synchronously, whenever the
// Engine turns unresponsive or answers again; scalerd logs it and records
// an event. It must not call back into b.
func (b *Bounded) OnHealthChange(f func(healthy bool, reason string)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onChange = f
}

// Healthy reports whether the Engine answered the last call or ping, and
// if not, why.
func (b *Bounded) Healthy() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.down, b.reason
}

// setHealth records the Engine's health. A timeout of a call that started
// at since counts only if the Engine answered nothing since: a call that
// was merely slow (a stuck command in an exec, a stop of a container that
// ignores signals) while others were answered does not make the Engine
// unhealthy, nor /readyz flap.
func (b *Bounded) setHealth(healthy bool, reason string, since time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if healthy {
		b.answered = time.Now()
	} else if b.answered.After(since) {
		return
	}
	if healthy == !b.down {
		if !healthy {
			b.reason = reason
		}
		return
	}
	b.down, b.reason = !healthy, reason
	if healthy {
		b.reason = ""
	}
	if b.onChange != nil {
		b.onChange(healthy, reason)
	}
}

// observe updates the Engine's health from the outcome of a call that
// started at since: its own timeout says the Engine hangs, an answer
// (success or an Engine error such as not found) says it answers. A call
// that waited for a slot and got none says nothing about the Engine: the
// calls in flight time out and report it themselves.
func (b *Bounded) observe(err error, since time.Time) {
	var te *TimeoutError
	switch {
	case err == nil, errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrConflict):
		b.setHealth(true, "", since)
	case errors.As(err, &te) && !te.Queued:
		b.setHealth(false, err.Error(), since)
	}
}

// Ping asks the Engine whether it answers, bounded by the timeout. It
// takes no slot: it is cheap, and must tell a hung Engine from one that is
// merely busy with MaxInFlight long stops.
func (b *Bounded) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, b.timeout, errDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.rt.client.Ping(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return b.wrapLate(ctx, "ping", err)
		}
		return nil
	case <-ctx.Done():
		return b.wrap(ctx, "ping", false, nil)
	}
}

// Watch pings the Engine every interval until ctx ends, updating Healthy,
// so that /readyz turns false while the Engine does not answer even when
// no reconcile calls it.
func (b *Bounded) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		err := b.Ping(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.setHealth(false, err.Error(), start)
		} else {
			b.setHealth(true, "", start)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wrap turns an error of a call whose deadline passed into a TimeoutError,
// keeping the caller's own cancellation as it is.
func (b *Bounded) wrap(ctx context.Context, op string, queued bool, err error) error {
	if ctx.Err() != nil && context.Cause(ctx) == errDeadline {
		return &TimeoutError{Op: op, Timeout: b.timeout, Queued: queued, MaxInFlight: b.maxInFlight}
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

// acquire takes a slot for a call, or gives up when ctx ends.
func (b *Bounded) acquire(ctx context.Context) bool {
	select {
	case b.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *Bounded) release() { <-b.slots }

// call runs fn within a slot and within the timeout plus extra. late
// disposes of a result that arrives after the call was abandoned.
func call[T any](b *Bounded, ctx context.Context, op string, extra time.Duration, fn func(context.Context) (T, error), late func(T)) (T, error) {
	var zero T
	start := time.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, b.timeout+extra, errDeadline)
	defer cancel()
	if !b.acquire(ctx) {
		return zero, b.wrap(ctx, op, true, nil)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer b.release()
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			r.err = b.wrapLate(ctx, op, r.err)
		}
		b.observe(r.err, start)
		return r.v, r.err
	case <-ctx.Done():
		err := b.wrap(ctx, op, false, nil)
		b.observe(err, start)
		go func() {
			if r := <-done; r.err == nil && late != nil {
				late(r.v)
			}
		}()
		return zero, err
	}
}

// wrapLate is wrap for an error fn returned itself: its context's deadline
// may have passed while the Engine was still busy.
func (b *Bounded) wrapLate(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && context.Cause(ctx) == errDeadline {
		return fmt.Errorf("%w (%v)", &TimeoutError{Op: op, Timeout: b.timeout, MaxInFlight: b.maxInFlight}, err)
	}
	return err
}

// open runs the setup of a stream within a slot and the timeout. Once fn
// returned, the deadline is lifted: the stream's context is the caller's
// until the returned cancel is called (by the stream's Close). A stream
// that comes back after the deadline is closed by late.
func open[T any](b *Bounded, ctx context.Context, op string, fn func(context.Context) (T, error), late func(T)) (T, context.CancelCauseFunc, error) {
	var zero T
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(b.timeout, func() { cancel(errDeadline) })
	if !b.acquire(ctx) {
		timer.Stop()
		err := b.wrap(ctx, op, true, nil)
		cancel(nil)
		return zero, nil, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer b.release()
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if timer.Stop() || r.err != nil {
			// Stopped in time, or failed either way.
			if r.err != nil {
				r.err = b.wrapLate(ctx, op, r.err)
				cancel(nil)
			}
			b.observe(r.err, start)
			if r.err != nil {
				return zero, nil, r.err
			}
			return r.v, cancel, nil
		}
		// The deadline fired as the setup finished: the stream's context
		// is cancelled already, so it is of no use.
		if late != nil {
			late(r.v)
		}
		err := b.wrap(ctx, op, false, nil)
		b.observe(err, start)
		return zero, nil, err
	case <-ctx.Done():
		timer.Stop()
		err := b.wrap(ctx, op, false, nil)
		b.observe(err, start)
		go func() {
			if r := <-done; r.err == nil && late != nil {
				late(r.v)
			}
		}()
		return zero, nil, err
	}
}

// run is call for a function with no result.
func (b *Bounded) run(ctx context.Context, op string, extra time.Duration, fn func(context.Context) error) error {
	_, err := call(b, ctx, op, extra, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, nil)
	return err
}

// InFlight is how many Engine calls hold a slot now, abandoned ones that
// the Engine has not answered yet included.
func (b *Bounded) InFlight() int { return len(b.slots) }

// Timeout is the bound of each call (--engine-timeout).
func (b *Bounded) Timeout() time.Duration { return b.timeout }

// Close releases the client's idle connections.
func (b *Bounded) Close() error { return b.rt.Close() }

// Capabilities makes no Engine call.
func (b *Bounded) Capabilities() engine.Capabilities { return b.rt.Capabilities() }

func (b *Bounded) ListManaged(ctx context.Context) ([]engine.Container, error) {
	return call(b, ctx, "list containers", 0, b.rt.ListManaged, nil)
}

func (b *Bounded) EnsureNetwork(ctx context.Context, name string) error {
	return b.run(ctx, "ensure network "+name, 0, func(ctx context.Context) error { return b.rt.EnsureNetwork(ctx, name) })
}

func (b *Bounded) CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	return call(b, ctx, "create container "+spec.Name, 0, func(ctx context.Context) (string, error) {
		return b.rt.CreateContainer(ctx, spec)
	}, nil)
}

func (b *Bounded) StartContainer(ctx context.Context, id string) error {
	return b.run(ctx, "start container "+id, 0, func(ctx context.Context) error { return b.rt.StartContainer(ctx, id) })
}

// StopContainer gets grace on top of the timeout: the Engine answers only
// once the container has stopped, SIGKILL after grace included. It holds
// its slot that long too; a replica that exits on SIGTERM returns it in
// moments, one that ignores SIGTERM only after grace.
func (b *Bounded) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	return b.run(ctx, "stop container "+id, grace, func(ctx context.Context) error { return b.rt.StopContainer(ctx, id, grace) })
}

func (b *Bounded) RemoveContainer(ctx context.Context, id string) error {
	return b.run(ctx, "remove container "+id, 0, func(ctx context.Context) error { return b.rt.RemoveContainer(ctx, id) })
}

func (b *Bounded) CopyFile(ctx context.Context, id, path string, content []byte) error {
	return b.run(ctx, "copy "+path+" to container "+id, 0, func(ctx context.Context) error {
		return b.rt.CopyFile(ctx, id, path, content)
	})
}

// Exec is bounded as a whole, the command's run included: what scalerd
// runs in its containers (nginx -t, health probes, the drain check) takes
// far less than the timeout, and a caller that needs less passes a shorter
// ctx.
func (b *Bounded) Exec(ctx context.Context, id string, cmd []string) (engine.ExecResult, error) {
	op := "exec in container " + id
	if len(cmd) > 0 {
		op = fmt.Sprintf("exec %q in container %s", cmd[0], id)
	}
	return call(b, ctx, op, 0, func(ctx context.Context) (engine.ExecResult, error) { return b.rt.Exec(ctx, id, cmd) }, nil)
}

func (b *Bounded) Stats(ctx context.Context, id string) (engine.Stats, error) {
	return call(b, ctx, "stats of container "+id, 0, func(ctx context.Context) (engine.Stats, error) { return b.rt.Stats(ctx, id) }, nil)
}

// LastProbe reads a container's newest health-check result.
func (b *Bounded) LastProbe(ctx context.Context, id string) (engine.ProbeResult, error) {
	return call(b, ctx, "inspect container "+id, 0, func(ctx context.Context) (engine.ProbeResult, error) { return b.rt.LastProbe(ctx, id) }, nil)
}

// ImageExists asks whether an image is on the Engine.
func (b *Bounded) ImageExists(ctx context.Context, ref string) (bool, error) {
	return call(b, ctx, "inspect image "+ref, 0, func(ctx context.Context) (bool, error) { return b.rt.ImageExists(ctx, ref) }, nil)
}

// RenameContainer renames a container.
func (b *Bounded) RenameContainer(ctx context.Context, id, name string) error {
	return b.run(ctx, "rename container "+id, 0, func(ctx context.Context) error { return b.rt.RenameContainer(ctx, id, name) })
}

// Version asks the Engine for its version, for `scalectl version`.
func (b *Bounded) Version(ctx context.Context) (EngineVersion, error) {
	return call(b, ctx, "engine version", 0, b.rt.Version, nil)
}

// OpenSession bounds the exec's creation and attach; the session then
// lives until Close.
func (b *Bounded) OpenSession(ctx context.Context, id string, cmd []string) (engine.Session, error) {
	s, cancel, err := open(b, ctx, "open session in container "+id, func(ctx context.Context) (engine.Session, error) {
		return b.rt.OpenSession(ctx, id, cmd)
	}, func(s engine.Session) { _ = s.Close() })
	if err != nil {
		return nil, err
	}
	return &boundedSession{Session: s, cancel: cancel}, nil
}

type boundedSession struct {
	engine.Session
	cancel context.CancelCauseFunc
}

func (s *boundedSession) Close() error {
	err := s.Session.Close()
	s.cancel(nil)
	return err
}

// Logs bounds the request until the Engine starts sending the log; the
// log, followed or not, is then read for as long as the caller wants.
func (b *Bounded) Logs(ctx context.Context, id string, o replicaio.LogOptions) (replicaio.LineReader, error) {
	lr, cancel, err := open(b, ctx, "logs of container "+id, func(ctx context.Context) (replicaio.LineReader, error) {
		return b.rt.Logs(ctx, id, o)
	}, func(lr replicaio.LineReader) { _ = lr.Close() })
	if err != nil {
		return nil, err
	}
	return &boundedLines{LineReader: lr, cancel: cancel}, nil
}

type boundedLines struct {
	replicaio.LineReader
	cancel context.CancelCauseFunc
}

func (l *boundedLines) Close() error {
	err := l.LineReader.Close()
	l.cancel(nil)
	return err
}

// StartProcess bounds the exec's creation and attach; the process's
// streams then last until it ends. Its Resize and ExitCode are Engine
// calls too, and bounded as such.
func (b *Bounded) StartProcess(ctx context.Context, id string, o replicaio.ExecOptions) (replicaio.Process, error) {
	p, cancel, err := open(b, ctx, "exec in container "+id, func(ctx context.Context) (replicaio.Process, error) {
		return b.rt.StartProcess(ctx, id, o)
	}, func(p replicaio.Process) { _ = p.Close() })
	if err != nil {
		return nil, err
	}
	return &boundedProcess{Process: p, b: b, cancel: cancel, container: id}, nil
}

type boundedProcess struct {
	replicaio.Process
	b         *Bounded
	cancel    context.CancelCauseFunc
	container string
}

func (p *boundedProcess) Resize(ctx context.Context, height, width uint) error {
	return p.b.run(ctx, "resize the terminal of an exec in container "+p.container, 0, func(ctx context.Context) error {
		return p.Process.Resize(ctx, height, width)
	})
}

// ExitCode is asked once the output ended, when the Engine records the
// exit within moments.
func (p *boundedProcess) ExitCode(ctx context.Context) (int, error) {
	return call(p.b, ctx, "exit code of an exec in container "+p.container, 0, p.Process.ExitCode, nil)
}

func (p *boundedProcess) Close() error {
	err := p.Process.Close()
	p.cancel(nil)
	return err
}

// Events bounds the request until the Engine starts the stream; the
// stream then runs until ctx ends or it breaks.
func (b *Bounded) Events(ctx context.Context) (<-chan engine.Event, <-chan error) {
	type stream struct {
		events <-chan engine.Event
		errs   <-chan error
	}
	// The Docker client returns once the Engine answered the request,
	// with the stream's error (a refusal) on errs.
	s, cancel, err := open(b, ctx, "event stream", func(ctx context.Context) (stream, error) {
		ev, errs := b.rt.Events(ctx)
		return stream{ev, errs}, nil
	}, nil)
	errc := make(chan error, 1)
	if err != nil {
		out := make(chan engine.Event)
		close(out)
		errc <- err
		return out, errc
	}
	out := make(chan engine.Event)
	go func() {
		defer cancel(nil)
		for ev := range s.events {
			select {
			case out <- ev:
			case <-ctx.Done():
			}
		}
		errc <- <-s.errs
		close(out)
	}()
	return out, errc
}
