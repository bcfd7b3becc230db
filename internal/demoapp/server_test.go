package demoapp

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func startServe(t *testing.T, h http.Handler, shutdownTimeout time.Duration) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, h, shutdownTimeout, logr.Discard()) }()
	t.Cleanup(cancel)
	return ln.Addr().String(), cancel, errc
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	app.cfg.MaxSlow = 10 * time.Second
	addr, cancel, done := startServe(t, app, 5*time.Second)

	type result struct {
		body string
		err  error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow?ms=700")
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inFlight <- result{string(b), err}
	}()
	time.Sleep(200 * time.Millisecond) // let the request reach the handler
	cancel()

	// The listener closes at once: new connections are refused while the
	// slow request is still being served.
	deadline := time.Now().Add(400 * time.Millisecond)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}

	r := <-inFlight
	if r.err != nil || !strings.Contains(r.body, `"slept_ms":700`) {
		t.Fatalf("in-flight request: body %q, err %v; want it completed", r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil after a clean drain", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

func TestServeGivesUpAfterShutdownTimeout(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	app.cfg.MaxSlow = 10 * time.Second
	addr, cancel, done := startServe(t, app, 300*time.Millisecond)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow?ms=5000")
		if err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "still in flight") {
			t.Fatalf("Serve returned %v, want a shutdown timeout error", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Serve took %s to give up, want about 300ms", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its shutdown timeout")
	}
}

func TestProbe(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	app.cfg.MaxSlow = 10 * time.Second
	addr, _, _ := startServe(t, app, time.Second)
	ctx := context.Background()

	if _, err := Probe(ctx, "http://"+addr+"/health", time.Second); err != nil {
		t.Errorf("Probe(/health) = %v, want nil", err)
	}
	if _, err := Probe(ctx, "http://"+addr+"/nope", time.Second); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("Probe(/nope) = %v, want a status 404 error", err)
	}
	start := time.Now()
	if _, err := Probe(ctx, "http://"+addr+"/slow?ms=3000", 200*time.Millisecond); err == nil {
		t.Error("Probe of a slow endpoint succeeded, want a timeout")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Probe took %s with a 200ms timeout", took)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := Probe(ctx, "http://"+closed+"/health", time.Second); err == nil {
		t.Error("Probe of a closed port succeeded")
	}
}
