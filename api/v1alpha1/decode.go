package v1alpha1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Document is one non-empty YAML document of a spec file.
type Document struct {
	// Line is the line of the document's first content, counted from 1.
	Line int
	// Start and End delimit the document in the file's bytes, its "---"
	// line included, so that a writer can replace one document and leave
	// the others byte for byte.
	Start, End int
	// Name is metadata.name as written. It is read even when the rest of
	// the document is broken, so that an error can be attributed to a spec.
	Name string
	// Spec is the decoded, defaulted and valid spec; nil when Err is set.
	Spec *ScaleSpec
	// Err is an ErrorList of every problem of the document: YAML syntax,
	// unknown fields, values of the wrong type, invalid values.
	Err error
	// NameUnknown is set when a YAML syntax error comes before
	// metadata.name: the document may define any spec, so no spec may be
	// taken as deleted because of what it seems to lack.
	NameUnknown bool

	// partial is what decoding made of the document, errors or not.
	partial *ScaleSpec
}

// MaxFileSize is the most a spec file, or one apply, may have. scalerd and
// scalectl both refuse larger ones before reading them: a spec file is a
// few kilobytes.
const MaxFileSize = 4 << 20

// maxNodes bounds the work one document may cause. Aliases can make a small
// file expand into a large tree; a real spec has a few hundred nodes.
const maxNodes = 100000

// maxDecodedBytes bounds the text of the scalars a document decodes to,
// each alias counted every time it is used. Without aliases a document
// decodes to less than its file, so a file within MaxFileSize never meets
// the bound; with them a small file could expand into gigabytes (a 1 MB
// string used 300 times), which hashing and comparing the spec would then
// copy on every reconcile.
const maxDecodedBytes = MaxFileSize

// LoadDocuments reads a spec file the way scalerd and scalectl both do:
// it splits it into YAML documents, decodes each one strictly, defaults it
// and validates it. Every problem of a document is reported on that
// Document, so that one broken document neither hides the problems of the
// others nor stops them from loading; the error return is only for a file
// with no documents at all.
//
// A status written in the document (as `scalectl get -o yaml` prints it) is
// checked for shape and then dropped, as kubectl apply does: status is what
// scalerd observed and is never read from a file. metadata.generation is
// dropped for the same reason; the spec store assigns it.
func LoadDocuments(filename string, data []byte) ([]Document, error) {
	docs, err := parseDocuments(filename, data)
	for i := range docs {
		d := &docs[i]
		if d.partial == nil {
			continue
		}
		d.partial.Default()
		errs := AsErrorList(d.Err)
		for _, e := range AsErrorList(d.partial.Validate()) {
			if !underAny(e.Path, errs) {
				errs = append(errs, e)
			}
		}
		// Like a compiler, in the order of the file.
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		d.Err = errs.OrNil()
		if d.Err == nil {
			d.Spec = d.partial
		}
		d.partial = nil
	}
	return docs, err
}

// DecodeDocuments strictly decodes every document of a file, without
// defaulting or validating. It returns the specs of the documents that
// decoded cleanly and, as one ErrorList, every problem of the others.
func DecodeDocuments(filename string, data []byte) ([]*ScaleSpec, error) {
	docs, err := parseDocuments(filename, data)
	if err != nil {
		return nil, err
	}
	var specs []*ScaleSpec
	var errs ErrorList
	for _, d := range docs {
		if d.Err != nil {
			errs = append(errs, AsErrorList(d.Err)...)
			continue
		}
		specs = append(specs, d.partial)
	}
	return specs, errs.OrNil()
}

// underAny reports whether path is at or below the path of one of errs: a
// field that failed to decode was left at its zero value, and validating
// that value would only repeat the problem.
func underAny(path string, errs ErrorList) bool {
	for _, e := range errs {
		if e.Path == "" || path == e.Path || strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[") {
			return true
		}
	}
	return false
}

func parseDocuments(filename string, data []byte) ([]Document, error) {
	var docs []Document
	for _, c := range splitDocuments(data) {
		docs = append(docs, parseChunk(filename, data, c)...)
	}
	if len(docs) == 0 {
		what := "the file is empty"
		if len(bytes.TrimSpace(data)) > 0 {
			what = "the file holds only comments or empty documents"
		}
		return nil, ErrorList{{File: filename, Message: "no ScaleSpec documents: " + what}}
	}
	return docs, nil
}

