package controlapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-logr/logr"
)

// TopOptions shape a Top call.
type TopOptions struct {
	// Redis names the spec whose Redis holds the demoapp's
	// requests:<replica> counters; empty means each spec's first dependsOn.
	Redis string
}

// TopReport is one spec's replicas as `scalectl top` shows them: the
// tutorial's `docker stats` and Redis `mget requests:*` in one answer.
type TopReport struct {
	Spec string `json:"spec"`
	// LoadBalancer is false for a spec without one (a Redis): its replicas
	// are in no upstream, and their requests are not counted.
	LoadBalancer bool           `json:"loadBalancer"`
	Replicas     []ReplicaUsage `json:"replicas"`
	// RequestsFrom says where the requests were read, when they were.
	RequestsFrom string `json:"requestsFrom,omitempty"`
	// RequestsUnknown says why the requests could not be read, and what
	// to do about it; a missing Redis is no error of the call.
	RequestsUnknown string `json:"requestsUnknown,omitempty"`
	// TotalRequests sums the replicas' requests.
	TotalRequests int64 `json:"totalRequests"`
}

// ReplicaUsage is one app replica's resource use and traffic.
type ReplicaUsage struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	Health     string `json:"health,omitempty"`
	InUpstream bool   `json:"inUpstream"`
	Draining   bool   `json:"draining,omitempty"`
	// CPUPercent is of one CPU, as `docker stats` shows it: 100 is a core.
	CPUPercent float64 `json:"cpuPercent"`
	// CPULimit is the template's limit in CPUs; 0 means none.
	CPULimit    float64 `json:"cpuLimit,omitempty"`
	MemoryBytes uint64  `json:"memoryBytes"`
	// MemoryLimitBytes is the template's limit; 0 means none.
	MemoryLimitBytes int64 `json:"memoryLimitBytes,omitempty"`
	// StatsError says why CPU and memory are missing for a running replica.
	StatsError string `json:"statsError,omitempty"`
	// Requests is the replica's requests:<name> counter: what the app
	// served under this name since Redis started, so a replacement goes on
	// from its predecessor's count. Nil when unknown.
	Requests *int64 `json:"requests"`
	// Share is Requests over the spec's total, from 0 to 1; nil when unknown.
	Share *float64 `json:"share"`
	// Answers and Degraded are what the replica's last health check
	// reported, for apps whose health answer is JSON with those numbers
	// (demoapp: answers of GET / since it started, and those served
	// without Redis). An app answering 200 without its store looks healthy
	// to every other column. Nil when the health output has no such field.
	Answers  *int64 `json:"answers,omitempty"`
	Degraded *int64 `json:"degraded,omitempty"`
}

// TopBackend is the part of a Backend that samples replicas.
type TopBackend interface {
	// Top samples the app replicas of spec name, or of every spec when name
	// is empty. It takes about a second: the Engine needs two readings to
	// compute a CPU rate.
	Top(ctx context.Context, name string, opts TopOptions) ([]TopReport, error)
}

func registerTop(mux *http.ServeMux, b TopBackend, log logr.Logger) {
	mux.HandleFunc("GET /v1/top", func(w http.ResponseWriter, r *http.Request) {
		reports, err := b.Top(r.Context(), "", TopOptions{Redis: r.URL.Query().Get("redis")})
		reply(w, log, reports, err)
	})
	mux.HandleFunc("GET /v1/specs/{name}/top", func(w http.ResponseWriter, r *http.Request) {
		reports, err := b.Top(r.Context(), r.PathValue("name"), TopOptions{Redis: r.URL.Query().Get("redis")})
		var one *TopReport
		if err == nil && len(reports) > 0 {
			one = &reports[0]
		}
		reply(w, log, one, err)
	})
}

// Top samples the replicas of one spec, or of all when name is empty.
func (c *Client) Top(ctx context.Context, name string, opts TopOptions) ([]TopReport, error) {
	q := ""
	if opts.Redis != "" {
		q = "?redis=" + url.QueryEscape(opts.Redis)
	}
	if name == "" {
		var out []TopReport
		return out, c.do(ctx, http.MethodGet, "/v1/top"+q, nil, &out)
	}
	var out TopReport
	if err := c.do(ctx, http.MethodGet, "/v1/specs/"+url.PathEscape(name)+"/top"+q, nil, &out); err != nil {
		return nil, err
	}
	return []TopReport{out}, nil
}
