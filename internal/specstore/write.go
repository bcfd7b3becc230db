package specstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Apply actions, as kubectl prints them.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// ApplyResult is what Apply did, or would do, with one spec.
type ApplyResult struct {
	Name   string
	Action string // ActionCreated, ActionConfigured or ActionUnchanged
	// Path is the file the spec was (or would be) written to.
	Path string
	// Warnings are findings that do not stop the spec, such as a
	// dependsOn naming a spec that does not exist yet.
	Warnings []string
	// Spec is the spec as decoded and validated (not defaulted).
	Spec *v1alpha1.ScaleSpec
}

// Apply writes the specs of one or more YAML documents to the directory, as
// `scalectl apply` does. Everything is validated first, each document on
// its own and all of them against the specs in force, and nothing is
// written unless all of it is valid. A new spec goes to <dir>/<name>.yaml;
// an existing one replaces its own document where it lives, leaving the
// other documents of that file byte for byte. A spec whose file already
// says the same is left alone ("unchanged"). With dryRun nothing is
// written.
//
// The documents carry no file name, so their errors name lines only
// ("line 7: spec.replicas: ..."); the client knows the file.
func (s *Store) Apply(data []byte, dryRun bool) ([]ApplyResult, error) {
	docs, err := v1alpha1.LoadDocuments("", data)
	if err != nil {
		return nil, err
	}
	var errs v1alpha1.ErrorList
	seen := map[string]bool{}
	var specs []*v1alpha1.ScaleSpec
	for _, d := range docs {
		if d.Err != nil {
			errs = append(errs, v1alpha1.AsErrorList(d.Err)...)
			continue
		}
		if seen[d.Spec.Metadata.Name] {
			errs = append(errs, &v1alpha1.FieldError{Line: d.Line, Path: "metadata.name",
				Message: fmt.Sprintf("%q is applied twice; keep one", d.Spec.Metadata.Name)})
			continue
		}
		seen[d.Spec.Metadata.Name] = true
		specs = append(specs, d.Spec)
	}
	if len(errs) > 0 {
		return nil, errs
	}

	s.writeMu.Lock()
	var changed []string
	defer func() {
		s.writeMu.Unlock()
		s.notify(changed)
	}()
	if changed, err = s.refreshLocked(nil); err != nil {
		return nil, err
	}

	results, err := s.checkApplied(specs)
	if err != nil {
		return nil, err
	}
	texts := map[*v1alpha1.ScaleSpec][]byte{}
	for _, d := range docs {
		texts[d.Spec] = data[d.Start:d.End]
	}
	edits := newFileEdits()
	for i, spec := range specs {
		results[i].Spec = spec
		if err := s.planApply(spec, texts[spec], &results[i], edits); err != nil {
			return nil, err
		}
	}
	if dryRun || len(edits.updated) == 0 {
		return results, nil
	}
	if err := edits.write(); err != nil {
		return nil, err
	}
	more, _ := s.refreshLocked(nil)
	changed = append(changed, more...)
	return results, nil
}

// refreshLocked reloads for a writer, which has no timer of its own for a
// deletion's grace and wakes Run to keep it.
func (s *Store) refreshLocked(deleteNow map[string]bool) ([]string, error) {
	changed, pending, err := s.reloadLocked(deleteNow)
	if pending {
		s.signalRecheck()
	}
	return changed, err
}

// fileEdits collects the new contents of files, remembering what each held
// when first read, so that a save made meanwhile is not silently lost.
type fileEdits struct {
	original map[string][]byte // nil: the file did not exist
	updated  map[string][]byte
}

func newFileEdits() *fileEdits {
	return &fileEdits{original: map[string][]byte{}, updated: map[string][]byte{}}
}

// content is a file's content as the edits so far leave it.
func (e *fileEdits) content(path string) ([]byte, error) {
	if data, ok := e.updated[path]; ok {
		return data, nil
	}
	if data, ok := e.original[path]; ok {
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read spec file: %w", err)
	}
	e.original[path] = data
	return data, nil
}

func (e *fileEdits) set(path string, data []byte) { e.updated[path] = data }

// write writes every changed file, each atomically.
func (e *fileEdits) write() error {
	paths := make([]string, 0, len(e.updated))
	for path := range e.updated {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if err := replaceFile(path, e.original[path], e.updated[path]); err != nil {
			return err
		}
	}
	return nil
}

// ErrConflict is returned when a file changed between the store reading it
// and writing it; the caller may try again.
var ErrConflict = errors.New("the file changed while scalerd was editing it; try again")

// replaceFile writes data over path only if the file still holds old (nil
// for a file that did not exist), so that an edit saved meanwhile in an
// editor is reported, not overwritten.
func replaceFile(path string, old, data []byte) error {
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if old != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), ErrConflict)
		}
	case err != nil:
		return fmt.Errorf("read spec file: %w", err)
	case old == nil || !bytes.Equal(cur, old):
		return fmt.Errorf("%s: %w", filepath.Base(path), ErrConflict)
	}
	return writeAtomic(path, data)
}

