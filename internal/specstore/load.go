package specstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ReadSpecFile reads a spec file of at most v1alpha1.MaxFileSize bytes.
// A larger one is refused without being read into memory: a stray large
// file, or a hostile one, costs nothing. scalerd and scalectl both read
// through it.
func ReadSpecFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadSpecs(f)
}

// ReadSpecs reads spec documents from r (a file, stdin), refusing more
// than v1alpha1.MaxFileSize bytes.
func ReadSpecs(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, v1alpha1.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > v1alpha1.MaxFileSize {
		return nil, fmt.Errorf("the file is larger than %d bytes (4 MiB), the most a spec file may have; split it into several files", v1alpha1.MaxFileSize)
	}
	return data, nil
}

// loadedFile is one spec file as read from disk.
type loadedFile struct {
	name string // base name; errors and attributions use it
	err  error  // the whole file failed: unreadable, or no documents
	// opaque is set when the file could not be read at all, so that it
	// may define any spec.
	opaque bool
	docs   []v1alpha1.Document
}

// readDir loads every spec file of the directory. The directory is small;
// reading all of it on any change is simpler and surer than tracking which
// file an event was about, which renames make unreliable anyway.
func (s *Store) readDir() ([]loadedFile, error) {
	dirEntries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read spec directory: %w", err)
	}
	var files []loadedFile
	for _, de := range dirEntries {
		if !IsSpecFileName(de.Name()) {
			continue
		}
		f, ok := s.readFile(de.Name())
		if ok {
			files = append(files, f)
		}
	}
	return files, nil
}

// readFile loads one file; ok is false when it is not a spec file after all
// (a directory, a dangling link) or vanished while being read.
func (s *Store) readFile(name string) (f loadedFile, ok bool) {
	f.name = name
	path := filepath.Join(s.dir, name)
	info, err := os.Stat(path) // follows a symlinked file
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, false
	case err != nil:
		f.err, f.opaque = err, true
		return f, true
	case !info.Mode().IsRegular():
		return f, false
	}
	data, err := ReadSpecFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, false
	}
	if err != nil {
		f.err, f.opaque = fmt.Errorf("%s: %w", name, err), true
		return f, true
	}
	f.docs, f.err = v1alpha1.LoadDocuments(name, data)
	return f, true
}

// candidate is one document that defines a spec name.
type candidate struct {
	file string
	doc  v1alpha1.Document
}

