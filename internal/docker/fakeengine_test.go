package docker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/go-logr/logr"
)

// fakeEngine serves the Engine API endpoints a test names, behind the
// version negotiation a real Engine does. It lets a test produce what a
// real Engine only does by accident: a failing event stream, an old or new
// API version.
func fakeEngine(t *testing.T, apiVersion string, routes map[string]http.HandlerFunc) *Runtime {
	t.Helper()
	return fakeEngineWith(t, apiVersion, routes, nil)
}

// fakeEngineWith is fakeEngine with middleware around every request, the
// pings included (a test makes the whole Engine hang with it).
func fakeEngineWith(t *testing.T, apiVersion string, routes map[string]http.HandlerFunc, middleware func(http.Handler) http.Handler) *Runtime {
	t.Helper()
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", apiVersion)
			w.Header().Set("Ostype", "linux")
			_, _ = w.Write([]byte("OK"))
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v"+apiVersion)
		if h, ok := routes[path]; ok {
			h(w, r)
			return
		}
		t.Errorf("fake engine: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, `{"message":"not faked"}`, http.StatusNotImplemented)
	})
	if middleware != nil {
		handler = middleware(handler)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cli, err := client.NewClientWithOpts(
		client.WithHost("tcp://"+srv.Listener.Addr().String()),
		client.WithHTTPClient(srv.Client()),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRuntime(context.Background(), cli, logr.Discard(), fakeInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// fakeInstance is the scalerd instance of every fake-engine Runtime.
const fakeInstance = "fake"

func writeJSON(t *testing.T, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Error(err)
	}
}

func TestCapabilitiesFollowAPIVersion(t *testing.T) {
	for version, want := range map[string]bool{"1.41": false, "1.43": false, "1.44": true, "1.47": true} {
		r := fakeEngine(t, version, nil)
		caps := r.Capabilities()
		if caps.APIVersion != version || caps.HealthStartInterval != want {
			t.Errorf("engine API %s: got %+v, want HealthStartInterval=%v", version, caps, want)
		}
	}
}

func TestNewUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there now
	t.Setenv("DOCKER_HOST", "tcp://"+addr)
	_, err := New(context.Background(), logr.Discard(), "test")
	if err == nil {
		t.Fatal("New succeeded with no Engine")
	}
	for _, want := range []string{"cannot reach the Docker Engine at tcp://" + addr, "is dockerd running?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestListManagedFake checks the one list call ListManaged makes and how it
// reads health, names and addresses out of the list response.
func TestListManagedFake(t *testing.T) {
	summaries := []container.Summary{
		{ID: "a", Names: []string{"/web-1"}, State: "running", Status: "Up 4 seconds (health: starting)"},
		{ID: "b", Names: []string{"/web-2"}, State: "running", Status: "Up 2 minutes (healthy)",
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{
				"app-network": {IPAddress: "172.20.0.3"},
				"other":       {IPAddress: ""},
			}}},
		{ID: "c", Names: []string{"/web-3"}, State: "running", Status: "Up 2 minutes (unhealthy)"},
		{ID: "d", Names: []string{"/web-4"}, State: "exited", Status: "Exited (0) 1 second ago"},
		{ID: "e", Names: []string{"/redis-1"}, State: "running", Status: "Up 3 days", Created: 1_700_000_000},
	}
	calls := 0
	r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
		"/containers/json": func(w http.ResponseWriter, req *http.Request) {
			calls++
			q := req.URL.Query()
			if q.Get("all") != "1" {
				t.Errorf("list without all=1: %s", req.URL.RawQuery)
			}
			f, err := filters.FromJSON(q.Get("filters"))
			if err != nil {
				t.Fatal(err)
			}
			got := f.Get("label")
			slices.Sort(got)
			if want := []string{"scaler.dev/instance=" + fakeInstance, "scaler.dev/managed-by=scalerd"}; !slices.Equal(got, want) {
				t.Errorf("label filters %v, want %v", got, want)
			}
			writeJSON(t, w, summaries)
		},
	})
	got, err := r.ListManaged(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("%d list calls, want 1", calls)
	}
	want := map[string]string{"web-1": "starting", "web-2": "healthy", "web-3": "unhealthy", "web-4": "", "redis-1": ""}
	if len(got) != len(want) {
		t.Fatalf("got %d containers, want %d", len(got), len(want))
	}
	for _, c := range got {
		if h, ok := want[c.Name]; !ok || c.Health != h {
			t.Errorf("%s (%s): health %q, want %q", c.Name, c.ID, c.Health, h)
		}
	}
	if ips := got[1].IPs; len(ips) != 1 || ips["app-network"] != "172.20.0.3" {
		t.Errorf("IPs %v, want only app-network's", ips)
	}
	if !got[4].Created.Equal(time.Unix(1_700_000_000, 0)) {
		t.Errorf("created %v", got[4].Created)
	}
}

