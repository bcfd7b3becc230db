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
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/docker"
	"github.com/scaler-dev/scaler/internal/history"
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
	Log      logr.Logger
}

// Run serves until ctx ends, then stops without touching the containers:
// they are the desired state, and a restarted scalerd adopts them.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating --state-dir %s: %w", o.StateDir, err)
	}
	if info, err := os.Stat(o.SpecDir); err != nil || !info.IsDir() {
		return fmt.Errorf("--spec-dir %s is not a directory; create it or point --spec-dir at the directory of your ScaleSpec files", o.SpecDir)
	}
	rt, err := docker.New(ctx, log.WithName("docker"), o.Instance)
	if err != nil {
		return err
	}
	defer rt.Close()
	store, err := specstore.Open(o.SpecDir, log.WithName("specstore"))
	if err != nil {
		return fmt.Errorf("--spec-dir %s: %w", o.SpecDir, err)
	}

	hist, err := history.Open(filepath.Join(o.StateDir, "history"))
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var ctl *controllers.Controller
	metrics := controllers.NewMetrics(reg, func() float64 { return float64(ctl.Queue.Len()) })
	recorder := controllers.NewRecorder(1000)
	reconciler := controllers.NewReconciler(rt, store, log.WithName("controller"), recorder, metrics)
	reconciler.History = hist
	ctl = controllers.NewController(reconciler, log.WithName("controller"))
	store.OnChange(func(name string) {
		reconciler.SpecChanged(name) // starts scaler_spec_converge_seconds' clock
		ctl.Enqueue(name)
	})

	apiListener, err := controlapi.Listen(o.Socket)
	if err != nil {
		return err
	}
	metricsListener, err := net.Listen("tcp", o.MetricsAddr)
	if err != nil {
		apiListener.Close()
		return fmt.Errorf("--metrics-addr %s: %w", o.MetricsAddr, err)
	}

	var ready atomic.Bool
	backend := &backend{store: store, reconciler: reconciler, runtime: rt, controller: ctl, events: recorder, history: hist}
	apiServer := &http.Server{Handler: controlapi.NewHandler(backend, log.WithName("api")), ReadHeaderTimeout: 10 * time.Second}
	metricsServer := &http.Server{Handler: metricsMux(reg, &ready), ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	serve := func(name string, srv *http.Server, l net.Listener) {
		defer wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("%s server: %w", name, err)
		}
	}
	wg.Add(4)
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
			ready.Store(true)
			log.Info("scalerd ready", "specDir", o.SpecDir, "socket", o.Socket, "metrics", o.MetricsAddr,
				"instance", o.Instance, "engineAPI", rt.Capabilities().APIVersion)
		case <-runCtx.Done():
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping; containers keep running")
	case runErr = <-errs:
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = apiServer.Shutdown(shutdownCtx)
	_ = metricsServer.Shutdown(shutdownCtx)
	wg.Wait()
	_ = os.Remove(o.Socket)
	return runErr
}

// metricsMux serves /metrics, /healthz (the process answers) and /readyz
// (the first full resync has been queued).
func metricsMux(reg *prometheus.Registry, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: first resync pending", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
