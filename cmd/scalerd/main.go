// Command scalerd is the scaler daemon: it keeps the ScaleSpecs of a
// directory running on the Docker Engine behind nginx.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/daemon"
	"github.com/scaler-dev/scaler/internal/docker"
	"github.com/scaler-dev/scaler/internal/logging"
)

func main() {
	var o daemon.Options
	var logFormat string
	var verbosity int
	flag.StringVar(&o.SpecDir, "spec-dir", "manifests", "directory of ScaleSpec YAML files to watch")
	flag.StringVar(&o.Socket, "socket", controlapi.DefaultSocketPath(), "unix socket of the control API (mode 0600), in a directory only this user can write (mode 0700)")
	flag.StringVar(&o.SocketGroup, "socket-group", "", "share the socket with this group (mode 0660) so its members can use scalectl; its directory may then be 0750 of that group")
	flag.StringVar(&o.StateDir, "state-dir", ".scaler", "directory for rollout history")
	flag.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9090", "HOST:PORT serving /metrics, /healthz and /readyz")
	flag.StringVar(&o.Instance, "instance", "default", "name of this daemon's containers; daemons sharing an Engine need different ones")
	flag.DurationVar(&o.EngineTimeout, "engine-timeout", docker.DefaultEngineTimeout,
		"longest wait for one Docker Engine call (a stop gets its grace period on top); past it the call fails, and /readyz reports not ready until the Engine answers again")
	flag.DurationVar(&o.AutoscaleInterval, "autoscale-interval", controllers.DefaultAutoscaleInterval,
		"how often the autoscaler reads its metrics and decides, for specs with spec.autoscaling")
	flag.DurationVar(&o.UpstreamCheckInterval, "upstream-check-interval", controllers.DefaultUpstreamCheckInterval,
		"how often each load balancer's nginx is asked what it runs (config, members, their reachability) and put right when it drifted (UpstreamInSync); 0 turns the check off")
	flag.StringVar(&logFormat, "log-format", "auto", "log format: text, json, journal (text with syslog <N> priorities, for journald) or auto (journal when stderr is the journal, else text)")
	flag.IntVar(&verbosity, "v", 0, "log verbosity: 0 actions, 1 plans and waits, 2 every reconcile")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "scalerd: unexpected argument %q; scalerd takes flags only (see scalerd -h)\n", flag.Arg(0))
		os.Exit(2)
	}
	log, err := logging.New(os.Stderr, logFormat, verbosity)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalerd:", err)
		os.Exit(2)
	}
	o.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := daemon.Run(ctx, o); err != nil {
		log.Error(err, "scalerd failed")
		os.Exit(1)
	}
}