// TestEventsStreamFails checks that a stream the Engine refuses, or one that
// breaks after a while, surfaces as an error the watcher can reconnect on.
func TestEventsStreamFails(t *testing.T) {
	t.Run("engine answers 500", func(t *testing.T) {
		r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
			"/events": func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"message":"daemon is shutting down"}`))
			},
		})
		events, errc := r.Events(context.Background())
		err := receive(t, errc)
		if err == nil || !strings.Contains(err.Error(), "daemon is shutting down") {
			t.Errorf("got %v, want the Engine's message", err)
		}
		if _, ok := <-events; ok {
			t.Error("event channel still open after the stream failed")
		}
	})

	t.Run("stream ends after some events", func(t *testing.T) {
		r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
			"/events": func(w http.ResponseWriter, req *http.Request) {
				f, err := filters.FromJSON(req.URL.Query().Get("filters"))
				if err != nil {
					t.Fatal(err)
				}
				if !f.ExactMatch("type", "container") || !f.ExactMatch("label", "scaler.dev/managed-by=scalerd") ||
					!f.ExactMatch("label", "scaler.dev/instance="+fakeInstance) {
					t.Errorf("filters %s lack type=container or the ownership labels", req.URL.Query().Get("filters"))
				}
				if actions := f.Get("event"); !slices.Contains(actions, "health_status") || slices.Contains(actions, "exec_start") {
					t.Errorf("event filter %v, want health_status and no exec", actions)
				}
				managed := map[string]string{"scaler.dev/managed-by": "scalerd", "scaler.dev/instance": fakeInstance, "scaler.dev/spec": "web"}
				otherDaemon := map[string]string{"scaler.dev/managed-by": "scalerd", "scaler.dev/instance": "other", "scaler.dev/spec": "web"}
				for _, m := range []events.Message{
					{Type: events.ContainerEventType, Action: "exec_start: sh -c true", Actor: events.Actor{ID: "a", Attributes: managed}},
					{Type: events.ContainerEventType, Action: "die", Actor: events.Actor{ID: "x", Attributes: otherDaemon}},
					{Type: events.ContainerEventType, Action: "die", Actor: events.Actor{ID: "a", Attributes: managed}},
					{Type: events.ContainerEventType, Action: "health_status: unhealthy", Actor: events.Actor{ID: "b", Attributes: managed}},
				} {
					writeJSON(t, w, m)
				}
				w.(http.Flusher).Flush()
				// Returning ends the stream, as an Engine restart does.
			},
		})
		evc, errc := r.Events(context.Background())
		var got []string
		for ev := range evc {
			got = append(got, ev.ContainerID+" "+ev.Action)
		}
		if want := []string{"a die", "b health_status: unhealthy"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		if err := receive(t, errc); err == nil {
			t.Error("stream end reported as nil; the watcher would not reconnect")
		}
	})

	t.Run("caller cancels", func(t *testing.T) {
		r := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
			"/events": func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.(http.Flusher).Flush()
				<-req.Context().Done()
			},
		})
		ctx, cancel := context.WithCancel(context.Background())
		_, errc := r.Events(ctx)
		cancel()
		if err := receive(t, errc); err != nil {
			t.Errorf("got %v after cancel, want nil", err)
		}
	})
}

func receive(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("nothing on the error channel")
		return nil
	}
}