// checkApplied validates the applied specs against the rest of the
// directory: the specs in force other than the applied ones go first, so
// that a clash is blamed on what is being applied.
func (s *Store) checkApplied(specs []*v1alpha1.ScaleSpec) ([]ApplyResult, error) {
	applied := map[string]bool{}
	for _, spec := range specs {
		applied[spec.Metadata.Name] = true
	}
	var set []*v1alpha1.ScaleSpec
	for _, e := range s.List() {
		if e.Spec != nil && !applied[e.Name] {
			set = append(set, e.Spec)
		}
	}
	set = append(set, specs...)
	results := make([]ApplyResult, len(specs))
	index := map[*v1alpha1.ScaleSpec]int{}
	for i, spec := range specs {
		index[spec] = i
		results[i].Name = spec.Metadata.Name
	}
	var errs v1alpha1.ErrorList
	for _, p := range v1alpha1.CheckSet(set) {
		i, ok := index[p.Spec]
		switch {
		case !ok:
			// A problem among the specs already in force is theirs.
		case p.Warning:
			results[i].Warnings = append(results[i].Warnings, p.Err.Error())
		default:
			errs = append(errs, p.Err)
		}
	}
	return results, errs.OrNil()
}

// planApply decides what to write for one applied spec and records the
// new content of its file in edits.
func (s *Store) planApply(spec *v1alpha1.ScaleSpec, applied []byte, r *ApplyResult, edits *fileEdits) error {
	name := spec.Metadata.Name
	text, err := cleanDocumentText(applied)
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	path, ok := s.livePath(name)
	if !ok {
		// A new spec gets its own file, or joins the file of that name.
		r.Action = ActionCreated
		r.Path = filepath.Join(s.dir, name+".yaml")
		data, err := edits.content(r.Path)
		if err != nil {
			return err
		}
		data = bytes.Clone(data)
		if len(bytes.TrimSpace(data)) > 0 {
			if data[len(data)-1] != '\n' {
				data = append(data, '\n')
			}
			data = append(data, "---\n"...)
		}
		edits.set(r.Path, append(data, text...))
		return nil
	}
	r.Path = path
	data, err := edits.content(path)
	if err != nil {
		return err
	}
	doc, err := documentOf(name, filepath.Base(path), data)
	if err != nil {
		return fmt.Errorf("cannot apply %s: %w", name, err)
	}
	if doc.Err == nil && v1alpha1.SpecEqual(&doc.Spec.Spec, &spec.Spec) {
		r.Action = ActionUnchanged
		return nil
	}
	r.Action = ActionConfigured
	if doc.Start > 0 {
		text = append([]byte("---\n"), text...)
	}
	edits.set(path, splice(data, doc.Start, doc.End, text))
	return nil
}

// SetReplicas changes spec.replicas in the spec's file and nothing else:
// comments and layout stay as the user wrote them, and a "replicas:" line
// is added when the file has none.
func (s *Store) SetReplicas(name string, replicas int32) error {
	return s.editDocument(name, func(doc v1alpha1.Document, text []byte) ([]byte, error) {
		if *doc.Spec.Spec.Replicas == replicas {
			return nil, nil
		}
		return setReplicasText(text, replicas)
	}, func(spec *v1alpha1.ScaleSpec) bool { return *spec.Spec.Replicas == replicas })
}

// SetTemplate replaces spec.template in the spec's file, for `scalectl
// rollout undo`. Only the template's fields that change are rewritten, in
// the style they were written in; the rest of the file keeps its bytes.
func (s *Store) SetTemplate(name string, t v1alpha1.Template) error {
	want := t.DeepCopy()
	want.Default()
	return s.editDocument(name, func(doc v1alpha1.Document, text []byte) ([]byte, error) {
		if v1alpha1.TemplateHash(doc.Spec.Spec.Template) == v1alpha1.TemplateHash(*want) {
			return nil, nil
		}
		return setTemplateText(text, doc.Spec.Spec.Template, t)
	}, func(spec *v1alpha1.ScaleSpec) bool {
		return v1alpha1.TemplateHash(spec.Spec.Template) == v1alpha1.TemplateHash(*want)
	})
}

// editDocument rewrites the document of one spec. edit returns the new
// document text, or nil for nothing to do; check confirms that the file
// still loads and says what was meant, so that a bug here can never leave
// a broken file behind.
func (s *Store) editDocument(name string, edit func(v1alpha1.Document, []byte) ([]byte, error), check func(*v1alpha1.ScaleSpec) bool) error {
	s.writeMu.Lock()
	var changed []string
	defer func() {
		s.writeMu.Unlock()
		s.notify(changed)
	}()
	changed, path, data, doc, err := s.locateLocked(name)
	if err != nil {
		return fmt.Errorf("cannot change %s: %w", name, err)
	}
	base := filepath.Base(path)
	if doc.Err != nil {
		return fmt.Errorf("cannot change %s until its file is fixed:\n%w", name, doc.Err)
	}
	text, err := edit(doc, data[doc.Start:doc.End])
	if err != nil {
		return fmt.Errorf("edit %s in %s: %w", name, base, err)
	}
	if text == nil {
		return nil
	}
	updated := splice(data, doc.Start, doc.End, text)
	after, err := documentOf(name, base, updated)
	if err != nil || after.Err != nil || !check(after.Spec) {
		return fmt.Errorf("edit %s in %s: the edited file does not say what was meant (%v); it was left as it was", name, base, errors.Join(err, after.Err))
	}
	if err := replaceFile(path, data, updated); err != nil {
		return err
	}
	more, _ := s.refreshLocked(nil)
	changed = append(changed, more...)
	return nil
}

