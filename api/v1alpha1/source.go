package v1alpha1

import "strings"

// Source is where a decoded spec was written, so that a validation error
// found long after decoding can still name the file and line.
type Source struct {
	// File is the name the spec was decoded under.
	File string
	// Line is the line where the spec's document starts.
	Line int
	// lines maps field paths to the line each was written on.
	lines map[string]int
}

// Source reports where s was decoded from; it is the zero Source for a spec
// built in code or received as JSON.
func (s *ScaleSpec) Source() Source {
	if s.source == nil {
		return Source{}
	}
	return *s.source
}

// LineOf returns the line of the field at path or, for a field the file
// leaves out (a missing required field, a default), of its nearest written
// parent; 0 when nothing is known.
func (src Source) LineOf(path string) int {
	for path != "" {
		if line, ok := src.lines[path]; ok {
			return line
		}
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return src.Line
}

// written reports whether the file wrote the field at path out; false for
// a spec that was not decoded from a file.
func (src Source) written(path string) bool {
	_, ok := src.lines[path]
	return ok
}

// locate stamps the file and line on errors that lack them.
func (src Source) locate(errs ErrorList) {
	if src.File == "" && src.Line == 0 {
		return
	}
	for _, e := range errs {
		if e.File == "" {
			e.File = src.File
		}
		if e.Line == 0 {
			e.Line = src.LineOf(e.Path)
		}
	}
}
