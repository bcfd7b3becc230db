// Package logging builds the logr.Logger that scalerd and scalectl use,
// backed by the standard library's slog.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
)

// New returns a logger writing text, JSON or journal lines (text with a
// syslog priority prefix, for journald) to w. "auto" is journal when
// stderr is the journal's stream (StderrIsJournal), text otherwise. verbosity is logr's V
// level: 0 logs one line per action, 1 adds plans and waits, 2 and up
// every reconcile.
func New(w io.Writer, format string, verbosity int) (logr.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.Level(-verbosity), ReplaceAttr: verbosityLevel}
	var h slog.Handler
	if format == "auto" {
		format = "text"
		if StderrIsJournal() {
			format = "journal"
		}
	}
	switch format {
	case "journal":
		h = newJournalHandler(w, opts)
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return logr.Discard(), fmt.Errorf("--log-format=%q: use text, json, journal or auto", format)
	}
	return logr.FromSlogHandler(h), nil
}

// verbosityLevel writes logr's V(n) lines as level=V<n> instead of slog's
// name for -n (DEBUG+3 for V(1)): -v n is what the reader set, so V<n> is
// what they should see.
func verbosityLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
			return slog.String(slog.LevelKey, fmt.Sprintf("V%d", -int(l)))
		}
	}
	return a
}