// chunk is the byte range of one or more YAML documents; see splitDocuments.
type chunk struct {
	start, end  int
	line        int // line of start, counted from 1
	contentLine int // line of the first content, 0 if none
}

// splitDocuments cuts data at document markers. A "---" or "..." at the
// start of a line always ends a document in YAML, even inside a block
// scalar, so cutting there agrees with the parser. Comments before a "---"
// stay with the document that follows them. Cutting lets each document be
// parsed on its own: a syntax error then costs one document, not the file.
func splitDocuments(data []byte) []chunk {
	var chunks []chunk
	cur := chunk{start: 0, line: 1}
	hasContent := false
	lineNo := 1
	for off := 0; off < len(data); lineNo++ {
		end, next := lineEnd(data, off)
		line := data[off:end]
		switch {
		case isMarker(line, "---"):
			if hasContent {
				cur.end = off
				chunks = append(chunks, cur)
				cur = chunk{start: off, line: lineNo}
			}
			hasContent = !isBlankOrComment(line[3:])
			if hasContent && cur.contentLine == 0 {
				cur.contentLine = lineNo
			}
		case isMarker(line, "..."):
			cur.end = next
			chunks = append(chunks, cur)
			cur = chunk{start: next, line: lineNo + 1}
			hasContent = false
		case len(line) > 0 && line[0] == '%' && !hasContent:
			// A directive belongs to the document after it.
		default:
			if !isBlankOrComment(line) {
				hasContent = true
				if cur.contentLine == 0 {
					cur.contentLine = lineNo
				}
			}
		}
		off = next
	}
	cur.end = len(data)
	if cur.end > cur.start {
		chunks = append(chunks, cur)
	}
	return chunks
}

// lineEnd finds the end of the line starting at off and the start of the
// next. YAML breaks lines at "\n", "\r\n", a lone "\r", and at the
// Unicode breaks NEL (U+0085), LS (U+2028) and PS (U+2029), as yaml.v3
// does; so must we, or line numbers would disagree with the parser's. The
// lead bytes of those runes never occur inside another rune of valid
// UTF-8, and the parser refuses invalid UTF-8.
func lineEnd(data []byte, off int) (end, next int) {
	for i := off; i < len(data); i++ {
		switch data[i] {
		case '\n':
			return i, i + 1
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				return i, i + 2
			}
			return i, i + 1
		case 0xC2: // NEL is C2 85
			if i+1 < len(data) && data[i+1] == 0x85 {
				return i, i + 2
			}
		case 0xE2: // LS is E2 80 A8, PS is E2 80 A9
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9) {
				return i, i + 3
			}
		}
	}
	return len(data), len(data)
}

func isMarker(line []byte, marker string) bool {
	return bytes.HasPrefix(line, []byte(marker)) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

func isBlankOrComment(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	return len(t) == 0 || t[0] == '#'
}

// yamlLineError matches yaml.v3's syntax errors, whose line is counted from
// the start of what it parsed (here, a chunk).
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseChunk(filename string, data []byte, c chunk) []Document {
	text := data[c.start:c.end]
	in := &lineReader{data: text}
	dec := yaml.NewDecoder(in)
	var docs []Document
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			docs = append(docs, brokenDocument(filename, text, c, err, in.off))
			return docs
		}
		if node.Kind != yaml.DocumentNode || len(node.Content) == 0 || isNull(node.Content[0]) {
			continue
		}
		root := node.Content[0]
		doc := Document{Line: root.Line + c.line - 1, Start: c.start, End: c.end}
		doc.Name, _ = lookupString(root, "metadata", "name")
		doc.partial, doc.Err = decodeNode(filename, c.line-1, root)
		docs = append(docs, doc)
	}
}

// lineReader gives the YAML parser its input one line per Read. The parser
// reads only as far as it needs, so when it fails, how far it had read
// bounds where the problem is: locateSyntaxError starts there.
type lineReader struct {
	data []byte
	off  int // bytes handed out
	next int // start of the line after the one being handed out
}

func (r *lineReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if r.off >= r.next {
		_, r.next = lineEnd(r.data, r.off)
	}
	n := copy(p, r.data[r.off:r.next])
	r.off += n
	return n, nil
}

