// Command demoapp is scaler's sample workload: a visits counter in Redis that
// reports which replica served each request.
//
//	demoapp               serve (configured by environment variables)
//	demoapp healthcheck   probe the local server; the image's HEALTHCHECK
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/scaler-dev/scaler/internal/demoapp"
	"github.com/scaler-dev/scaler/internal/logging"
)

// Exit codes: 2 is a usage or configuration error, as with flag's own.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `usage: demoapp [healthcheck [--timeout D] [--url URL]]

Environment:
  PORT                      listen port (default 5000)
  REDIS_ADDR                Redis host:port (default redis:6379)
  REDIS_PASSWORD            Redis password (AUTH); none when unset
  REDIS_TIMEOUT             Redis dial/read/write timeout (default 250ms)
  INSTANCE_NAME             instance name in responses (default app-<hostname>)
  GREETING                  message of GET / (default "Hello from scaler demoapp")
  LOAD_TEST_ITERATIONS      CPU work of GET /load-test (default 2000000)
  LOAD_TEST_MAX_ITERATIONS  cap of ?iterations= (default 200000000)
  SLOW_MAX                  cap of GET /slow?ms= (default 30s)
  SHUTDOWN_TIMEOUT          grace for in-flight requests on SIGTERM (default 10s)
  HEALTHCHECK_TIMEOUT       timeout of the healthcheck subcommand (default 2s)
  LOG_FORMAT                text or json (default text)

Signals:
  SIGTERM, SIGINT           stop accepting, finish in-flight requests, exit
  SIGUSR1                   toggle /health between ok and 503 (an unhealthy replica that still runs)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("demoapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demoapp: unknown command %q\n%s", fs.Arg(0), usage)
		return exitUsage
	}

	hostname, _ := os.Hostname()
	cfg, err := demoapp.LoadConfig(os.LookupEnv, hostname)
	if err != nil {
		fmt.Fprintf(stderr, "demoapp: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	if id := demoapp.ContainerID(); id != "" {
		cfg.ContainerID = id
	}
	log, err := logging.New(stderr, cfg.LogFormat, 0)
	if err != nil {
		fmt.Fprintf(stderr, "demoapp: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := demoapp.Run(ctx, cfg, log); err != nil {
		log.Error(err, "demoapp failed")
		return exitFailure
	}
	return exitOK
}

// healthcheck probes /health and prints its answer, which Docker keeps in
// the container's health log: scalerd reads the answers and degraded
// counts from there for `scalectl top`, and shows a failing probe's output.
func healthcheck(args []string, stdout, stderr io.Writer) int {
	timeout := demoapp.DefaultProbeTimeout
	if v := os.Getenv("HEALTHCHECK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(stderr, "demoapp healthcheck: HEALTHCHECK_TIMEOUT: %q is not a duration\n", v)
			return exitUsage
		}
		timeout = d
	}
	port := demoapp.DefaultPort
	if v := os.Getenv("PORT"); v != "" {
		p, err := demoapp.ParsePort(v)
		if err != nil {
			fmt.Fprintf(stderr, "demoapp healthcheck: PORT: %v\n", err)
			return exitUsage
		}
		port = p
	}
	fs := flag.NewFlagSet("demoapp healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&timeout, "timeout", timeout, "fail unless /health answers 200 within this time")
	url := fs.String("url", "http://127.0.0.1:"+strconv.Itoa(port)+"/health", "URL to probe")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	body, err := demoapp.Probe(context.Background(), *url, timeout)
	if err != nil {
		fmt.Fprintf(stderr, "demoapp healthcheck: %v\n", err)
		return exitFailure
	}
	_, _ = stdout.Write(body)
	return exitOK
}
