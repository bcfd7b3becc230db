// Command scalectl is the client of scalerd: it applies specs, scales them,
// rolls them out and shows their state.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/scaler-dev/scaler/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx)
	stop()
	os.Exit(code)
}