// brokenDocument describes a chunk with a YAML syntax error. It names the
// line of the problem and still reads metadata.name from the lines before
// it, so that the error can be attributed to the spec being edited. read is
// how many bytes of text the parser had read when it failed.
func brokenDocument(filename string, text []byte, c chunk, err error, read int) Document {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line, msg = n, m[2]
		}
	}
	doc := Document{Line: max(c.contentLine, c.line), Start: c.start, End: c.end}
	if line > 0 {
		var prefix []byte
		line, prefix = locateSyntaxError(text, line, msg, read)
		doc.Name = nameIn(prefix)
		line += c.line - 1
	}
	doc.NameUnknown = doc.Name == ""
	doc.Err = ErrorList{{File: filename, Line: line, Message: "YAML syntax error: " + msg}}
	return doc
}

// nameIn reads metadata.name from the last document of text that has one.
func nameIn(text []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	name := ""
	for {
		var node yaml.Node
		if dec.Decode(&node) != nil {
			return name
		}
		if len(node.Content) > 0 {
			if n, ok := lookupString(node.Content[0], "metadata", "name"); ok {
				name = n
			}
		}
	}
}

// syntaxCheck parses every document of text and returns the first error.
func syntaxCheck(text []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for {
		err := dec.Decode(&yaml.Node{})
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// maxLocateProbes bounds the parses locateSyntaxError may run, so that
// locating an error costs a few parses of the text whatever its size.
const maxLocateProbes = 4

// locateSyntaxError finds the line a syntax error is really on. yaml.v3
// reports the line where the enclosing block began (for a mis-indented key,
// the "spec:" above it), which sends the user to the wrong place. The
// shortest prefix of the text that fails with the same message ends on the
// line that broke it. The parser had read up to byte read when it failed,
// so that prefix ends on the last line read or, because the parser looks a
// little ahead, a line or two before: the search goes back from there, one
// parse a line, and stops at the first prefix that parses, or after
// maxLocateProbes. It returns the line and the text before it.
func locateSyntaxError(text []byte, reported int, msg string, read int) (int, []byte) {
	read = min(max(read, 1), len(text))
	last := lineOf(text, read-1)
	if reported > last {
		return reported, nil
	}
	// The error may lie on the line reported (an unclosed quote, which
	// the parser reads to the end of the text).
	if start := lineStart(text, reported); failsWith(text[:lineNext(text, start)], msg) {
		return reported, text[:start]
	}
	found, foundStart := 0, 0
	for line, probes := last, 0; line > reported && probes < maxLocateProbes; line, probes = line-1, probes+1 {
		start := lineStart(text, line)
		if !failsWith(text[:lineNext(text, start)], msg) {
			break
		}
		found, foundStart = line, start
	}
	if found == 0 {
		return reported, nil
	}
	return found, text[:foundStart]
}

func lineNext(text []byte, start int) int {
	_, next := lineEnd(text, start)
	return next
}

// failsWith reports whether text fails to parse with the message msg.
func failsWith(text []byte, msg string) bool {
	err := syntaxCheck(text)
	if err == nil {
		return false
	}
	m := yamlLineError.FindStringSubmatch(err.Error())
	return m != nil && m[2] == msg
}

// lineOf returns the line, counted from 1, of byte off of text.
func lineOf(text []byte, off int) int {
	line := 1
	for o := 0; o <= off && o < len(text); line++ {
		_, next := lineEnd(text, o)
		if next > off {
			return line
		}
		o = next
	}
	return line
}

// lineStart returns the offset of line n, counted from 1, of text.
func lineStart(text []byte, n int) int {
	off := 0
	for line := 1; line < n && off < len(text); line++ {
		_, off = lineEnd(text, off)
	}
	return off
}

// decodeNode decodes one document's root node into a ScaleSpec. Like the
// JSON decoder it goes on past a bad field, so it returns what it could
// decode along with every error.
func decodeNode(filename string, lineOffset int, root *yaml.Node) (*ScaleSpec, error) {
	d := &decoder{
		file:       filename,
		lineOffset: lineOffset,
		lines:      map[string]int{},
		budget:     maxNodes,
		bytes:      maxDecodedBytes,
		expanding:  map[*yaml.Node]bool{},
	}
	// A document of another kind would drown in unknown-field errors; say
	// the one thing that matters instead.
	if kind, ok := lookupString(root, "kind"); ok && kind != "" && kind != Kind {
		line := root.Line
		if n := lookup(root, 0, "kind"); n != nil {
			line = n.Line
		}
		return nil, ErrorList{{File: filename, Line: line + lineOffset, Path: "kind",
			Message: fmt.Sprintf("%q is not a kind scaler reads; use %q", kind, Kind)}}
	}
	spec := &ScaleSpec{}
	d.decode(root, reflect.ValueOf(spec).Elem(), "")
	if root.Kind != yaml.MappingNode && root.Kind != yaml.AliasNode {
		return nil, d.errs
	}
	spec.Status = nil
	spec.Metadata.Generation = 0
	spec.source = &Source{File: filename, Line: root.Line + lineOffset, lines: d.lines}
	return spec, d.errs.OrNil()
}

// decoder walks a yaml.v3 node tree against a Go type, using the types' JSON
// field names, so that every error carries the field's full path and line.
// The JSON decoder with DisallowUnknownFields would give neither.
type decoder struct {
	file       string
	lineOffset int
	errs       ErrorList
	lines      map[string]int // field path → line, for validation errors
	budget     int            // nodes left
	bytes      int            // scalar bytes left
	// expanding holds the anchored nodes being decoded, to catch an alias
	// that refers to its own ancestor.
	expanding map[*yaml.Node]bool
}

func (d *decoder) failf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil && n.Line > 0 {
		line = n.Line + d.lineOffset
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// deref follows aliases. It returns nil after reporting an alias cycle.
func (d *decoder) deref(n *yaml.Node, path string) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.expanding[n.Alias] {
			d.failf(n, path, "alias *%s refers to a node that contains it", n.Value)
			return nil
		}
		n = n.Alias
	}
	return n
}

var (
	typeDuration     = reflect.TypeFor[Duration]()
	typeIntOrPercent = reflect.TypeFor[IntOrPercent]()
	typeTime         = reflect.TypeFor[time.Time]()
	typeUnmarshaler  = reflect.TypeFor[json.Unmarshaler]()
)

// spend counts one node against the budget and reports, once, that the
// document is too large; decoding then stops short, never silently.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	d.budget--
	if d.budget == -1 {
		d.failf(n, path, "the document is too large or expands too many aliases (more than %d nodes)", maxNodes)
	}
	return d.budget >= 0
}

