package specstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// The edits here change one document of a file and leave every other byte
// alone where they can: a spec file is the user's, with their comments and
// layout, and `scalectl scale` must not reformat it.

// errNotEditable says an edit cannot be made in place, and the document is
// re-encoded instead.
var errNotEditable = errors.New("not editable in place")

// parseDocumentNode parses a document's text (as Document.Start:End cuts
// it) and returns its document node.
func parseDocumentNode(text []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the document is empty")
			}
			return nil, err
		}
		if len(doc.Content) > 0 && doc.Content[0].Kind == yaml.MappingNode {
			return &doc, nil
		}
	}
}

// mappingValue returns the value of an explicitly written key of a
// mapping, or nil. Keys that come from a merge ("<<") do not count: an edit
// must change the document, not the anchor it merges.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			return m.Content[i+1]
		}
	}
	return nil
}

// setReplicasText returns the document text with spec.replicas set to n.
// It replaces the number where it is written, or inserts a "replicas:"
// line above the first field of spec; only when the layout leaves no
// clean place (flow style, aliases) does it re-encode the document.
func setReplicasText(text []byte, n int32) ([]byte, error) {
	doc, err := parseDocumentNode(text)
	if err != nil {
		return nil, err
	}
	value := strconv.Itoa(int(n))
	out, err := setReplicasInPlace(text, doc, value)
	if !errors.Is(err, errNotEditable) {
		return out, err
	}
	spec := mappingValue(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, errors.New("spec is not written as a mapping in the file, so replicas cannot be set; edit the file")
	}
	if r := mappingValue(spec, "replicas"); r != nil {
		*r = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: value}
	} else {
		spec.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "replicas"},
			{Kind: yaml.ScalarNode, Tag: "!!int", Value: value},
		}, spec.Content...)
	}
	return encodeDocument(text, doc)
}

func setReplicasInPlace(text []byte, doc *yaml.Node, value string) ([]byte, error) {
	spec := mappingValue(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode || spec.Style&yaml.FlowStyle != 0 {
		return nil, errNotEditable
	}
	if r := mappingValue(spec, "replicas"); r != nil {
		// Only a plain integer is replaced in place; an empty value
		// ("replicas:" alone) has no text to replace.
		if r.Kind != yaml.ScalarNode || r.Style != 0 || r.ShortTag() != "!!int" || r.Value == "" {
			return nil, errNotEditable
		}
		start, ok := offsetOf(text, r.Line, r.Column)
		if !ok || !bytes.HasPrefix(text[start:], []byte(r.Value)) {
			return nil, errNotEditable
		}
		return splice(text, start, start+len(r.Value), []byte(value)), nil
	}
	if len(spec.Content) == 0 {
		return nil, errNotEditable
	}
	first := spec.Content[0]
	lineStart, ok := offsetOf(text, first.Line, 1)
	keyStart, ok2 := offsetOf(text, first.Line, first.Column)
	if !ok || !ok2 || len(bytes.Trim(text[lineStart:keyStart], " ")) > 0 {
		return nil, errNotEditable // the key does not start its line
	}
	line := append(bytes.Clone(text[lineStart:keyStart]), "replicas: "+value+lineBreak(text)...)
	return splice(text, lineStart, lineStart, line), nil
}

// setTemplateText returns the document text with spec.template changed
// from cur (what the file says, defaulted) to t. Only the fields that
// differ are rewritten where the layout allows (setTemplateInPlace);
// otherwise the template is re-encoded, and so is the document, and
// yaml.v3 keeps the comments outside the template.
func setTemplateText(text []byte, cur, t v1alpha1.Template) ([]byte, error) {
	doc, err := parseDocumentNode(text)
	if err != nil {
		return nil, err
	}
	want := t.DeepCopy()
	want.Default()
	if out, err := setTemplateInPlace(text, doc, cur, *want); err == nil && saysTemplate(out, *want) {
		return out, nil
	} else if err != nil && !errors.Is(err, errNotEditable) {
		return nil, err
	}
	spec := mappingValue(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, errors.New("spec is not written as a mapping in the file, so its template cannot be set; edit the file")
	}
	tmpl, err := toNode(t)
	if err != nil {
		return nil, err
	}
	if cur := mappingValue(spec, "template"); cur != nil {
		tmpl.HeadComment, tmpl.LineComment, tmpl.FootComment = cur.HeadComment, cur.LineComment, cur.FootComment
		*cur = *tmpl
	} else {
		spec.Content = append(spec.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "template"}, tmpl)
	}
	return encodeDocument(text, doc)
}

