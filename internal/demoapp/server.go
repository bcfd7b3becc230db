package demoapp

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
)

// Run serves demoapp on cfg.Port until ctx is cancelled (SIGTERM), then
// drains: it stops accepting, lets in-flight requests finish within
// cfg.ShutdownTimeout and returns.
func Run(ctx context.Context, cfg Config, log logr.Logger) error {
	redis.SetLogger(redisLogger{log})
	counter := NewRedisCounter(cfg.RedisAddr, cfg.RedisPassword, cfg.InstanceName, cfg.RedisTimeout)
	defer counter.Close()

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	log.Info("serving", "addr", ln.Addr().String(), "instance", cfg.InstanceName, "redisAddr", cfg.RedisAddr, "redisAuth", cfg.RedisPassword != "")
	app := New(cfg, counter, log)
	toggles := make(chan os.Signal, 1)
	signal.Notify(toggles, syscall.SIGUSR1)
	defer signal.Stop(toggles)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-toggles:
				log.Info("SIGUSR1: health check toggled", "failing", app.ToggleHealth())
			}
		}
	}()
	return Serve(ctx, ln, app, cfg.ShutdownTimeout, log)
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully:
// the listener closes at once (a load balancer sees connection refused and
// retries elsewhere), idle keep-alive connections close, and requests in
// flight get up to shutdownTimeout to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, shutdownTimeout time.Duration, logger logr.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// Longer than nginx's upstream keepalive_timeout (60s by default), so
		// that it is nginx, not the app, that closes an idle connection and
		// no request is sent on a connection the app is closing.
		IdleTimeout: 75 * time.Second,
		ErrorLog:    log.New(logWriter{logger}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout.String())
	start := time.Now()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: requests still in flight after %s: %w", shutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shut down", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// logWriter routes net/http's own error log (TLS noise, handler panics)
// into the structured logger.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("http server", "message", string(p))
	return len(p), nil
}
