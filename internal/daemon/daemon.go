// Package daemon wires scalerd together: the spec store, the Docker
// runtime, the controller, the control API and the metrics endpoint.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/dashboard"
	"github.com/scaler-dev/scaler/internal/docker"
	"github.com/scaler-dev/scaler/internal/history"
	"github.com/scaler-dev/scaler/internal/metricsource"
	"github.com/scaler-dev/scaler/internal/specstore"
)

// Options are scalerd's flags.
type Options struct {
	SpecDir     string
	Socket      string
	StateDir    string
	MetricsAddr string
	// Instance names this daemon's containers; two daemons on one Engine
	// must use different instances.
	Instance string
	// EngineTimeout bounds each Docker Engine call (a stop also gets its
	// grace period); 0 means docker.DefaultEngineTimeout.
	EngineTimeout time.Duration
	// SocketGroup, when set, shares the socket with that group's members
	// (see socketGroupID).
	SocketGroup string
	// AutoscaleInterval is how often the autoscaler decides; 0 means
	// controllers.DefaultAutoscaleInterval.
	AutoscaleInterval time.Duration
	// UpstreamCheckInterval is how often each load balancer is read back
	// (UpstreamInSync); 0 turns the check off.
	UpstreamCheckInterval time.Duration
	Log                   logr.Logger
}

// Events scalerd records, as an event of no spec, when the Engine stops
// answering and when it answers again.
const (
	ReasonEngineNotAnswering = "EngineNotAnswering"
	ReasonEngineAnswering    = "EngineAnswering"
)

// pingInterval is how often scalerd pings the Engine for /readyz: often
// enough that a hung Engine shows within about the timeout, seldom enough
// to cost nothing (a ping is the Engine's cheapest call).
func pingInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/2, time.Second), 5*time.Second)
}

