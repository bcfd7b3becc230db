// Package logging builds the logr.Logger that scalerd and scalectl use,
// backed by the standard library's slog.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
)

// New returns a logger writing text or JSON to w. verbosity is logr's V
// level: 0 logs one line per action, 1 adds plans and waits, 2 and up
// every reconcile.
func New(w io.Writer, format string, verbosity int) (logr.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.Level(-verbosity)}
	var h slog.Handler
	switch format {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return logr.Discard(), fmt.Errorf("--log-format=%q: use text or json", format)
	}
	return logr.FromSlogHandler(h), nil
}
