package controlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-logr/logr"
)

// maxBody bounds a request body; specs are small.
const maxBody = 4 << 20

// NewHandler routes the API to b.
func NewHandler(b Backend, log logr.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/specs", func(w http.ResponseWriter, r *http.Request) {
		specs, err := b.List(r.Context())
		reply(w, log, specs, err)
	})
	mux.HandleFunc("GET /v1/specs/{name}", func(w http.ResponseWriter, r *http.Request) {
		spec, err := b.Get(r.Context(), r.PathValue("name"))
		reply(w, log, spec, err)
	})
	mux.HandleFunc("GET /v1/specs/{name}/replicas", func(w http.ResponseWriter, r *http.Request) {
		reps, err := b.Replicas(r.Context(), r.PathValue("name"))
		reply(w, log, reps, err)
	})
	mux.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			reply(w, log, nil, fmt.Errorf("%w: reading body: %v", ErrInvalid, err))
			return
		}
		dryRun, _ := strconv.ParseBool(r.URL.Query().Get("dryRun"))
		res, err := b.Apply(r.Context(), body, dryRun)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST /v1/specs/{name}/scale", func(w http.ResponseWriter, r *http.Request) {
		var req ScaleRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, log, nil, fmt.Errorf("%w: scale body: %v", ErrInvalid, err))
			return
		}
		reply(w, log, struct{}{}, b.Scale(r.Context(), r.PathValue("name"), req.Replicas))
	})
	mux.HandleFunc("DELETE /v1/specs/{name}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, log, struct{}{}, b.Delete(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		events, err := b.Events(r.Context(), r.URL.Query().Get("spec"))
		reply(w, log, events, err)
	})
	registerRollout(mux, b, log)
	registerTop(mux, b, log)
	return mux
}

func reply(w http.ResponseWriter, log logr.Logger, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status, reason := http.StatusInternalServerError, "Internal"
		switch {
		case errors.Is(err, ErrNotFound):
			status, reason = http.StatusNotFound, "NotFound"
		case errors.Is(err, ErrInvalid):
			status, reason = http.StatusUnprocessableEntity, "Invalid"
		default:
			log.Error(err, "api call failed")
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error(), Reason: reason})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// Listen opens the unix socket at path with mode 0600, replacing a stale
// socket left by a daemon that died, but refusing to steal one that a
// running daemon still answers on.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating socket directory: %w", err)
	}
	if conn, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
		conn.Close()
		return nil, fmt.Errorf("another scalerd already serves %s; stop it or pass another --socket", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restricting %s to its owner: %w", path, err)
	}
	return l, nil
}