// Run serves until ctx ends, then stops without touching the containers:
// they are the desired state, and a restarted scalerd adopts them.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if o.EngineTimeout < 0 {
		return fmt.Errorf("--engine-timeout %s: must be positive (or 0 for the default %s)", o.EngineTimeout, docker.DefaultEngineTimeout)
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating --state-dir %s: %w", o.StateDir, err)
	}
	if info, err := os.Stat(o.SpecDir); err != nil || !info.IsDir() {
		return fmt.Errorf("--spec-dir %s is not a directory; create it or point --spec-dir at the directory of your ScaleSpec files", o.SpecDir)
	}
	// Refuse a socket directory others can write to before anything else:
	// scalerd must not start serving where another user could listen.
	socketGID, err := socketGroupID(o.SocketGroup)
	if err != nil {
		return err
	}
	if err := controlapi.CheckSocketDirGroup(o.Socket, socketGID); err != nil {
		return err
	}
	engine, err := docker.New(ctx, log.WithName("docker"), o.Instance)
	if err != nil {
		return err
	}
	// Every Engine call below goes through rt: bounded in time and in
	// number, so that a hung dockerd fails calls instead of wedging the
	// workers, and /readyz says so.
	rt := docker.NewBounded(engine, o.EngineTimeout, docker.DefaultMaxInFlight)
	defer rt.Close()
	// The store records each spec's file and last valid version under
	// state/specs, so that a restart with a broken file removes nothing.
	store, err := specstore.OpenWithState(o.SpecDir, filepath.Join(o.StateDir, "specs"), log.WithName("specstore"))
	if err != nil {
		return fmt.Errorf("--spec-dir %s: %w", o.SpecDir, err)
	}

	hist, err := history.Open(filepath.Join(o.StateDir, "history"))
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(engineMetrics(rt)...)
	var ctl *controllers.Controller
	metrics := controllers.NewMetrics(reg, func() float64 { return float64(ctl.Queue.Len()) })
	recorder := controllers.NewRecorder(1000)
	reconciler := controllers.NewReconciler(rt, store, log.WithName("controller"), recorder, metrics)
	reconciler.UpstreamCheckInterval = o.UpstreamCheckInterval
	if o.UpstreamCheckInterval == 0 {
		reconciler.UpstreamCheckInterval = -1 // off, as the flag says
	}
	reconciler.History = hist
	hist.OnCorrupt = func(spec, movedTo string, err error) {
		log.Error(err, "rollout history corrupt; moved aside, and the spec's history starts afresh", "spec", spec, "movedTo", movedTo)
		recorder.Eventf(spec, "scalespec/"+spec, v1alpha1.EventWarning, controllers.ReasonHistoryCorrupt,
			"%v; moved aside to %s and started afresh: earlier revisions are gone from `rollout history`, and replicas of a `rollout restart` are replaced again", err, movedTo)
	}
	ctl = controllers.NewController(reconciler, log.WithName("controller"))
	autoscaler := controllers.NewAutoscaler(reconciler, metricsource.New(rt, nil), o.AutoscaleInterval, log.WithName("autoscaler"))
	reg.MustRegister(metricsource.NewRequestsCollector(func() []*v1alpha1.ScaleSpec {
		var specs []*v1alpha1.ScaleSpec
		for _, e := range store.List() {
			if e.Spec != nil {
				e.Spec.Default()
				specs = append(specs, e.Spec)
			}
		}
		return specs
	}))
	rt.OnHealthChange(func(healthy bool, reason string) {
		if healthy {
			log.Info("the Docker Engine answers again; /readyz is ok")
			recorder.Eventf("", "engine", v1alpha1.EventNormal, ReasonEngineAnswering, "the Docker Engine answers again")
			return
		}
		log.Error(errors.New(reason), "the Docker Engine does not answer; /readyz reports not ready until it does")
		recorder.Eventf("", "engine", v1alpha1.EventWarning, ReasonEngineNotAnswering, "%s", reason)
	})
	// A file error no spec name can be read from (a new file broken
	// before metadata.name) becomes an event of no spec, which `scalectl
	// events` lists with the file as its object.
	fileEvent := func(fe specstore.FileError) {
		recorder.Eventf("", "file/"+filepath.Base(fe.Path), v1alpha1.EventWarning, controllers.ReasonSpecInvalid, "%v", fe.Err)
	}
	store.OnFileError(fileEvent)
	for _, fe := range store.FileErrors() {
		fileEvent(fe)
	}
	store.OnChange(func(name string) {
		reconciler.SpecChanged(name) // starts scaler_spec_converge_seconds' clock
		ctl.Enqueue(name)
	})

	svc, err := newService(log.WithName("service"), ctl.Synced(), ctl.OldestReconcile,
		func(ctx context.Context) error { _, err := rt.Version(ctx); return err }, store.Reload)
	if err != nil {
		return err
	}

	apiListener, err := controlapi.ListenGroup(o.Socket, socketGID)
	if err != nil {
		return err
	}
	metricsListener, err := net.Listen("tcp", o.MetricsAddr)
	if err != nil {
		apiListener.Close()
		return fmt.Errorf("--metrics-addr %s: %w", o.MetricsAddr, err)
	}

	backend := &backend{store: store, reconciler: reconciler, runtime: rt, controller: ctl, events: recorder, history: hist,
		instance: o.Instance}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	apiServer := &http.Server{Handler: controlapi.NewHandler(backend, log.WithName("api")), ReadHeaderTimeout: 10 * time.Second,
		// Requests end with the daemon: a `scalectl logs -f` stream would
		// otherwise hold Shutdown for its whole timeout.
		BaseContext: func(net.Listener) context.Context { return runCtx }}
	dash := dashboard.New(runCtx, backend, dashboard.Options{Log: log.WithName("dashboard")})
	metricsServer := &http.Server{Handler: metricsMux(reg, ctl.Synced(), rt.Healthy, dash), ReadHeaderTimeout: 10 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	serve := func(name string, srv *http.Server, l net.Listener) {
		defer wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("%s server: %w", name, err)
		}
	}
	wg.Add(6)
	go func() { defer wg.Done(); autoscaler.Run(runCtx) }()
	go func() { defer wg.Done(); rt.Watch(runCtx, pingInterval(rt.Timeout())) }()
	go serve("control API", apiServer, apiListener)
	go serve("metrics", metricsServer, metricsListener)
	go func() {
		defer wg.Done()
		if err := store.Run(runCtx); err != nil && runCtx.Err() == nil {
			errs <- fmt.Errorf("watching %s: %w", o.SpecDir, err)
		}
	}()
	go func() { defer wg.Done(); ctl.Run(runCtx) }()
	go func() {
		select {
		case <-ctl.Synced():
			log.Info("scalerd ready", "specDir", o.SpecDir, "socket", o.Socket, "metrics", o.MetricsAddr,
				"instance", o.Instance, "engineAPI", rt.Capabilities().APIVersion)
		case <-runCtx.Done():
		}
	}()

	go svc.run(runCtx, fmt.Sprintf("serving %s on %s", o.SpecDir, o.Socket))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping; containers keep running")
	case runErr = <-errs:
	}
	svc.stopping()
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = apiServer.Shutdown(shutdownCtx)
	_ = metricsServer.Shutdown(shutdownCtx)
	wg.Wait()
	_ = os.Remove(o.Socket)
	return runErr
}

// engineMetrics show what /readyz says of the Engine, and how many of the
// Engine call slots are taken: a count stuck at the cap means calls wait.
func engineMetrics(b *docker.Bounded) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scaler_engine_up",
			Help: "1 while the Docker Engine answers calls and pings within --engine-timeout, else 0."},
			func() float64 {
				if ok, _ := b.Healthy(); ok {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scaler_engine_calls_in_flight",
			Help: fmt.Sprintf("Docker Engine calls in flight (at most %d).", docker.DefaultMaxInFlight)},
			func() float64 { return float64(b.InFlight()) }),
	}
}

// metricsMux serves /metrics, /healthz (the process answers) and /readyz
// (the first full resync has been queued, and the Engine answers: a
// scalerd whose Engine hangs can converge nothing, so it is not ready).
// synced is the same channel READY=1 waits for, so that /readyz can never
// say "pending" after systemd was told the daemon is ready. The
// dashboard, when not nil, serves / and /dashboard/.
func metricsMux(reg *prometheus.Registry, synced <-chan struct{}, engine func() (bool, string), dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	if dash != nil {
		mux.Handle("/", dash)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-synced:
		default:
			http.Error(w, "not ready: first resync pending", http.StatusServiceUnavailable)
			return
		}
		if ok, reason := engine(); !ok {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
