package engineproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

// ping asks the Engine behind host's socket for /_ping within d.
func ping(p *Proxy, d time.Duration) (string, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", strings.TrimPrefix(p.Host(), "unix://"))
	}}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://engine/_ping", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestProxyHangsAndResumes(t *testing.T) {
	testenv.RequireDocker(t)
	p := Start(t)
	if got, err := ping(p, 5*time.Second); err != nil || got != "OK" {
		t.Fatalf("ping through the proxy: %q, %v", got, err)
	}
	p.Hang()
	if got, err := ping(p, 300*time.Millisecond); err == nil {
		t.Fatalf("ping answered %q while the proxy hangs", got)
	}
	p.Resume()
	if got, err := ping(p, 5*time.Second); err != nil || got != "OK" {
		t.Fatalf("ping after resume: %q, %v", got, err)
	}
	p.Cut()
	if got, err := ping(p, 5*time.Second); err != nil || got != "OK" {
		t.Fatalf("ping after a cut: %q, %v", got, err)
	}
}
