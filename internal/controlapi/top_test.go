package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/testenv"
)

// Top answers one report per known spec and echoes the Redis option in
// RequestsFrom, so that the test sees what travelled.
func (m *memBackend) Top(_ context.Context, name string, opts TopOptions) ([]TopReport, error) {
	if name != "" {
		if _, ok := m.replicas[name]; !ok {
			return nil, fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
		}
		return []TopReport{{Spec: name, RequestsFrom: opts.Redis}}, nil
	}
	var out []TopReport
	for n := range m.replicas {
		out = append(out, TopReport{Spec: n, RequestsFrom: opts.Redis})
	}
	return out, nil
}

func TestTopOverTheWire(t *testing.T) {
	sock := filepath.Join(testenv.PrivateDir(t), "s.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(&memBackend{replicas: map[string]int32{"web": 2, "api": 1}}, logr.Discard())}
	go srv.Serve(l)
	defer srv.Close()
	c := NewClient(sock)
	ctx := context.Background()

	one, err := c.Top(ctx, "web", TopOptions{Redis: "cache one"})
	if err != nil || len(one) != 1 || one[0].Spec != "web" || one[0].RequestsFrom != "cache one" {
		t.Errorf("top web = %+v, %v", one, err)
	}
	all, err := c.Top(ctx, "", TopOptions{})
	if err != nil || len(all) != 2 {
		t.Errorf("top = %+v, %v", all, err)
	}
	if _, err := c.Top(ctx, "nope", TopOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("top of a missing spec: %v, want ErrNotFound", err)
	}
}
