package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/sdnotify"
)

// maxReconcile is how long one reconcile may run before the watchdog calls
// the loop wedged. Reconciles return while a rollout waits (they requeue),
// so even a drain plus a stop grace period stays well below it.
const maxReconcile = 5 * time.Minute

// service is what systemd (or any supervisor) sees of scalerd: READY=1
// after the first full resync, WATCHDOG=1 while the daemon works, STOPPING=1
// on the way out, and SIGHUP re-reading the spec directory. It is kept out
// of Run so that Run reads as the wiring it is.
type service struct {
	log      logr.Logger
	notifier *sdnotify.Notifier
	// watchdog is systemd's WatchdogSec (0: no pings expected).
	watchdog time.Duration
	// synced is closed after the first full resync.
	synced <-chan struct{}
	// oldestReconcile is when the longest-running reconcile began.
	oldestReconcile func() time.Time
	// pingEngine returns nil when the Engine answers.
	pingEngine func(context.Context) error
	// reload re-reads the spec directory (SIGHUP).
	reload func()
	now    func() time.Time
}

// newService reads NOTIFY_SOCKET and WATCHDOG_USEC; outside systemd the
// notifier is nil and every message a no-op.
func newService(log logr.Logger, synced <-chan struct{}, oldestReconcile func() time.Time,
	pingEngine func(context.Context) error, reload func()) (*service, error) {
	n, err := sdnotify.FromEnv()
	if err != nil {
		return nil, err
	}
	wd, err := sdnotify.WatchdogInterval()
	if err != nil {
		return nil, err
	}
	return &service{log: log, notifier: n, watchdog: wd, synced: synced, oldestReconcile: oldestReconcile,
		pingEngine: pingEngine, reload: reload, now: time.Now}, nil
}

// run serves until ctx ends; call stopping after it.
func (s *service) run(ctx context.Context, readyStatus string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go s.handleHangup(ctx, hup)
	select {
	case <-s.synced:
	case <-ctx.Done():
		return
	}
	if err := s.notifier.Send(sdnotify.Ready, sdnotify.Status(readyStatus)); err != nil {
		s.log.Error(err, "telling systemd scalerd is ready")
	}
	sdnotify.RunWatchdog(ctx, s.notifier, s.watchdog, s.alive, func(err error) {
		s.log.Error(err, "withholding the watchdog ping: systemd restarts scalerd unless this clears", "watchdogSec", s.watchdog)
	})
}

// stopping tells systemd the daemon is on its way out, so that a stop
// taking a few seconds is not mistaken for a hang.
func (s *service) stopping() {
	if err := s.notifier.Send(sdnotify.Stopping, sdnotify.Status("stopping; containers keep running")); err != nil {
		s.log.Error(err, "telling systemd scalerd stops")
	}
}

// alive is the watchdog's liveness check: the Engine answers within a
// quarter of the watchdog interval, and no reconcile has been running for
// longer than maxReconcile.
func (s *service) alive() error {
	timeout := s.watchdog / 4
	if timeout <= 0 || timeout > 10*time.Second {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return checkAlive(ctx, s.now(), s.oldestReconcile(), s.pingEngine)
}

// checkAlive is alive without its clock and timeout, for the tests.
func checkAlive(ctx context.Context, now, oldestReconcile time.Time, pingEngine func(context.Context) error) error {
	if !oldestReconcile.IsZero() && now.Sub(oldestReconcile) > maxReconcile {
		return fmt.Errorf("%w: a reconcile has been running for %s (longer than %s): the reconcile loop is wedged",
			sdnotify.ErrNotAlive, now.Sub(oldestReconcile).Round(time.Second), maxReconcile)
	}
	errc := make(chan error, 1)
	go func() { errc <- pingEngine(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("%w: the Docker Engine does not answer: %v", sdnotify.ErrNotAlive, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: the Docker Engine does not answer: %v", sdnotify.ErrNotAlive, ctx.Err())
	}
}

// socketGroupID resolves --socket-group (a name or a number) to a gid, -1
// when unset. The systemd unit runs scalerd with --socket-group scaler so
// that the scaler group's members use scalectl without root.
func socketGroupID(group string) (int, error) {
	if group == "" {
		return -1, nil
	}
	// A number is taken as is: the scalerd:dev image (FROM scratch) has
	// no /etc/group to look a name up in.
	if gid, err := strconv.Atoi(group); err == nil && gid >= 0 {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("--socket-group %s: no such group; create it (groupadd --system %s), pass a numeric gid, or drop the flag", group, group)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("--socket-group %s: gid %q is not a number", group, g.Gid)
	}
	return gid, nil
}

// handleHangup re-reads the spec directory on SIGHUP, as daemons do: the
// watch already sees edits, but a file system that sends no events (some
// bind mounts, NFS) or an operator who wants to be sure can ask for it.
// hup is registered before the goroutine starts, so that no SIGHUP kills
// the daemon once run has begun.
func (s *service) handleHangup(ctx context.Context, hup chan os.Signal) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("SIGHUP: re-reading the spec directory")
			s.reload()
			s.log.Info("SIGHUP: spec directory re-read")
		}
	}
}
