// Package dashboard is scalerd's read-only web page at / of
// --metrics-addr: every spec, its replicas with their health, upstream
// membership, CPU, memory and requests, a rollout in progress, the latest
// events and 15 minutes of plots, pushed to the browser by server-sent
// events. The page is plain HTML, CSS and JavaScript embedded in the
// binary: nothing to build, nothing fetched from elsewhere.
//
// It costs nothing while nobody watches: the collector that polls the
// backend runs only while at least one browser is connected, and stops
// when the last one leaves. Memory is bounded by the ring of plot points
// and the cap on connected browsers.
package dashboard

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

//go:embed static
var static embed.FS

// Source is what the page reads: the control API's backend, of which the
// dashboard uses the read-only calls only.
type Source interface {
	List(ctx context.Context) ([]v1alpha1.ScaleSpec, error)
	Replicas(ctx context.Context, name string) ([]v1alpha1.ReplicaInfo, error)
	Events(ctx context.Context, spec string) ([]v1alpha1.Event, error)
	controlapi.TopBackend
}

// Options tune the dashboard; zero values take the defaults below.
type Options struct {
	// MaxClients caps the browsers connected at once; one more gets 503.
	MaxClients int
	// Interval is how often the state is read while someone watches: a
	// change shows within about this long.
	Interval time.Duration
	// UsageInterval is the pause between two CPU, memory and requests
	// samples; each takes about a second of Engine time per replica (the
	// same work as `scalectl top`).
	UsageInterval time.Duration
	// PointInterval is the spacing of plot points, and Window how far the
	// plots go back; the ring holds Window/PointInterval points.
	PointInterval time.Duration
	Window        time.Duration
	Log           logr.Logger
}

// Defaults.
const (
	DefaultMaxClients    = 8
	DefaultInterval      = 500 * time.Millisecond
	DefaultUsageInterval = 3 * time.Second
	DefaultPointInterval = 2 * time.Second
	DefaultWindow        = 15 * time.Minute
)

// Dashboard serves the page, its state and its event stream.
type Dashboard struct {
	src  Source
	opts Options
	// done ends every stream when scalerd stops, so that the metrics
	// server's shutdown does not wait for open browsers.
	done <-chan struct{}
	mux  *http.ServeMux
	hub  *hub
	// running counts the collector's goroutines still alive, so that
	// Collecting is false only once they have all returned.
	running atomic.Int32
}

// New returns the dashboard over src; ctx is the daemon's lifetime.
func New(ctx context.Context, src Source, opts Options) *Dashboard {
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.UsageInterval <= 0 {
		opts.UsageInterval = DefaultUsageInterval
	}
	if opts.PointInterval <= 0 {
		opts.PointInterval = DefaultPointInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	d := &Dashboard{src: src, opts: opts, done: ctx.Done(), mux: http.NewServeMux()}
	d.hub = newHub(opts, d.collect)
	files, _ := fs.Sub(static, "static")
	d.mux.Handle("GET /{$}", securityHeaders(serveFile(files, "index.html")))
	d.mux.Handle("GET /dashboard/static/", securityHeaders(http.StripPrefix("/dashboard/static/", http.FileServerFS(files))))
	d.mux.Handle("GET /dashboard/state", securityHeaders(http.HandlerFunc(d.serveState)))
	d.mux.Handle("GET /dashboard/events", securityHeaders(http.HandlerFunc(d.serveEvents)))
	return d
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Clients returns how many browsers are connected.
func (d *Dashboard) Clients() int { return d.hub.clients() }

// Collecting reports whether the collector runs, or has not yet returned
// since the last browser left.
func (d *Dashboard) Collecting() bool { return d.hub.collecting() || d.running.Load() > 0 }

// securityHeaders keep the page to its own scripts and out of frames: it
// shows what runs where, which is nobody else's business.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// serveFile serves one embedded file at a path of another name.
func serveFile(files fs.FS, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, name)
	})
}