// spendBytes counts a scalar's text against the byte budget, like spend.
func (d *decoder) spendBytes(n *yaml.Node, path string) bool {
	if d.budget < 0 {
		return false
	}
	d.bytes -= len(n.Value)
	if d.bytes < 0 {
		d.failf(n, path, "the document decodes to more than %d bytes of values (aliases count each time they are used); write the values out, or use fewer aliases", maxDecodedBytes)
		d.budget = -2 // stop decoding, and report no more
		return false
	}
	return true
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n, path) {
		return
	}
	if n = d.deref(n, path); n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && !d.spendBytes(n, path) {
		return
	}
	if n.Anchor != "" {
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		elem := reflect.New(t.Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
		return
	}
	if reflect.PointerTo(t).Implements(typeUnmarshaler) {
		d.decodeUnmarshaler(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.failf(n, path, "expected %s, got %s", describeType(t), describeNode(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			itemPath := fmt.Sprintf("%s[%d]", path, i)
			d.lines[itemPath] = item.Line + d.lineOffset
			d.decode(item, s.Index(i), itemPath)
		}
		v.Set(s)
	case reflect.String:
		// Any scalar is taken as written: `cpus: 0.5`, `memory: 1024` and
		// `value: 5000` mean the strings the user typed.
		if n.Kind != yaml.ScalarNode {
			d.failf(n, path, "expected %s, got %s", describeType(t), describeNode(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(n, v, path)
	case reflect.Bool:
		d.decodeBool(n, v, path)
	case reflect.Float64:
		d.decodeFloat(n, v, path)
	default:
		// Only the types of this package reach here; a new field kind needs
		// a case above.
		d.failf(n, path, "cannot decode into a Go %s (a bug in scaler)", t)
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if _, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64); err == nil {
				hint = "; write it without quotes"
			}
		}
		d.failf(n, path, "expected an integer, got %s%s", describeNode(n), hint)
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		bits := v.Type().Bits()
		d.failf(n, path, "%s is out of range; it must lie between %d and %d", n.Value, -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
		return
	}
	v.SetInt(i)
}

// decodeFloat takes an integer or a finite decimal number; ".inf" and
// ".nan" are numbers to YAML but never a sensible value.
func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value, path string) {
	var f float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil ||
		math.IsInf(f, 0) || math.IsNaN(f) {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if _, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil {
				hint = "; write it without quotes"
			}
		}
		d.failf(n, path, "expected a number like 100 or 0.5, got %s%s", describeNode(n), hint)
		return
	}
	v.SetFloat(f)
}

// decodeBool takes YAML 1.2's true and false only: "yes", "on" and a
// quoted "true" are strings, and taking them as booleans would guess.
func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.failf(n, path, "expected true or false, got %s", describeNode(n))
		return
	}
	v.SetBool(b)
}

