package specstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// setTemplateInPlace changes, in the document text, only the fields of
// spec.template whose values differ between cur (the template the file
// says, defaulted) and want (defaulted), as `scalectl scale` changes only
// the replicas number: every other line keeps its bytes, comments, flow or
// block style and blank lines, so that a later `sed` edit of the file
// still matches. A changed field is rewritten whole, in the style it was
// written in (a flow list stays a flow list), keeping its line comment; a
// field of a nested mapping (resources.limits.memory) is changed alone. A
// layout it cannot edit safely (a flow-style template, merge keys, a key
// that does not start its line) returns errNotEditable, and the caller
// re-encodes the document instead.
func setTemplateInPlace(text []byte, doc *yaml.Node, cur, want v1alpha1.Template) ([]byte, error) {
	spec := mappingValue(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode || spec.Style&yaml.FlowStyle != 0 {
		return nil, errNotEditable
	}
	fileTemplate := mappingValue(spec, "template")
	if fileTemplate == nil {
		return nil, errNotEditable
	}
	return setMappingInPlace(text, fileTemplate, cur, want)
}

// textEdit replaces text[start:end].
type textEdit struct {
	start, end int
	text       []byte
}

type templateEditor struct {
	text      []byte
	lines     []int // byte offset of each line's start; lines[0] is line 1
	lineBreak string
	edits     []textEdit
}

// mapping edits the mapping file so that it says want where it now says
// cur (both as JSON values); wantNode is want as YAML, to write from. A
// block mapping's fields can be added, removed or rewritten line by line;
// a flow mapping's only changed value by value, or it is not editable and
// the caller rewrites it whole.
func (e *templateEditor) mapping(file *yaml.Node, cur, want map[string]any, wantNode *yaml.Node) error {
	if file.Kind != yaml.MappingNode || len(file.Content) == 0 {
		return errNotEditable
	}
	flow := file.Style&yaml.FlowStyle != 0
	for i := 0; i+1 < len(file.Content); i += 2 {
		if file.Content[i].ShortTag() == "!!merge" || file.Content[i].Kind != yaml.ScalarNode {
			return errNotEditable
		}
	}
	keys := []string{}
	for i := 0; i+1 < len(wantNode.Content); i += 2 {
		keys = append(keys, wantNode.Content[i].Value)
	}
	for i := 0; i+1 < len(file.Content); i += 2 {
		if _, ok := want[file.Content[i].Value]; !ok {
			keys = append(keys, file.Content[i].Value)
		}
	}
	for _, key := range keys {
		cv, wv := cur[key], want[key]
		if reflect.DeepEqual(cv, wv) {
			continue
		}
		fileKey, fileValue := mappingEntry(file, key)
		wantValue := mappingValue(wantNode, key)
		if flow && (fileKey == nil || wantValue == nil) {
			return errNotEditable // the caller rewrites the flow mapping whole
		}
		if flow { // a flow mapping's fields are not lines: values only
			if err := e.value(nil, fileValue, cv, wv, wantValue); err != nil {
				return err
			}
			continue
		}
		switch {
		case fileKey == nil && wantValue == nil:
			return errNotEditable // a default that differs: nothing to write it from
		case fileKey == nil:
			if err := e.insert(file, key, wantValue); err != nil {
				return err
			}
		case wantValue == nil:
			start, end, err := e.span(fileKey)
			if err != nil {
				return err
			}
			e.edits = append(e.edits, textEdit{start: start, end: end})
		default:
			if err := e.value(fileKey, fileValue, cv, wv, wantValue); err != nil {
				return err
			}
		}
	}
	return nil
}

// value edits one value that differs, as narrowly as its layout allows: a
// block mapping field by field, a block list of as many items item by item,
// a flow list or mapping, or a scalar on one line, as its own text (the
// key, spacing and line comment around it stay); anything else, as the
// whole field of key (nil for a list item: not editable).
func (e *templateEditor) value(key, file *yaml.Node, cur, want any, wantNode *yaml.Node) error {
	curList, curIsList := cur.([]any)
	wantList, wantIsList := want.([]any)
	var err error = errNotEditable
	mark := len(e.edits)
	switch {
	case isMap(cur) && isMap(want) && file.Kind == yaml.MappingNode:
		err = e.mapping(file, asMap(cur), asMap(want), wantNode)
	case curIsList && wantIsList && len(curList) == len(wantList) && len(file.Content) == len(wantList) &&
		file.Kind == yaml.SequenceNode && wantNode.Kind == yaml.SequenceNode:
		err = nil
		for i := range wantList {
			if reflect.DeepEqual(curList[i], wantList[i]) {
				continue
			}
			if err = e.value(nil, file.Content[i], curList[i], wantList[i], wantNode.Content[i]); err != nil {
				break
			}
		}
	}
	if err == nil || !errors.Is(err, errNotEditable) {
		return err
	}
	// What could not be edited part by part is rewritten whole: on its
	// line when it is written on one, else with its key.
	e.edits = e.edits[:mark]
	if start, end, ok := e.inlineSpan(file); ok && (file.Kind == yaml.ScalarNode) == (wantNode.Kind == yaml.ScalarNode) {
		node := copyNode(wantNode)
		keepStyle(node, file)
		rendered, err := encodeInline(node)
		if err == nil {
			e.edits = append(e.edits, textEdit{start: start, end: end, text: rendered})
			return nil
		}
	}
	if key == nil {
		return errNotEditable
	}
	start, end, err := e.span(key)
	if err != nil {
		return err
	}
	rendered, err := e.render(key.Value, wantNode, key, file, key.Column-1)
	if err != nil {
		return err
	}
	e.edits = append(e.edits, textEdit{start: start, end: end, text: rendered})
	return nil
}

// inlineSpan returns the bytes of a value written on one line: a flow
// list or mapping from its bracket to the matching one, or a plain or
// quoted scalar.
func (e *templateEditor) inlineSpan(n *yaml.Node) (int, int, bool) {
	if n.Alias != nil || n.Anchor != "" || n.Kind == yaml.AliasNode {
		return 0, 0, false
	}
	start, ok := offsetOf(e.text, n.Line, n.Column)
	if !ok || start >= len(e.text) {
		return 0, 0, false
	}
	lineEnd := bytes.IndexAny(e.text[start:], "\r\n")
	if lineEnd < 0 {
		lineEnd = len(e.text) - start
	}
	line := e.text[start : start+lineEnd]
	switch {
	case n.Kind != yaml.ScalarNode:
		if n.Style&yaml.FlowStyle == 0 {
			return 0, 0, false
		}
		if end, ok := flowEnd(line); ok {
			return start, start + end, true
		}
	case n.Style&yaml.DoubleQuotedStyle != 0 || n.Style&yaml.SingleQuotedStyle != 0:
		if end, ok := quotedEnd(line); ok {
			return start, start + end, true
		}
	case n.Style == 0 && n.Value != "" && bytes.HasPrefix(line, []byte(n.Value)):
		return start, start + len(n.Value), true
	}
	return 0, 0, false
}

// flowEnd returns the length of the flow collection that starts line,
// through its closing bracket, or false if it does not close on the line.
func flowEnd(line []byte) (int, bool) {
	depth := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"', '\'':
			n, ok := quotedEnd(line[i:])
			if !ok {
				return 0, false
			}
			i += n - 1
		}
	}
	return 0, false
}