// Delete removes a spec's document from its file, and the file when no
// document is left. The spec is gone from the store at once; the grace that
// protects against editors' saves is for changes the store did not make.
func (s *Store) Delete(name string) error {
	s.writeMu.Lock()
	var changed []string
	defer func() {
		s.writeMu.Unlock()
		s.notify(changed)
	}()
	changed, path, data, doc, err := s.locateLocked(name)
	if err != nil {
		return fmt.Errorf("cannot delete %s: %w", name, err)
	}
	rest := splice(data, doc.Start, doc.End, nil)
	if _, err := v1alpha1.LoadDocuments("", rest); err != nil {
		// No document is left; the comments around the one removed go too.
		if err := removeFile(path, data); err != nil {
			return err
		}
	} else if err := replaceFile(path, data, rest); err != nil {
		return err
	}
	more, _ := s.refreshLocked(map[string]bool{name: true})
	changed = append(changed, more...)
	return nil
}

// locateLocked re-reads the directory, then finds the file that defines
// name, its content, and the document in it. changed lists the specs the
// re-read changed, for the caller to notify. s.writeMu must be held.
func (s *Store) locateLocked(name string) (changed []string, path string, data []byte, doc v1alpha1.Document, err error) {
	changed, err = s.refreshLocked(nil)
	if err != nil {
		return changed, "", nil, doc, err
	}
	path, ok := s.livePath(name)
	if !ok {
		return changed, "", nil, doc, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return changed, "", nil, doc, fmt.Errorf("read spec file: %w", err)
	}
	doc, err = documentOf(name, filepath.Base(path), data)
	return changed, path, data, doc, err
}

// removeFile removes path if it still holds old.
func removeFile(path string, old []byte) error {
	if cur, err := os.ReadFile(path); err != nil || !bytes.Equal(cur, old) {
		return fmt.Errorf("%s: %w", filepath.Base(path), ErrConflict)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove spec file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// livePath is the file defining name, unless the spec is only waiting out
// its deletion grace.
func (s *Store) livePath(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[name]
	if !ok || !e.missingSince.IsZero() {
		return "", false
	}
	return e.path, true
}

// documentOf finds the one document of a file that defines name.
func documentOf(name, filename string, data []byte) (v1alpha1.Document, error) {
	docs, err := v1alpha1.LoadDocuments(filename, data)
	if err != nil {
		return v1alpha1.Document{}, fmt.Errorf("%s has no document for it:\n%w", filename, err)
	}
	var found []v1alpha1.Document
	var unreadable v1alpha1.ErrorList
	for _, d := range docs {
		switch {
		case d.Name == name:
			found = append(found, d)
		case !v1alpha1.IsValidName(d.Name):
			unreadable = append(unreadable, v1alpha1.AsErrorList(d.Err)...)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return v1alpha1.Document{}, fmt.Errorf("%s defines it more than once; keep one", filename)
	case len(unreadable) > 0:
		return v1alpha1.Document{}, fmt.Errorf("its document in %s cannot be read; fix the file first:\n%w", filename, unreadable)
	default:
		return v1alpha1.Document{}, fmt.Errorf("%s no longer defines it: %w", filename, ErrNotFound)
	}
}

// tempPattern names the temp files of writeAtomic: dotfiles, which the
// watcher ignores, and which OpenWithState removes when a kill left one.
const tempPattern = ".scaler-*.tmp"

// writeAtomic replaces a spec file so that a reader (scalerd itself, after
// a crash) sees the old content or the new, never a mix. A new file is
// created 0600, since env may hold secrets; an existing one keeps its mode.
// A symlinked file is written through to its target, keeping the link.
func writeAtomic(path string, data []byte) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if err := writeAtomicFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write spec file: %w", err)
	}
	return nil
}

// writeAtomicFile writes a temp file in the same directory, syncs it,
// renames it over path and syncs the directory, so that the rename
// survives a power loss. The file gets path's current mode, or perm when
// path does not exist.
func writeAtomicFile(path string, data []byte, perm fs.FileMode) error {
	if info, err := os.Stat(path); err == nil {
		perm = info.Mode().Perm()
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// removeTempFiles removes the temp files that writes interrupted by a kill
// left in the spec directory. They are dotfiles, never read as specs, but
// would pile up.
func (s *Store) removeTempFiles() {
	matches, err := filepath.Glob(filepath.Join(s.dir, tempPattern))
	if err != nil {
		return
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			s.log.Error(err, "cannot remove a leftover temp file", "path", m)
			continue
		}
		s.log.Info("removed a temp file left by an interrupted write", "path", m)
	}
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync spec directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync spec directory: %w", err)
	}
	return nil
}
