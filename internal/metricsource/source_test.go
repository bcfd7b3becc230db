package metricsource

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
)

func TestParseRequests(t *testing.T) {
	n, err := ParseRequests(strings.NewReader("Active connections: 2 \nserver accepts handled requests\n 16 16 31 \nReading: 0 Writing: 1 Waiting: 1 \n"))
	if err != nil || n != 31 {
		t.Errorf("got %d, %v; want 31", n, err)
	}
	for _, bad := range []string{"", "<html>hello</html>", "server accepts handled requests\n 1 2\n", "server accepts handled requests\n 1 2 x\n"} {
		if _, err := ParseRequests(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// stubStatus serves a stub_status page whose request counter the test sets.
func stubStatus(t *testing.T, requests *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != StatusPath {
			http.NotFound(w, r)
			return
		}
		n := requests.Add(1) // nginx counts the status request itself
		fmt.Fprintf(w, "Active connections: 1 \nserver accepts handled requests\n 5 5 %d \nReading: 0 Writing: 1 Waiting: 0 \n", n)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRequestRate(t *testing.T) {
	var requests atomic.Int64
	srv := stubStatus(t, &requests)
	s := New(nil, nil)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	url := srv.URL + StatusPath
	ctx := context.Background()
	if _, err := s.requestRate(ctx, "web", url); err == nil || !strings.Contains(err.Error(), "needs two") {
		t.Fatalf("first reading: %v; want an error saying the rate needs two", err)
	}
	requests.Add(600) // 600 app requests in 3 s
	now = now.Add(3 * time.Second)
	if got, err := s.requestRate(ctx, "web", url); err != nil || got != 200 {
		t.Errorf("rate %v, %v; want 200", got, err)
	}
	requests.Store(10) // a new load balancer counts from 0
	now = now.Add(3 * time.Second)
	if _, err := s.requestRate(ctx, "web", url); err == nil || !strings.Contains(err.Error(), "started again") {
		t.Errorf("counter reset: %v", err)
	}
	now = now.Add(3 * time.Second)
	if got, err := s.requestRate(ctx, "web", url); err != nil || got != 0 {
		t.Errorf("idle rate %v, %v; want 0", got, err)
	}
	if _, err := s.requestRate(ctx, "web", srv.URL+"/other"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a page that is not there: %v", err)
	}
}

func TestStatusURL(t *testing.T) {
	for hostIP, want := range map[string]string{
		"127.0.0.1": "http://127.0.0.1:8080/nginx-status",
		"0.0.0.0":   "http://127.0.0.1:8080/nginx-status",
		"::":        "http://127.0.0.1:8080/nginx-status",
		"10.1.2.3":  "http://10.1.2.3:8080/nginx-status",
		"::1":       "http://[::1]:8080/nginx-status",
	} {
		if got := StatusURL(&v1alpha1.LoadBalancer{HostIP: hostIP, Port: 8080}); got != want {
			t.Errorf("%s: %s; want %s", hostIP, got, want)
		}
	}
}

func TestQueryPrometheus(t *testing.T) {
	tests := []struct {
		name, body string
		want       float64
		err        string
	}{
		{"vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"312.5"]}]}}`, 312.5, ""},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"7"]}}`, 7, ""},
		{"empty vector", `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, "returned 0 series"},
		{"two series", `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}`, 0, "wrap it in sum"},
		{"matrix", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, 0, "returned a matrix"},
		{"refused", `{"status":"error","errorType":"bad_data","error":"parse error at char 4"}`, 0, "prometheus refused the query (bad_data): parse error"},
		{"NaN", `{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`, 0, "not a usage"},
		{"not json", `<html>`, 0, "not the query API's JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != `sum(rate(x{spec="web"}[30s]))` {
					t.Errorf("asked %s", r.URL)
				}
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			got, err := QueryPrometheus(context.Background(), http.DefaultClient, srv.URL+"/", `sum(rate(x{spec="web"}[30s]))`)
			if tt.err == "" && (err != nil || got != tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v; want one containing %q", err, tt.err)
			}
		})
	}
}

type fakeStats map[string]controllers.Stats

func (f fakeStats) Stats(_ context.Context, id string) (controllers.Stats, error) {
	s, ok := f[id]
	if !ok {
		return controllers.Stats{}, errors.New("no such container")
	}
	return s, nil
}

func TestCPU(t *testing.T) {
	stats := fakeStats{"a": {CPUPercent: 30}, "b": {CPUPercent: 50}}
	ready := []controllers.Container{{ID: "a", Name: "web-1"}, {ID: "b", Name: "web-2"}}
	spec := &v1alpha1.ScaleSpec{}
	s := New(stats, nil)
	if got, err := s.cpu(context.Background(), spec, ready); err != nil || got != 80 {
		t.Errorf("no limit: %v, %v; want 80 (percent of one core, summed)", got, err)
	}
	spec.Spec.Template.Resources.Limits.CPUs = "0.5"
	if got, err := s.cpu(context.Background(), spec, ready); err != nil || math.Abs(got-160) > 1e-9 {
		t.Errorf("limit 0.5: %v, %v; want 160 (percent of the limit, summed)", got, err)
	}
	ready = append(ready, controllers.Container{ID: "gone", Name: "web-3"})
	if _, err := s.cpu(context.Background(), spec, ready); err == nil || !strings.Contains(err.Error(), "stats of web-3") {
		t.Errorf("a replica without stats: %v; want an error naming it", err)
	}
}
