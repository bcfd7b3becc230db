package v1alpha1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with one field of a spec. Path is the field's
// JSON path ("spec.template.env[1].name"); File and Line say where it was
// written when the spec came from a file, so that a user can jump to it.
type FieldError struct {
	File    string
	Line    int
	Path    string
	Message string
}

// Error formats the error like a compiler does ("web.yaml:12: spec.replicas:
// ..."), so that editors and grep can find the line.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one pass, so that a user fixes a file
// in one go instead of one error per save.
type ErrorList []*FieldError

// Error prints one error per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach each FieldError.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// OrNil returns nil for an empty list. Returning an empty ErrorList as an
// error would make a non-nil interface that reads as a failure.
func (l ErrorList) OrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// AsErrorList returns the field errors inside err: the list itself, a single
// FieldError, or, for any other error, one FieldError carrying its message.
func AsErrorList(err error) ErrorList {
	if err == nil {
		return nil
	}
	var list ErrorList
	if errors.As(err, &list) {
		return list
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return ErrorList{fe}
	}
	return ErrorList{{Message: err.Error()}}
}

// addf records one error at path.
func (l *ErrorList) addf(path, format string, args ...any) {
	*l = append(*l, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}
