package controlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
	mux.HandleFunc("POST /v1/specs/{name}/autoscaling", func(w http.ResponseWriter, r *http.Request) {
		var req BoundsRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, log, nil, fmt.Errorf("%w: autoscaling body: %v", ErrInvalid, err))
			return
		}
		reply(w, log, struct{}{}, b.SetAutoscalingBounds(r.Context(), r.PathValue("name"), req.MinReplicas, req.MaxReplicas))
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
	registerLogs(mux, b, log)
	registerExec(mux, b, log)
	registerVersion(mux, b, log)
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

// Listen opens the unix socket at path with mode 0600. The socket's
// directory must be scalerd's own (CheckSocketDir): whoever can write to it
// could put a socket of their own in place and receive every apply, with
// the secrets of its env. A socket left by a daemon that died is replaced;
// one that a running daemon still answers on, or anything that is not a
// socket, is left alone and Listen fails saying so.
func Listen(path string) (net.Listener, error) {
	return ListenGroup(path, -1)
}

// ListenGroup is Listen for a socket shared with a group: with gid >= 0
// the socket is 0660 and belongs to that group, whose members can then
// call scalerd (scalectl without root), and its directory may be 0750 of
// that group (CheckSocketDirGroup). gid < 0 is Listen.
func ListenGroup(path string, gid int) (net.Listener, error) {
	if err := CheckSocketDirGroup(path, gid); err != nil {
		return nil, err
	}
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("--socket %s: %w", path, err)
	case info.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("--socket %s: something that is not a socket is there (%s); scalerd removes only a stale socket: move it away or pass another --socket", path, describeMode(info.Mode()))
	default:
		if conn, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
			conn.Close()
			return nil, fmt.Errorf("another scalerd already serves %s; stop it or pass another --socket", path)
		}
		// Nothing answers: a daemon that died left it.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	// No moment in which the socket is open to others: it is created
	// under umask 077, then set 0600. The umask is the process's, and
	// scalerd creates no other file while it starts to listen.
	old := syscall.Umask(0o077)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("--socket-group: giving %s to group %d: %w; scalerd must be a member of that group or root", path, gid, err)
		}
		if err := os.Chmod(path, 0o660); err != nil {
			l.Close()
			return nil, fmt.Errorf("opening %s to its group: %w", path, err)
		}
		return l, nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restricting %s to its owner: %w", path, err)
	}
	return l, nil
}

// CheckSocketDir makes sure the socket's directory is scalerd's own: it
// creates it 0700 when missing; an existing one must be a directory, not a
// symlink, owned by scalerd's user and closed to everyone else (no group or
// other permission bits). Anything else is refused, saying what to fix:
// another local user who created /tmp/scaler-$UID first could otherwise
// swap in a socket of their own.
func CheckSocketDir(socketPath string) error {
	return CheckSocketDirGroup(socketPath, -1)
}

// CheckSocketDirGroup is CheckSocketDir for a socket shared with group gid
// (--socket-group): the directory may also grant that group read and
// search (0750, as systemd's RuntimeDirectoryMode=0750 with Group= makes
// it), never write, and only when the directory belongs to that group.
// gid < 0 is CheckSocketDir.
func CheckSocketDirGroup(socketPath string, gid int) error {
	dir := filepath.Dir(socketPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the socket directory %s: %w", dir, err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", dir, err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket directory %s is a symlink; scalerd listens only in a directory of its own: remove the link, or pass --socket in a directory you own with mode 0700", dir)
	}
	if !info.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory (%s); pass --socket in a directory you own with mode 0700", dir, describeMode(info.Mode()))
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("socket directory %s belongs to uid %d, not to scalerd's user (uid %d): whoever owns it could replace the socket; remove it (it is re-created 0700) or pass --socket in a directory you own", dir, st.Uid, os.Getuid())
	}
	perm := info.Mode().Perm()
	switch {
	case gid < 0 && perm&0o077 != 0:
		return fmt.Errorf("socket directory %s has mode %04o: other users could replace the socket; run chmod 700 %s, or pass --socket in a directory you own with mode 0700", dir, perm, dir)
	case gid >= 0 && perm&0o027 != 0:
		return fmt.Errorf("socket directory %s has mode %04o: with --socket-group it may grant its group read and search (0750) but not write, and nothing to others; run chmod 750 %s", dir, perm, dir)
	case gid >= 0 && perm&0o050 != 0 && ok && int(st.Gid) != gid:
		return fmt.Errorf("socket directory %s has mode %04o but belongs to group %d, not --socket-group's %d: members of another group could use it; run chgrp %d %s, or chmod 700 %s", dir, perm, st.Gid, gid, gid, dir, dir)
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	default:
		return m.Type().String()
	}
}