// reloadLocked re-reads the directory and brings the store up to date. It
// returns the names whose entry changed, for the listeners, and whether a
// spec is waiting out its deletion grace. Names in deleteNow are deleted at
// once if gone (the store itself removed them). The caller holds writeMu.
func (s *Store) reloadLocked(deleteNow map[string]bool) (changed []string, pendingDelete bool, err error) {
	files, err := s.readDir()
	if err != nil {
		// Keep every spec in force: a directory that is gone for a moment
		// (moved, remounted) must not delete the apps.
		s.log.Error(err, "cannot read the spec directory; keeping every spec in force", "dir", s.dir)
		s.mu.Lock()
		s.fileErrors = []FileError{{Path: s.dir, Err: err}}
		s.mu.Unlock()
		return nil, false, err
	}
	old := s.entries // only this goroutine writes it while writeMu is held

	defined := map[string][]candidate{}
	for _, f := range files {
		for _, d := range f.docs {
			if v1alpha1.IsValidName(d.Name) {
				defined[d.Name] = append(defined[d.Name], candidate{f.name, d})
			}
		}
	}

	// Errors that no spec name can be read from go to the specs the file
	// defined before: a typo that breaks a file must not delete its apps.
	attributed := map[string]v1alpha1.ErrorList{}
	paths := map[string]string{}
	newFiles := map[string][]string{}
	var fileErrors, opaque []FileError
	for _, f := range files {
		var names []string
		var orphans, hiding v1alpha1.ErrorList
		if f.err != nil {
			orphans = v1alpha1.AsErrorList(f.err)
			if f.opaque {
				hiding = orphans
			}
		}
		for _, d := range f.docs {
			if v1alpha1.IsValidName(d.Name) {
				names = append(names, d.Name)
			} else {
				orphans = append(orphans, v1alpha1.AsErrorList(d.Err)...)
			}
			if d.NameUnknown {
				hiding = append(hiding, v1alpha1.AsErrorList(d.Err)...)
			}
		}
		if len(hiding) > 0 {
			opaque = append(opaque, FileError{Path: filepath.Join(s.dir, f.name), Err: hiding})
		}
		if len(orphans) > 0 {
			fileErrors = append(fileErrors, FileError{Path: filepath.Join(s.dir, f.name), Err: orphans})
			for _, prev := range s.files[f.name] {
				if _, ok := defined[prev]; ok || slices.Contains(names, prev) {
					continue
				}
				attributed[prev] = append(attributed[prev], orphans...)
				paths[prev] = filepath.Join(s.dir, f.name)
				names = append(names, prev)
			}
		}
		newFiles[f.name] = names
	}

	valid := map[string]candidate{}
	nameErr := map[string]v1alpha1.ErrorList{}
	for name, cands := range defined {
		paths[name] = filepath.Join(s.dir, cands[0].file)
		switch {
		case len(cands) > 1:
			nameErr[name] = duplicateErrors(name, cands)
		case cands[0].doc.Err != nil:
			nameErr[name] = v1alpha1.AsErrorList(cands[0].doc.Err)
		default:
			valid[name] = cands[0]
		}
	}
	for name, errs := range attributed {
		nameErr[name] = errs
	}

	rejected, warnings := s.checkSet(old, valid, nameErr)

	now := s.now()
	entries := map[string]*entry{}
	for name, p := range paths {
		prev := old[name]
		e := &entry{path: p, warnings: warnings[name]}
		if c, ok := valid[name]; ok && !rejected[name] {
			spec := c.doc.Spec
			if prev != nil && prev.spec != nil && v1alpha1.SpecEqual(&prev.spec.Spec, &spec.Spec) {
				spec.Metadata.Generation = prev.spec.Metadata.Generation
			} else {
				s.generations[name]++
				spec.Metadata.Generation = s.generations[name]
			}
			e.spec = spec
		} else {
			e.err = nameErr[name]
			if prev != nil {
				e.spec = prev.spec
			}
		}
		entries[name] = e
	}
	for name, prev := range old {
		if _, ok := entries[name]; ok {
			continue
		}
		if deleteNow[name] || (!prev.missingSince.IsZero() && now.Sub(prev.missingSince) >= deleteGrace) {
			continue
		}
		kept := *prev
		if kept.missingSince.IsZero() {
			kept.missingSince = now
		}
		entries[name] = &kept
		pendingDelete = true
	}

	changed = s.logChanges(old, entries)
	sort.Slice(fileErrors, func(i, j int) bool { return fileErrors[i].Path < fileErrors[j].Path })
	s.reportFileErrors(fileErrors)
	sort.Slice(opaque, func(i, j int) bool { return opaque[i].Path < opaque[j].Path })
	stateErr := s.saveRecords(entries)
	s.mu.Lock()
	for name := range old {
		if _, ok := entries[name]; !ok {
			s.gone[name] = true
		}
	}
	for name := range entries {
		delete(s.gone, name)
	}
	s.entries = entries
	s.files = newFiles
	s.fileErrors = fileErrors
	s.opaque = opaque
	s.stateErr = stateErr
	s.mu.Unlock()
	return changed, pendingDelete, nil
}

