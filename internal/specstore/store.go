// Package specstore keeps the ScaleSpecs of one directory: it loads every
// spec file, watches the directory for edits, and writes changes made
// through scalectl back to the files. It is the only package that touches
// the spec files.
//
// The store never lets an invalid edit take effect: each spec has a version
// in force (the last valid one) and, separately, the error of its file's
// current version. The controller runs the version in force and reports the
// error as SpecValid=False.
package specstore

import (
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ErrNotFound is returned by the writers for a name no file defines.
var ErrNotFound = errors.New("spec not found")

// deleteGrace is how long a spec whose file or document vanished stays in
// force before it is deleted. Editors save by renaming the old file away and
// writing a new one, and cp truncates before writing; in that window the
// spec looks deleted, and deleting it would destroy every replica. A real
// delete only takes this much longer.
const deleteGrace = 500 * time.Millisecond

// Store holds the specs of one directory. It is safe for concurrent use.
type Store struct {
	dir string
	log logr.Logger
	// stateDir, if set, is where the store records what it knows of each
	// spec, so that a restart does not forget it (state.go).
	stateDir string

	// writeMu serialises reloads and writes, so that a write reads, edits
	// and re-reads the files without another reload in between.
	writeMu sync.Mutex

	mu          sync.RWMutex // guards the fields below
	entries     map[string]*entry
	files       map[string][]string // file name → spec names attributed to it
	fileErrors  []FileError
	generations map[string]int64 // last generation of every name ever seen
	listeners   []func(name string)
	// fileListeners hear of problems that belong to no spec.
	fileListeners []func(FileError)
	// opaque lists the files, or documents, that may define any spec: a
	// file that cannot be read, or a syntax error before metadata.name.
	// While there are any, a name the store does not know may still be
	// defined, and Defined says so.
	opaque []FileError
	// gone holds the names the store saw deleted, which the opaque files
	// cannot bring back.
	gone map[string]bool
	// recorded is what the state directory holds, by name; stateErr is
	// why the last attempt to write it failed, nil when it did not.
	recorded map[string]recordKey
	stateErr error

	// recheck wakes Run to look again once a pending deletion's grace ends.
	recheck chan struct{}
	now     func() time.Time
}

type entry struct {
	spec     *v1alpha1.ScaleSpec // in force; nil when never valid
	err      error
	warnings []string
	path     string
	// missingSince is when the spec's file or document went away; zero
	// while it is defined. See deleteGrace.
	missingSince time.Time
}

// Entry is what the store knows about one spec name.
type Entry struct {
	Name string
	// Spec is the spec in force: defaulted, with its generation. It is nil
	// when no version of the spec has been valid yet.
	Spec *v1alpha1.ScaleSpec
	// Err says why the file's current version is not in force; nil when it
	// is. It is an ErrorList whose lines name the file and line.
	Err error
	// Warnings are set-level findings that do not stop the spec, like a
	// dependsOn naming a spec that does not exist.
	Warnings []string
	// Path is the file that defines the spec.
	Path string
}

// FileError is a problem of a whole file, or of a document whose spec name
// cannot be read, so that it belongs to no spec.
type FileError struct {
	Path string
	Err  error
}

// Open loads every spec file of dir. Files with errors do not make Open
// fail (they are reported through Get, List and FileErrors); a directory
// that cannot be read does. A store opened this way forgets everything on
// a restart; scalerd uses OpenWithState.
func Open(dir string, log logr.Logger) (*Store, error) {
	return OpenWithState(dir, "", log)
}

// OpenWithState is Open for a store that remembers, in stateDir, the file
// and the last valid version of each spec (see state.go). It first takes
// what stateDir holds as the specs in force, then reads the files: a spec
// whose file is broken keeps its recorded version in force, and only a
// file that is gone, or that parses without the spec, deletes it. Leftover
// temp files of writes that a kill interrupted are removed.
func OpenWithState(dir, stateDir string, log logr.Logger) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:         abs,
		log:         log,
		stateDir:    stateDir,
		entries:     map[string]*entry{},
		files:       map[string][]string{},
		generations: map[string]int64{},
		gone:        map[string]bool{},
		recorded:    map[string]recordKey{},
		recheck:     make(chan struct{}, 1),
		now:         time.Now,
	}
	s.removeTempFiles()
	if stateDir != "" {
		if err := s.loadRecords(); err != nil {
			return nil, err
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, _, err := s.reloadLocked(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir is the directory the store reads.
func (s *Store) Dir() string { return s.dir }

// OnChange registers fn to be called with a spec's name whenever its spec in
// force, its error or its file changes, and when it is deleted. fn may run
// on several goroutines at once and must return quickly: enqueue the name,
// read the store later. It must not write to the store.
func (s *Store) OnChange(fn func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

// OnFileError registers fn to be called, once per new problem, with each
// problem of a file that belongs to no spec: a syntax error before
// metadata.name in a file the store never knew, say. Nothing else reports
// those, since no spec can carry them. The same rules as OnChange apply.
func (s *Store) OnFileError(fn func(FileError)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fileListeners = append(s.fileListeners, fn)
}

// Get returns a copy of the spec in force, which the caller may change,
// and the error of its file's current version (nil when that version is
// the one in force). ok is false when no valid version of the spec exists;
// specErr then still says why, for a spec whose only version is invalid.
//
// A store remembers the last valid version only while it runs: after a
// restart, a spec whose file is broken has none, and Get says !ok. Before
// removing what runs for a name, check Defined: a broken file must not
// destroy its app.
func (s *Store) Get(name string) (spec *v1alpha1.ScaleSpec, specErr error, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, found := s.entries[name]
	if !found {
		if s.mayDefineLocked(name) {
			return nil, s.opaqueErrLocked(), false
		}
		return nil, nil, false
	}
	return e.spec.DeepCopy(), e.err, e.spec != nil
}

// List returns every known spec name's entry, sorted by name, with copies of
// the specs.
func (s *Store) List() []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Entry, 0, len(s.entries))
	for name, e := range s.entries {
		out = append(out, Entry{
			Name:     name,
			Spec:     e.spec.DeepCopy(),
			Err:      e.err,
			Warnings: append([]string(nil), e.warnings...),
			Path:     e.path,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Defined reports whether a file still defines the name, valid or not, or
// may define it, or the spec is waiting out its deletion grace. Only when
// it is false has the user removed the spec.
//
// A file that cannot be read, or whose syntax error comes before
// metadata.name, may define any spec: while there is one, every name the
// store does not know is Defined, unless the store saw it deleted. That
// covers a restart without a record of the spec (a new state directory).
func (s *Store) Defined(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.entries[name]
	return ok || s.mayDefineLocked(name)
}

func (s *Store) mayDefineLocked(name string) bool {
	return len(s.opaque) > 0 && !s.gone[name]
}

// opaqueErrLocked says why an unknown name may still be defined.
func (s *Store) opaqueErrLocked() error {
	var errs v1alpha1.ErrorList
	for _, fe := range s.opaque {
		errs = append(errs, v1alpha1.AsErrorList(fe.Err)...)
	}
	errs = append(errs, &v1alpha1.FieldError{Message: "this spec may be defined in a file that cannot be read (above); until it is fixed, scalerd does not take the spec as deleted"})
	return errs
}

// StateErr says why the store could not record the specs in force in the
// state directory, nil when it could.
func (s *Store) StateErr() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stateErr
}

// Names lists every spec a file defines, sorted: those in force and those
// with no valid version yet, which the controller reconciles too, so that
// they report why they do not run.
func (s *Store) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.entries))
	for name := range s.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Path returns the file that defines the spec.
func (s *Store) Path(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[name]
	if !ok {
		return "", false
	}
	return e.path, true
}

// FileErrors lists the problems that belong to no single spec, sorted by
// file.
func (s *Store) FileErrors() []FileError {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]FileError(nil), s.fileErrors...)
}

func (s *Store) notify(names []string) {
	if len(names) == 0 {
		return
	}
	s.mu.RLock()
	listeners := append([]func(string){}, s.listeners...)
	s.mu.RUnlock()
	for _, name := range names {
		for _, fn := range listeners {
			fn(name)
		}
	}
}

// IsSpecFileName reports whether a file name in the spec directory holds
// specs: *.yaml and *.yml, but not dotfiles, which is where editors and this
// store keep swap and temporary files (.web.yaml.swp, .scaler-*.tmp).
// Backups (web.yaml~), vim's probe file (4913) and emacs' autosaves
// (#web.yaml#) lack the suffix.
func IsSpecFileName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}