// quotedEnd returns the length of the quoted scalar that starts line.
func quotedEnd(line []byte) (int, bool) {
	quote := line[0]
	for i := 1; i < len(line); i++ {
		switch {
		case quote == '"' && line[i] == '\\':
			i++
		case line[i] == quote && quote == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++
		case line[i] == quote:
			return i + 1, true
		}
	}
	return 0, false
}

// keepStyle gives node the styles of old where the two match in shape:
// flow stays flow, a quoted string stays quoted.
func keepStyle(node, old *yaml.Node) {
	switch {
	case node.Kind == yaml.ScalarNode && old.Kind == yaml.ScalarNode:
		node.Style = old.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
		return
	case node.Kind != old.Kind:
		if old.Style&yaml.FlowStyle != 0 {
			flowStyle(node)
		}
		return
	}
	node.Style = old.Style & yaml.FlowStyle
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if _, v := mappingEntry(old, node.Content[i].Value); v != nil {
				keepStyle(node.Content[i+1], v)
			} else if old.Style&yaml.FlowStyle != 0 {
				flowStyle(node.Content[i+1])
			}
		}
		return
	}
	for i, c := range node.Content {
		if i < len(old.Content) {
			keepStyle(c, old.Content[i])
		} else if old.Style&yaml.FlowStyle != 0 {
			flowStyle(c)
		}
	}
}