// decodeUnmarshaler hands a scalar to the type's UnmarshalJSON, so that
// Duration and IntOrPercent parse the same way from a file and from the
// API, and puts the field path on their errors.
func (d *decoder) decodeUnmarshaler(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.failf(n, path, "expected %s, got %s", describeType(v.Type()), describeNode(n))
		return
	}
	var raw []byte
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			d.failf(n, path, "%s is out of range", n.Value)
			return
		}
		raw = strconv.AppendInt(nil, i, 10)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			d.failf(n, path, "%s is not a number JSON can hold", n.Value)
			return
		}
		var err error
		if raw, err = json.Marshal(f); err != nil {
			d.failf(n, path, "%s is not a number JSON can hold", n.Value)
			return
		}
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			d.failf(n, path, "%s is not a boolean", n.Value)
			return
		}
		raw = strconv.AppendBool(nil, b)
	default:
		raw, _ = json.Marshal(n.Value)
	}
	if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
		d.failf(n, path, "%s", err.Error())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.failf(n, path, "expected %s, got %s", describeType(v.Type()), describeNode(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]int{}
	for _, p := range d.pairs(n, path) {
		key := p.key
		if key.Kind != yaml.ScalarNode {
			d.failf(key, path, "a field name must be a string, got %s", describeNode(key))
			continue
		}
		name := key.Value
		fieldPath := joinPath(path, name)
		f, ok := fields.byName[name]
		if !ok {
			d.failf(key, fieldPath, "%s", unknownFieldMessage(v.Type(), path, name))
			continue
		}
		if !p.merged {
			if first, dup := seen[name]; dup {
				d.failf(key, fieldPath, "set twice; the first is on line %d", first)
				continue
			}
			seen[name] = key.Line + d.lineOffset
		}
		d.lines[fieldPath] = key.Line + d.lineOffset
		d.decode(p.value, v.Field(f.index), fieldPath)
	}
}

type pair struct {
	key, value *yaml.Node
	merged     bool // came from a "<<" merge key
}

// pairs lists a mapping's key/value pairs with YAML merge keys ("<<: *base")
// resolved: explicit keys win over merged ones, and earlier merge sources
// over later ones, as the merge key spec says.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(val, path)...)
			continue
		}
		explicit = append(explicit, pair{key: k, value: val})
	}
	if len(merged) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, p := range explicit {
		if p.key.Kind == yaml.ScalarNode {
			have[p.key.Value] = true
		}
	}
	out := explicit
	for _, p := range merged {
		if p.key.Kind == yaml.ScalarNode && have[p.key.Value] {
			continue
		}
		if p.key.Kind == yaml.ScalarNode {
			have[p.key.Value] = true
		}
		p.merged = true
		out = append(out, p)
	}
	return out
}

