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

	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/daemon"
	"github.com/scaler-dev/scaler/internal/logging"
)

func main() {
	var o daemon.Options
	var logFormat string
	var verbosity int
	flag.StringVar(&o.SpecDir, "spec-dir", "manifests", "directory of ScaleSpec YAML files to watch")
	flag.StringVar(&o.Socket, "socket", controlapi.DefaultSocketPath(), "unix socket of the control API (mode 0600)")
	flag.StringVar(&o.StateDir, "state-dir", ".scaler", "directory for rollout history")
	flag.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9090", "HOST:PORT serving /metrics, /healthz and /readyz")
	flag.StringVar(&o.Instance, "instance", "default", "name of this daemon's containers; daemons sharing an Engine need different ones")
	flag.StringVar(&logFormat, "log-format", "text", "log format: text or json")
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