// encodeInline writes a scalar or a flow collection as its one-line text.
func encodeInline(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if bytes.ContainsAny(out, "\n") || bytes.HasPrefix(out, []byte("---")) {
		return nil, errNotEditable
	}
	return out, nil
}

// insert adds key: value after the last field of the block mapping file.
func (e *templateEditor) insert(file *yaml.Node, key string, value *yaml.Node) error {
	lastKey := file.Content[len(file.Content)-2]
	_, end, err := e.span(lastKey)
	if err != nil {
		return err
	}
	rendered, err := e.render(key, value, nil, nil, lastKey.Column-1)
	if err != nil {
		return err
	}
	e.edits = append(e.edits, textEdit{start: end, end: end, text: rendered})
	return nil
}

// span returns the bytes of one field of a block mapping: from the start
// of its key's line to the end of the last line of its value. The value's
// lines are those indented deeper than the key (or "- " items at the
// key's own indent); comment and blank lines at its end belong to what
// follows and are left.
func (e *templateEditor) span(key *yaml.Node) (int, int, error) {
	if key.Line < 1 || key.Line > len(e.lines) {
		return 0, 0, errNotEditable
	}
	start := e.lines[key.Line-1]
	indent := key.Column - 1
	if keyAt := start + indent; keyAt > len(e.text) || strings.Trim(string(e.text[start:keyAt]), " ") != "" {
		return 0, 0, errNotEditable // the key does not start its line
	}
	last := key.Line // the last line of the field, counted from 1
	for l := key.Line + 1; l <= len(e.lines); l++ {
		line := e.line(l)
		trimmed := strings.TrimLeft(line, " ")
		lead := len(line) - len(trimmed)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue // decided by what follows
		case lead > indent || (lead == indent && (trimmed == "-" || strings.HasPrefix(trimmed, "- "))):
			last = l
			continue
		}
		break
	}
	end := len(e.text)
	if last < len(e.lines) {
		end = e.lines[last]
	}
	return start, end, nil
}

// line returns line l (from 1) without its line break.
func (e *templateEditor) line(l int) string {
	start := e.lines[l-1]
	end := len(e.text)
	if l < len(e.lines) {
		end = e.lines[l]
	}
	return strings.TrimRight(string(e.text[start:end]), "\r\n")
}

// render writes key: value at indent, in the style of the value it
// replaces: a flow list or mapping stays flow, a quoted scalar keeps its
// quotes, and the line comment stays.
func (e *templateEditor) render(key string, value, oldKey, oldValue *yaml.Node, indent int) ([]byte, error) {
	node := copyNode(value)
	comment := ""
	if oldKey != nil {
		comment = oldKey.LineComment
	}
	if oldValue != nil {
		if comment == "" {
			comment = oldValue.LineComment
		}
		switch {
		case oldValue.Style&yaml.FlowStyle != 0 && (node.Kind == yaml.SequenceNode || node.Kind == yaml.MappingNode):
			flowStyle(node)
		case oldValue.Kind == yaml.ScalarNode && node.Kind == yaml.ScalarNode &&
			oldValue.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			node.Style = oldValue.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
		}
	}
	if comment != "" && (node.Kind == yaml.ScalarNode || node.Style&yaml.FlowStyle != 0) {
		node.LineComment = comment
	}
	field := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, node,
	}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(field); err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if l != "" {
			out.WriteString(pad)
		}
		out.WriteString(l)
		out.WriteString(e.lineBreak)
	}
	return []byte(out.String()), nil
}

// apply returns the text with every edit made, last first so that the
// offsets of the others hold.
func (e *templateEditor) apply() []byte {
	edits := append([]textEdit(nil), e.edits...)
	// Edits never overlap: each is one field, found once.
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && edits[j].start > edits[j-1].start; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	out := e.text
	for _, ed := range edits {
		out = splice(out, ed.start, ed.end, ed.text)
	}
	return out
}

// mappingEntry returns the key and value nodes of an explicit key.
func mappingEntry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// genericValue is v as JSON decodes it: the form in which two templates
// compare field by field, whatever the file's spelling.
func genericValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	return out, nil
}

func isMap(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func flowStyle(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for _, c := range n.Content {
		flowStyle(c)
	}
}

func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = copyNode(child)
	}
	return &c
}

// lineStarts returns the byte offset of each line's start.
func lineStarts(text []byte) []int {
	starts := []int{0}
	for i, b := range text {
		if b == '\n' && i+1 < len(text) {
			starts = append(starts, i+1)
		}
	}
	return starts
}
