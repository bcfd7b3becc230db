package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBadConfigExitsWithUsageCode(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{"PORT", "abc", `PORT: "abc" is not a port number`},
		{"PORT", "70000", `PORT: "70000" is not a port number`},
		{"SHUTDOWN_TIMEOUT", "later", "SHUTDOWN_TIMEOUT:"},
		{"LOG_FORMAT", "xml", "LOG_FORMAT:"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			var stderr bytes.Buffer
			if code := run(nil, io.Discard, &stderr); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestUnknownArgument(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"serve-please"}, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "usage:") {
		t.Errorf("run(serve-please) = %d, %q; want %d and the usage", code, stderr.String(), exitUsage)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer healthy.Close()
	_, port, _ := net.SplitHostPort(healthy.Listener.Addr().String())

	var stdout, stderr bytes.Buffer
	t.Setenv("PORT", port)
	if code := healthcheck(nil, &stdout, &stderr); code != exitOK || stdout.String() != `{"status":"ok"}` {
		t.Errorf("healthcheck of a healthy server = %d (%s), printed %q; want 0 and its answer", code, stderr.String(), stdout.String())
	}
	stderr.Reset()
	if code := healthcheck([]string{"--url", healthy.URL + "/nope"}, io.Discard, &stderr); code != exitFailure || !strings.Contains(stderr.String(), "404") {
		t.Errorf("healthcheck of a 404 = %d (%s), want 1 naming the status", code, stderr.String())
	}
	t.Setenv("PORT", "nope")
	if code := healthcheck(nil, io.Discard, &stderr); code != exitUsage {
		t.Errorf("healthcheck with PORT=nope = %d, want %d", code, exitUsage)
	}
}
