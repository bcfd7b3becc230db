package specstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// The store remembers, in scalerd's state directory, what it knew of each
// spec: the file that defined it and its last valid version. A store that
// starts while a file is broken (a tab before `kind:`, say, so that no name
// can be read from it) then still knows which specs the file held and keeps
// their last valid versions in force, where without the record the specs
// would look deleted and their replicas would be removed.
//
// One JSON file a spec, <stateDir>/<name>.json, written atomically. A record
// that cannot be read or no longer validates is moved aside and logged: the
// spec it described then has no valid version known, which leaves what runs
// alone until its file is fixed, never removes it.

// record is what the state directory holds of one spec.
type record struct {
	// File is the base name of the spec file that defined the spec.
	File       string `json:"file"`
	Generation int64  `json:"generation"`
	// Spec is the spec in force, without status; null for a spec whose
	// every version so far was invalid.
	Spec json.RawMessage `json:"spec"`
}

// recordKey is what decides whether a record must be written again.
type recordKey struct {
	file       string
	generation int64
	hasSpec    bool
}

func keyOf(e *entry) recordKey {
	return recordKey{file: filepath.Base(e.path), generation: generation(e.spec), hasSpec: e.spec != nil}
}

func (s *Store) recordPath(name string) string { return filepath.Join(s.stateDir, name+".json") }

// loadRecords reads the state directory into the store before its first
// reload, as if the recorded specs had been loaded from their files.
func (s *Store) loadRecords() error {
	if err := os.MkdirAll(s.stateDir, 0o700); err != nil {
		return fmt.Errorf("creating the spec state directory: %w", err)
	}
	dirEntries, err := os.ReadDir(s.stateDir)
	if err != nil {
		return fmt.Errorf("reading the spec state directory: %w", err)
	}
	for _, de := range dirEntries {
		fileName := de.Name()
		if strings.HasPrefix(fileName, ".") {
			// A temp file of a write that a kill interrupted.
			if strings.HasSuffix(fileName, ".tmp") {
				_ = os.Remove(filepath.Join(s.stateDir, fileName))
			}
			continue
		}
		name, ok := strings.CutSuffix(fileName, ".json")
		if !ok || !v1alpha1.IsValidName(name) || de.IsDir() {
			continue
		}
		rec, spec, err := s.readRecord(name)
		if err != nil {
			s.log.Error(err, "spec record unreadable; moved aside, and what runs of the spec is left alone until its file is fixed", "spec", name)
			s.moveAside(name)
			if rec == nil {
				continue
			}
		}
		e := &entry{spec: spec, path: filepath.Join(s.dir, rec.File)}
		s.entries[name] = e
		s.files[rec.File] = append(s.files[rec.File], name)
		s.generations[name] = rec.Generation
		if err == nil {
			s.recorded[name] = keyOf(e)
		}
	}
	return nil
}

// readRecord reads and checks one record. A record whose spec no longer
// validates (a rule of a newer scaler) still says which file held the spec:
// rec is then returned with the error, and spec is nil.
func (s *Store) readRecord(name string) (rec *record, spec *v1alpha1.ScaleSpec, err error) {
	path := s.recordPath(name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	rec = &record{}
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if rec.File == "" || rec.File != filepath.Base(rec.File) || !IsSpecFileName(rec.File) {
		return nil, nil, fmt.Errorf("%s: %q is not a spec file name", path, rec.File)
	}
	if len(rec.Spec) == 0 || string(rec.Spec) == "null" {
		return rec, nil, nil
	}
	// JSON is YAML: the record goes through the same strict decoding,
	// defaults and validation as a file.
	docs, err := v1alpha1.LoadDocuments(path, rec.Spec)
	switch {
	case err != nil:
		return rec, nil, err
	case len(docs) != 1:
		return rec, nil, fmt.Errorf("%s: %d specs in one record", path, len(docs))
	case docs[0].Err != nil:
		return rec, nil, docs[0].Err
	case docs[0].Spec.Metadata.Name != name:
		return rec, nil, fmt.Errorf("%s: the record holds spec %q", path, docs[0].Spec.Metadata.Name)
	}
	spec = docs[0].Spec
	spec.Metadata.Generation = rec.Generation
	return rec, spec, nil
}

// moveAside keeps a bad record for a post-mortem, out of the way of the
// next load.
func (s *Store) moveAside(name string) {
	path := s.recordPath(name)
	if err := os.Rename(path, path+".corrupt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error(err, "cannot move a bad spec record aside", "path", path)
	}
}

// saveRecords brings the state directory in line with entries: a record for
// each known spec, none for a deleted one. A record that cannot be written
// is logged and tried again on the next reload; it never stops the store.
// It returns the last failure. The caller holds writeMu.
func (s *Store) saveRecords(entries map[string]*entry) error {
	if s.stateDir == "" {
		return nil
	}
	var failed []string
	var lastErr error
	for name, e := range entries {
		key := keyOf(e)
		if prev, ok := s.recorded[name]; ok && prev == key {
			continue
		}
		if err := s.writeRecord(name, e); err != nil {
			// A temp file's random name would make each failure look new.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			failed, lastErr = append(failed, name), err
			continue
		}
		s.recorded[name] = key
	}
	for name := range s.recorded {
		if _, ok := entries[name]; ok {
			continue
		}
		if err := os.Remove(s.recordPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			failed, lastErr = append(failed, name), err
			continue
		}
		delete(s.recorded, name)
	}
	if lastErr == nil {
		return nil
	}
	err := fmt.Errorf("recording specs in %s: %w", s.stateDir, lastErr)
	if s.stateErr != nil && s.stateErr.Error() == err.Error() {
		return err // logged already
	}
	s.log.Error(lastErr, "cannot record the specs in force in the state directory; a restart while their files are broken would not know them", "specs", failed, "dir", s.stateDir)
	return err
}

func (s *Store) writeRecord(name string, e *entry) error {
	rec := record{File: filepath.Base(e.path), Generation: generation(e.spec), Spec: json.RawMessage("null")}
	if e.spec != nil {
		spec := e.spec.DeepCopy()
		spec.Status = nil
		spec.Metadata.Generation = 0
		b, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		rec.Spec = b
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomicFile(s.recordPath(name), data, 0o600)
}
