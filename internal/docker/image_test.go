package docker

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/docker/docker/api/types/image"

	"github.com/scaler-dev/scaler/engine"
)

func TestImageExistsFake(t *testing.T) {
	r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
		"/images/scaler-nginx:dev/json": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(t, w, image.InspectResponse{ID: "sha256:abc"})
		},
		"/images/scaler-ngnix:dev/json": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such image: scaler-ngnix:dev"}`))
		},
		"/images/broken:dev/json": func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"boom"}`, http.StatusInternalServerError)
		},
	})
	ctx := context.Background()
	if ok, err := r.ImageExists(ctx, "scaler-nginx:dev"); !ok || err != nil {
		t.Errorf("present image: %v, %v", ok, err)
	}
	if ok, err := r.ImageExists(ctx, "scaler-ngnix:dev"); ok || err != nil {
		t.Errorf("missing image: %v, %v; want false and no error", ok, err)
	}
	if _, err := r.ImageExists(ctx, "broken:dev"); err == nil {
		t.Error("an Engine failure must be an error, not a missing image")
	}
}

func TestRenameContainerConflictFake(t *testing.T) {
	r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
		"/containers/c1/rename": func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Query().Get("name") != "web-lb" {
				t.Errorf("rename to %q", req.URL.Query().Get("name"))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"Conflict. The container name \"/web-lb\" is already in use"}`))
		},
	})
	err := r.RenameContainer(context.Background(), "c1", "web-lb")
	if !errors.Is(err, engine.ErrConflict) {
		t.Errorf("rename onto a taken name: %v, want ErrConflict", err)
	}
}

func TestCreateConfigHostnameOverridesName(t *testing.T) {
	cfg, _, _, err := createConfig(engine.ContainerSpec{Name: "web-lb-1a2b3c4d", Hostname: "web-lb", Image: "scaler-nginx:dev"}, engine.Capabilities{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "web-lb" {
		t.Errorf("hostname = %q, want web-lb: a replacement load balancer still answers X-Served-By: web-lb", cfg.Hostname)
	}
}