// saysTemplate reports whether a document text loads, valid, with the
// template want (defaulted): the check that an edit in place did what was
// meant, before it is preferred to re-encoding.
func saysTemplate(text []byte, want v1alpha1.Template) bool {
	docs, err := v1alpha1.LoadDocuments("", text)
	if err != nil || len(docs) != 1 || docs[0].Err != nil {
		return false
	}
	return v1alpha1.TemplateHash(docs[0].Spec.Spec.Template) == v1alpha1.TemplateHash(want)
}

// cleanDocumentText prepares an applied document for its file: without the
// status and metadata.generation that `scalectl get -o yaml` prints (they
// are never read from a file) and in block style if it came as JSON. A
// document that needs neither is kept as written, comments and all.
func cleanDocumentText(text []byte) ([]byte, error) {
	doc, err := parseDocumentNode(text)
	if err != nil {
		return nil, err
	}
	root := doc.Content[0]
	changed := removeKey(root, "status")
	changed = removeKey(mappingValue(root, "metadata"), "generation") || changed
	if root.Style&yaml.FlowStyle != 0 {
		blockStyle(root)
		changed = true
	}
	if !changed {
		return trimMarkers(text), nil
	}
	return encodeDocument(nil, doc)
}

// toNode converts a value to a YAML node as the API writes it.
func toNode(v any) (*yaml.Node, error) {
	b, err := v1alpha1.MarshalYAML(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

// blockStyle clears the flow and quoting styles JSON gives, so the encoder
// writes block YAML and quotes only what needs quotes.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func removeKey(m *yaml.Node, key string) bool {
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

// encodeDocument writes a document node as YAML with the two-space indent
// spec files use, keeping the "---" that started the original text.
func encodeDocument(original []byte, doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	if bytes.HasPrefix(original, []byte("---")) {
		buf.WriteString("---\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return buf.Bytes(), nil
}

// trimMarkers drops a leading "---" line and a trailing "..." line, and
// makes sure the text ends with a line break, so that documents can be
// joined with "---" lines.
func trimMarkers(text []byte) []byte {
	if rest, ok := bytes.CutPrefix(text, []byte("---\n")); ok {
		text = rest
	}
	trimmed := bytes.TrimRight(text, " \t\r\n")
	if end, ok := bytes.CutSuffix(trimmed, []byte("\n...")); ok {
		text = end
	}
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(bytes.Clone(text), '\n')
	}
	return text
}

// offsetOf converts yaml.v3's line and column (both from 1; the column
// counts characters, not bytes) into a byte offset in text.
func offsetOf(text []byte, line, column int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexAny(text[off:], "\r\n")
		if i < 0 {
			return 0, false
		}
		off += i + 1
		if text[off-1] == '\r' && off < len(text) && text[off] == '\n' {
			off++
		}
	}
	for c := 1; c < column; c++ {
		if off >= len(text) || text[off] == '\n' || text[off] == '\r' {
			return 0, false
		}
		_, size := utf8.DecodeRune(text[off:])
		off += size
	}
	return off, true
}

// lineBreak returns the line break the text uses, so that an inserted line
// matches a file saved on Windows.
func lineBreak(text []byte) string {
	if bytes.Contains(text, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

func splice(text []byte, start, end int, insert []byte) []byte {
	out := make([]byte, 0, len(text)-(end-start)+len(insert))
	out = append(out, text[:start]...)
	out = append(out, insert...)
	return append(out, text[end:]...)
}
