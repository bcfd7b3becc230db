// Package sdnotify speaks systemd's notify protocol (sd_notify(3)) in plain
// Go, with no cgo and no libsystemd: a unit of Type=notify learns that
// scalerd is ready, that it is stopping, and that it is still alive
// (WatchdogSec=) from datagrams sent to $NOTIFY_SOCKET.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The messages scalerd sends; see sd_notify(3).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Status is the STATUS= message systemctl status shows.
func Status(s string) string { return "STATUS=" + s }

// Notifier sends to one notify socket. The zero of *Notifier (nil) is a
// notifier outside systemd: every Send is a no-op, so callers need no
// "are we under systemd" branches.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns the notifier of $NOTIFY_SOCKET, or nil when it is unset
// (scalerd started by hand, by a test, in a container). A path starting
// with '@' is an abstract socket (Linux), as systemd documents.
func FromEnv() (*Notifier, error) {
	return New(os.Getenv("NOTIFY_SOCKET"))
}

// New returns a notifier for socket, or nil when socket is empty.
func New(socket string) (*Notifier, error) {
	if socket == "" {
		return nil, nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: neither an absolute path nor an abstract socket ('@'); unset it or fix the unit", socket)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}, nil
}

// Send sends the newline-separated messages in one datagram. It is a no-op
// on a nil Notifier.
func (n *Notifier) Send(msgs ...string) error {
	if n == nil || len(msgs) == 0 {
		return nil
	}
	// A fresh unbound socket per datagram, as sd_notify does: nothing to
	// keep open or to re-open when systemd restarts.
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify socket %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(msgs, "\n"))); err != nil {
		return fmt.Errorf("notify socket %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval reads $WATCHDOG_USEC (and $WATCHDOG_PID, which must be
// this process when set). It returns 0 when systemd expects no pings.
func WatchdogInterval() (time.Duration, error) {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("WATCHDOG_PID=%q is not a number", pid)
		}
		if p != self {
			return 0, nil // meant for another process (our parent, say)
		}
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds; fix WatchdogSec= in the unit", usec)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// RunWatchdog sends WATCHDOG=1 every interval/2 while alive returns nil,
// until ctx ends. When alive fails, no ping is sent, so that systemd,
// after WatchdogSec, kills and restarts a daemon that is running but no
// longer doing its work; onFail (which may be nil) hears why, once per
// failing period. A nil Notifier or a zero interval returns at once.
func RunWatchdog(ctx context.Context, n *Notifier, interval time.Duration, alive func() error, onFail func(error)) {
	if n == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	failing := false
	for {
		err := alive()
		switch {
		case err == nil:
			failing = false
			if sendErr := n.Send(Watchdog); sendErr != nil && onFail != nil {
				onFail(sendErr)
			}
		case !failing:
			failing = true
			if onFail != nil {
				onFail(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrNotAlive is wrapped by the errors of a liveness check.
var ErrNotAlive = errors.New("not alive")