func (d *decoder) mergeSources(val *yaml.Node, path string) []pair {
	if !d.spend(val, path) {
		return nil
	}
	if val = d.deref(val, path); val == nil {
		return nil
	}
	switch val.Kind {
	case yaml.MappingNode:
		if d.expanding[val] {
			d.failf(val, path, "merge key refers to a mapping that contains it")
			return nil
		}
		d.expanding[val] = true
		defer delete(d.expanding, val)
		return d.pairs(val, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range val.Content {
			if item = d.deref(item, path); item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				d.failf(item, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describeNode(item))
				continue
			}
			out = append(out, d.mergeSources(item, path)...)
		}
		return out
	default:
		d.failf(val, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describeNode(val))
		return nil
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// joinPath appends a field to a path, quoting names that would not read as
// one path element.
func joinPath(path, name string) string {
	if !plainFieldName.MatchString(name) {
		name = strconv.Quote(name)
		return path + "[" + name + "]"
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

var plainFieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// lookup finds the value under a chain of keys, following aliases and merge
// keys, without reporting anything; it serves to read a broken document's
// name. depth guards against alias cycles.
func lookup(n *yaml.Node, depth int, keys ...string) *yaml.Node {
	for ; n != nil && n.Kind == yaml.AliasNode && depth < 32; depth++ {
		n = n.Alias
	}
	if n == nil || depth >= 32 {
		return nil
	}
	if len(keys) == 0 {
		return n
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var fromMerge *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == keys[0] && k.ShortTag() != "!!merge" {
			return lookup(n.Content[i+1], depth+1, keys[1:]...)
		}
		if k.ShortTag() == "!!merge" && fromMerge == nil {
			fromMerge = lookup(n.Content[i+1], depth+1, keys...)
		}
	}
	return fromMerge
}

// lookupString returns the scalar under keys.
func lookupString(n *yaml.Node, keys ...string) (string, bool) {
	v := lookup(n, 0, keys...)
	if v == nil || v.Kind != yaml.ScalarNode || isNull(v) {
		return "", false
	}
	return v.Value, true
}

// describeNode says what a node is, for "expected X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", truncate(n.Value))
		case "!!int", "!!float":
			return "the number " + truncate(n.Value)
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "nothing"
		default:
			return fmt.Sprintf("the value %q", truncate(n.Value))
		}
	}
	return "an empty document"
}

func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// describeType says what a field expects, in the words of the file.
func describeType(t reflect.Type) string {
	switch t {
	case typeDuration:
		return `a duration like "2s"`
	case typeIntOrPercent:
		return `an integer or a percentage like "25%"`
	case typeTime:
		return `a time like "2006-01-02T15:04:05Z"`
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		names := fieldsOf(t).names
		if len(names) > 4 {
			names = append(names[:4:4], "…")
		}
		return "a mapping (" + strings.Join(names, ", ") + ")"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float64:
		return "a number"
	default:
		return "an integer"
	}
}

// structFields is the JSON view of a struct: its field names in declaration
// order and their indexes.
type structFields struct {
	names  []string
	byName map[string]struct{ index int }
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]struct{ index int }{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.names = append(f.names, name)
		f.byName[name] = struct{ index int }{i}
	}
	fieldCache.Store(t, f)
	return f
}

// unknownFieldMessage explains an unknown field: the likely misspelling, or
// where the field belongs if the user put it at the wrong level, or else
// what the fields here are.
func unknownFieldMessage(t reflect.Type, parent, name string) string {
	names := fieldsOf(t).names
	if s := closest(name, names); s != "" {
		return fmt.Sprintf("unknown field, did you mean %q?", s)
	}
	if elsewhere := schemaPaths()[name]; len(elsewhere) > 0 {
		var where []string
		for _, p := range elsewhere {
			if p != joinPath(parent, name) {
				where = append(where, p)
			}
		}
		if len(where) == 1 {
			return fmt.Sprintf("unknown field here; did you mean %s?", where[0])
		}
		if len(where) > 1 {
			parents := make([]string, len(where))
			for i, w := range where {
				parents[i] = strings.TrimSuffix(w, "."+name)
			}
			return fmt.Sprintf("unknown field here; %s belongs under %s", name, strings.Join(parents, " or "))
		}
	}
	return fmt.Sprintf("unknown field; the fields here are %s", strings.Join(names, ", "))
}

// closest returns the candidate that name most likely misspells: the same
// word in another case or with '_'/'-' separators, or one within a small
// edit distance.
func closest(name string, candidates []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	for _, c := range candidates {
		if norm(c) == norm(name) {
			return c
		}
	}
	best, bestDist := "", 0
	for _, c := range candidates {
		limit := 2
		if len(c) <= 4 {
			limit = 1
		}
		dist := editDistance(strings.ToLower(name), strings.ToLower(c))
		if dist <= limit && (best == "" || dist < bestDist) {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance, with a cap on the work so that
// a huge key in a hostile file costs nothing.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// schemaPaths maps every field name of the spec part of the API to the
// paths where it may appear, so that a field written at the wrong level can
// be pointed to its place.
var schemaPaths = sync.OnceValue(func() map[string][]string {
	paths := map[string][]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == typeDuration || t == typeIntOrPercent || t == typeTime {
			return
		}
		for _, name := range fieldsOf(t).names {
			if path == "" && name == "status" {
				continue
			}
			p := joinPath(path, name)
			paths[name] = append(paths[name], p)
			walk(t.Field(fieldsOf(t).byName[name].index).Type, p)
		}
	}
	walk(reflect.TypeFor[ScaleSpec](), "")
	for _, p := range paths {
		sort.Strings(p)
	}
	return paths
})
