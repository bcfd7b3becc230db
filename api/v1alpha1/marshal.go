package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// MarshalYAML writes v (a spec, or a part of one) as block YAML with the
// API's field names in the API's field order, two-space indented, quoting
// only what needs quotes, and without the empty mappings that structs
// leave ("resources: {}"), so that what scalectl prints and scalerd writes
// reads like a file a person wrote.
func MarshalYAML(v any) ([]byte, error) {
	// JSON carries the field names, omitempty and the custom marshalers;
	// yaml.v3 reading that JSON keeps the field order, which a map would
	// lose.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("marshal: nothing to write")
	}
	root := doc.Content[0]
	plainStyle(root)
	pruneEmptyMappings(root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// plainStyle clears the flow and quoting styles JSON gives; the encoder then
// writes block YAML and quotes a string only where it would read as
// something else.
func plainStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plainStyle(c)
	}
}

func pruneEmptyMappings(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			pruneEmptyMappings(c)
		}
		return
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		pruneEmptyMappings(v)
		if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
			continue
		}
		kept = append(kept, n.Content[i], v)
	}
	n.Content = kept
}
