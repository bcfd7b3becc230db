package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

const (
	// heartbeat keeps idle proxies and the browser from closing a quiet
	// stream, and finds browsers that went away.
	heartbeat = 15 * time.Second
	// writeTimeout drops a browser that stops reading.
	writeTimeout = 10 * time.Second
)

// serveEvents streams the page's updates: the plot points so far, then
// the state whenever it changes and a plot point every PointInterval.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, points, state, err := d.hub.join()
	if errors.Is(err, errTooManyClients) {
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("the dashboard serves at most %d browsers at once; close one of its other tabs and reload", d.opts.MaxClients),
			http.StatusServiceUnavailable)
		return
	}
	defer d.hub.leave(c)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first, err := sseMessage("history", points)
	if err != nil || !write(append([]byte("retry: 2000\n\n"), first...)) {
		return
	}
	if state != nil && !write(state) {
		return
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case msg := <-c.ch:
			if !write(msg) {
				return
			}
		case <-beat.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-c.dropped:
			return
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		}
	}
}

// serveState answers the state once, as JSON, read now: for scripts and
// for a look without a browser. It starts no collector; usage is absent.
func (d *Dashboard) serveState(w http.ResponseWriter, r *http.Request) {
	st := d.read(r.Context(), nil)
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(st); err != nil {
		d.opts.Log.V(1).Info("writing the dashboard state", "error", err.Error())
	}
}
