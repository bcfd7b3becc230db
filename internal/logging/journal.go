package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// journalHandler writes slog's text lines with an sd-daemon(3) priority
// prefix ("<3>" error, "<4>" warning, "<6>" info, "<7>" the V levels), so
// that journald, reading scalerd's stderr, keeps each line's level:
// `journalctl -u scalerd -p err` then shows the errors only. The time is
// left out: the journal stamps every line itself.
type journalHandler struct {
	inner slog.Handler
	out   *prefixWriter
}

// prefixWriter puts the priority of the record being written in front of
// the inner handler's single Write of that record.
type prefixWriter struct {
	mu       sync.Mutex
	w        io.Writer
	priority int
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "<%d>%s", p.priority, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func newJournalHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	o := *opts
	replace := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if replace != nil {
			return replace(groups, a)
		}
		return a
	}
	out := &prefixWriter{w: w}
	return &journalHandler{inner: slog.NewTextHandler(out, &o), out: out}
}

// journalPriority maps a slog level to a syslog priority.
func journalPriority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3 // err
	case l >= slog.LevelWarn:
		return 4 // warning
	case l >= slog.LevelInfo:
		return 6 // info
	default:
		return 7 // debug: logr's V(1) and up
	}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.priority = journalPriority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), out: h.out}
}

// StderrIsJournal reports whether stderr is connected to the journal:
// systemd sets JOURNAL_STREAM to the device and inode of the stream it
// gave the service, and a stderr redirected elsewhere no longer matches.
func StderrIsJournal() bool {
	return isJournalStream(os.Getenv("JOURNAL_STREAM"), os.Stderr)
}

func isJournalStream(env string, f *os.File) bool {
	if env == "" {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(env, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}