// checkSet runs the cross-spec checks over what would be in force: the
// valid candidates, and the specs in force of names whose file is broken or
// gone (they keep running). A candidate that fails is rejected, its old
// version stays, and the check runs again, since that old version may
// clash in turn; each round rejects at least one candidate or ends.
func (s *Store) checkSet(old map[string]*entry, valid map[string]candidate, nameErr map[string]v1alpha1.ErrorList) (rejected map[string]bool, warnings map[string][]string) {
	rejected = map[string]bool{}
	names := make([]string, 0, len(old)+len(valid))
	for name := range old {
		names = append(names, name)
	}
	for name := range valid {
		if _, ok := old[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for {
		// What is in force and unchanged goes first, so that a clash is
		// blamed on the spec that changed.
		var inForce, changed []*v1alpha1.ScaleSpec
		isChanged := map[*v1alpha1.ScaleSpec]bool{}
		isUnchanged := map[*v1alpha1.ScaleSpec]bool{}
		for _, name := range names {
			prev := old[name]
			c, ok := valid[name]
			switch {
			case ok && !rejected[name]:
				if prev != nil && prev.spec != nil && v1alpha1.SpecEqual(&prev.spec.Spec, &c.doc.Spec.Spec) {
					inForce = append(inForce, c.doc.Spec)
					isUnchanged[c.doc.Spec] = true
				} else {
					changed = append(changed, c.doc.Spec)
					isChanged[c.doc.Spec] = true
				}
			case prev != nil && prev.spec != nil:
				inForce = append(inForce, prev.spec)
			}
		}
		warnings = map[string][]string{}
		var blameChanged, blameUnchanged []v1alpha1.SetProblem
		for _, p := range v1alpha1.CheckSet(append(inForce, changed...)) {
			switch {
			case p.Warning:
				name := p.Spec.Metadata.Name
				warnings[name] = append(warnings[name], p.Err.Error())
			case isChanged[p.Spec]:
				blameChanged = append(blameChanged, p)
			case isUnchanged[p.Spec]:
				blameUnchanged = append(blameUnchanged, p)
			}
		}
		// A cycle names every member, but only an edit can have closed
		// it; the unchanged members are blamed only when no edit is.
		blame := blameChanged
		if len(blame) == 0 {
			blame = blameUnchanged
		}
		if len(blame) == 0 {
			return rejected, warnings
		}
		for _, p := range blame {
			name := p.Spec.Metadata.Name
			rejected[name] = true
			nameErr[name] = append(nameErr[name], p.Err)
		}
	}
}

// duplicateErrors blames every document that defines the same name.
func duplicateErrors(name string, cands []candidate) v1alpha1.ErrorList {
	where := make([]string, len(cands))
	for i, c := range cands {
		where[i] = fmt.Sprintf("%s:%d", c.file, c.doc.Line)
	}
	var errs v1alpha1.ErrorList
	for _, c := range cands {
		errs = append(errs, &v1alpha1.FieldError{
			File: c.file, Line: c.doc.Line, Path: "metadata.name",
			Message: fmt.Sprintf("%q is defined more than once (%s); keep one", name, strings.Join(where, ", ")),
		})
	}
	return errs
}

// logChanges logs what changed between two states and returns the names
// that changed, sorted.
func (s *Store) logChanges(old, cur map[string]*entry) []string {
	var changed []string
	for name, e := range cur {
		prev := old[name]
		if prev != nil && sameEntry(prev, e) {
			continue
		}
		changed = append(changed, name)
		switch {
		case e.err != nil && (prev == nil || errText(prev.err) != errText(e.err)):
			if e.spec != nil {
				s.log.Error(e.err, "spec invalid; its last valid version stays in force", "spec", name, "generation", e.spec.Metadata.Generation)
			} else {
				s.log.Error(e.err, "spec invalid; nothing of it runs", "spec", name)
			}
		case e.spec != nil && (prev == nil || prev.spec == nil || prev.spec.Metadata.Generation != e.spec.Metadata.Generation):
			s.log.Info("spec loaded", "spec", name, "generation", e.spec.Metadata.Generation, "file", e.path)
		case e.err == nil && prev != nil && prev.err != nil:
			s.log.Info("spec valid again", "spec", name, "generation", generation(e.spec), "file", e.path)
		}
	}
	for name := range old {
		if _, ok := cur[name]; !ok {
			changed = append(changed, name)
			s.log.Info("spec deleted", "spec", name)
		}
	}
	sort.Strings(changed)
	return changed
}

// reportFileErrors logs and tells the file listeners of each problem that
// belongs to no spec and was not there at the last reload. The caller
// holds writeMu, which also guards s.fileErrors against other writers.
func (s *Store) reportFileErrors(cur []FileError) {
	seen := map[string]bool{}
	for _, fe := range s.fileErrors {
		seen[fe.Path+"\x00"+errText(fe.Err)] = true
	}
	s.mu.RLock()
	listeners := append([]func(FileError){}, s.fileListeners...)
	s.mu.RUnlock()
	for _, fe := range cur {
		if seen[fe.Path+"\x00"+errText(fe.Err)] {
			continue
		}
		s.log.Error(fe.Err, "spec file has errors no spec name can be read from; specs it defined keep their last valid version", "file", fe.Path)
		for _, fn := range listeners {
			fn(fe)
		}
	}
}

// sameEntry reports whether a listener would see no difference.
func sameEntry(a, b *entry) bool {
	return generation(a.spec) == generation(b.spec) &&
		(a.spec == nil) == (b.spec == nil) &&
		errText(a.err) == errText(b.err) &&
		a.path == b.path &&
		slices.Equal(a.warnings, b.warnings)
}

func generation(s *v1alpha1.ScaleSpec) int64 {
	if s == nil {
		return 0
	}
	return s.Metadata.Generation
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
