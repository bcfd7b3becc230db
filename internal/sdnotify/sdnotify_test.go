package sdnotify

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/sdnotify/sdnotifytest"
)

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram within 5s")
		return ""
	}
}

func TestSendWritesOneDatagramOfNewlineSeparatedMessages(t *testing.T) {
	path, ch := sdnotifytest.Listen(t)
	t.Setenv("NOTIFY_SOCKET", path)
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(Ready, Status("serving")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch); got != "READY=1\nSTATUS=serving" {
		t.Errorf("datagram = %q", got)
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "@scaler-sdnotify-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Skipf("abstract unix sockets unavailable here: %v", err)
	}
	defer conn.Close()
	n, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(Stopping); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := conn.Read(buf)
	if err != nil || string(buf[:k]) != "STOPPING=1" {
		t.Errorf("read %q, %v; want STOPPING=1", buf[:k], err)
	}
}

func TestNoSocketIsANoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := FromEnv()
	if err != nil || n != nil {
		t.Fatalf("FromEnv = %v, %v; want nil, nil", n, err)
	}
	if err := n.Send(Ready); err != nil {
		t.Errorf("Send on nil = %v", err)
	}
	if _, err := New("relative/path"); err == nil {
		t.Error("a relative NOTIFY_SOCKET was accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		wantErr   bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"30000000", "42", 30 * time.Second, false},
		{"30000000", "43", 0, false}, // another process's
		{"0", "", 0, true},
		{"abc", "", 0, true},
		{"30000000", "x", 0, true},
	} {
		got, err := watchdogInterval(c.usec, c.pid, 42)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("watchdogInterval(%q, %q) = %v, %v; want %v, error %v", c.usec, c.pid, got, err, c.want, c.wantErr)
		}
	}
}

// Pings come at half the interval while alive passes, and stop as soon
// as it fails: systemd then restarts the daemon.
func TestWatchdogPingsOnlyWhileAlive(t *testing.T) {
	path, ch := sdnotifytest.Listen(t)
	n, _ := New(path)
	var healthy atomic.Bool
	healthy.Store(true)
	failures := make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go RunWatchdog(ctx, n, 40*time.Millisecond, func() error {
		if healthy.Load() {
			return nil
		}
		return ErrNotAlive
	}, func(err error) { failures <- err })

	for range 3 {
		if got := recv(t, ch); got != Watchdog {
			t.Fatalf("datagram = %q; want %s", got, Watchdog)
		}
	}
	healthy.Store(false)
	if err := <-failures; !errors.Is(err, ErrNotAlive) {
		t.Fatalf("onFail got %v", err)
	}
	// Drain a ping that may have raced the switch, then expect silence.
	time.Sleep(30 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	select {
	case m := <-ch:
		t.Fatalf("got %q while not alive", m)
	case <-time.After(200 * time.Millisecond):
	}
	if len(failures) != 0 {
		t.Errorf("onFail called again during one failing period: %v", <-failures)
	}
	healthy.Store(true)
	if got := recv(t, ch); got != Watchdog {
		t.Fatalf("after recovery got %q; want %s", got, Watchdog)
	}
}
