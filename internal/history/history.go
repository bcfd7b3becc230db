// Package history keeps the rollout history of each spec: the templates it
// ran, numbered as revisions, so that `scalectl rollout undo` can write an
// earlier one back. It lives in scalerd's state directory, one JSON file a
// spec, each written atomically (temp file, fsync, rename).
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ErrNoRevision means the asked-for revision is not in the history.
var ErrNoRevision = errors.New("no such revision")

// ErrNotSaved wraps a failure to write a history file. The revision it
// goes with is kept in memory and valid; the write is tried again on the
// next Record.
var ErrNotSaved = errors.New("the rollout history could not be written")

// Revision is one template a spec ran.
type Revision struct {
	Revision int64 `json:"revision"`
	// Hash is the template hash replicas of this revision carry.
	Hash     string            `json:"hash"`
	Template v1alpha1.Template `json:"template"`
	Created  time.Time         `json:"created"`
}

// specHistory is the file of one spec.
type specHistory struct {
	Revisions []Revision `json:"revisions"` // ascending
	// RestartedAt is set by `rollout restart`: it is folded into the
	// template hash, so every replica is replaced with no template change.
	RestartedAt string `json:"restartedAt,omitempty"`
}

// Store is the history of every spec under one directory.
type Store struct {
	dir string
	mu  sync.Mutex
	// specs caches what is on disk; the files are the truth after a restart.
	specs map[string]*specHistory
	// unsaved holds the specs whose history in memory is newer than
	// their file, because a write failed.
	unsaved map[string]bool
	now     func() time.Time
	// OnCorrupt, if set, is told of a history file that could not be
	// decoded and was moved aside to movedTo; the spec's history starts
	// afresh. scalerd logs it and records an event.
	OnCorrupt func(spec, movedTo string, err error)
}

// Open returns the history kept in dir, creating dir if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating history directory: %w", err)
	}
	return &Store{dir: dir, specs: map[string]*specHistory{}, unsaved: map[string]bool{}, now: time.Now}, nil
}

func (s *Store) path(spec string) string { return filepath.Join(s.dir, spec+".json") }

// load returns the cached history of spec, reading its file the first time.
func (s *Store) load(spec string) (*specHistory, error) {
	if h, ok := s.specs[spec]; ok {
		return h, nil
	}
	h := &specHistory{}
	data, err := os.ReadFile(s.path(spec))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading history of %s: %w", spec, err)
	default:
		if err := json.Unmarshal(data, h); err != nil {
			// A history is a convenience: a corrupt one starts afresh
			// rather than stopping the spec from converging, but it is
			// kept, and said, never silently dropped.
			h = &specHistory{}
			movedTo := s.path(spec) + ".corrupt-" + s.now().UTC().Format("20060102T150405Z")
			if mvErr := os.Rename(s.path(spec), movedTo); mvErr != nil {
				err = errors.Join(err, fmt.Errorf("moving it aside: %w", mvErr))
				movedTo = ""
			} else {
				_ = syncDir(s.dir)
			}
			if s.OnCorrupt != nil {
				s.OnCorrupt(spec, movedTo, fmt.Errorf("history of %s in %s is corrupt: %w", spec, s.path(spec), err))
			}
		}
	}
	s.specs[spec] = h
	return h, nil
}

// save writes the history of spec atomically: a temp file, synced, renamed
// over the old one, and the directory synced so that the rename survives a
// power loss.
func (s *Store) save(spec string, h *specHistory) error {
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(s.dir, s.path(spec), "."+spec+".*.tmp", data); err != nil {
		// The temp file's random name would make each failure look new.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing history of %s in %s: %w", spec, s.dir, err)
	}
	return nil
}

func writeFile(dir, path, pattern string, data []byte) error {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Record makes hash the current revision of spec and returns its number.
// A hash already current keeps its number; an older one (an undo) moves to
// a new number at the top, as Kubernetes renumbers. At most limit revisions
// are kept, the current one always among them.
//
// When the file cannot be written, the revision still counts, in memory,
// and Record returns its number with an error wrapping ErrNotSaved; each
// later Record tries the write again. Only a history that cannot be read
// returns 0.
func (s *Store) Record(spec, hash string, t v1alpha1.Template, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.load(spec)
	if err != nil {
		return 0, err
	}
	n := len(h.Revisions)
	if n > 0 && h.Revisions[n-1].Hash == hash {
		return h.Revisions[n-1].Revision, s.retrySave(spec, h)
	}
	next := int64(1)
	if n > 0 {
		next = h.Revisions[n-1].Revision + 1
	}
	kept := h.Revisions[:0:0]
	for _, r := range h.Revisions {
		if r.Hash != hash {
			kept = append(kept, r)
		}
	}
	kept = append(kept, Revision{Revision: next, Hash: hash, Template: *t.DeepCopy(), Created: s.now().UTC().Truncate(time.Second)})
	if limit < 1 {
		limit = 1
	}
	if len(kept) > limit {
		kept = kept[len(kept)-limit:]
	}
	h.Revisions = kept
	s.unsaved[spec] = true
	return next, s.retrySave(spec, h)
}

// retrySave writes a history that memory holds newer than its file.
func (s *Store) retrySave(spec string, h *specHistory) error {
	if !s.unsaved[spec] {
		return nil
	}
	if err := s.save(spec, h); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSaved, err)
	}
	delete(s.unsaved, spec)
	return nil
}

// List returns the revisions of spec, oldest first.
func (s *Store) List(spec string) ([]Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.load(spec)
	if err != nil {
		return nil, err
	}
	out := append([]Revision(nil), h.Revisions...)
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

// Previous returns revision n of spec or, for n == 0, the one before the
// current revision: the target of `rollout undo`.
func (s *Store) Previous(spec string, n int64) (Revision, error) {
	revs, err := s.List(spec)
	if err != nil {
		return Revision{}, err
	}
	if n == 0 {
		if len(revs) < 2 {
			return Revision{}, fmt.Errorf("%w: %s has no revision before the current one", ErrNoRevision, spec)
		}
		return revs[len(revs)-2], nil
	}
	for _, r := range revs {
		if r.Revision == n {
			return r, nil
		}
	}
	known := make([]string, len(revs))
	for i, r := range revs {
		known[i] = strconv.FormatInt(r.Revision, 10)
	}
	return Revision{}, fmt.Errorf("%w: %s has no revision %d (it has %v; scalectl rollout history %s lists them)", ErrNoRevision, spec, n, known, spec)
}

// Restart marks spec for a rolling restart and returns the new marker.
func (s *Store) Restart(spec string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.load(spec)
	if err != nil {
		return "", err
	}
	old := h.RestartedAt
	h.RestartedAt = s.now().UTC().Format(time.RFC3339Nano)
	if err := s.save(spec, h); err != nil {
		h.RestartedAt = old
		return "", err
	}
	delete(s.unsaved, spec)
	return h.RestartedAt, nil
}

// RestartedAt returns the restart marker of spec, "" if never restarted.
func (s *Store) RestartedAt(spec string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.load(spec)
	if err != nil {
		return ""
	}
	return h.RestartedAt
}

// Forget removes the history of a deleted spec.
func (s *Store) Forget(spec string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.specs, spec)
	delete(s.unsaved, spec)
	if err := os.Remove(s.path(spec)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing history of %s: %w", spec, err)
	}
	return nil
}
