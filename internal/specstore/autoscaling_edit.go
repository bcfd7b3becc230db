package specstore

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ErrNotAutoscaled is SetAutoscalingBounds' answer for a spec without
// spec.autoscaling.
var ErrNotAutoscaled = errors.New("not autoscaled")

// SetAutoscalingBounds changes spec.autoscaling's minReplicas and
// maxReplicas (a nil one stays) in the spec's file, as `scalectl scale
// --min/--max` asks: the other lines keep their bytes and comments, as
// SetReplicas keeps them. Bounds that do not validate (min above max) are
// refused before the file is touched.
func (s *Store) SetAutoscalingBounds(name string, minReplicas, maxReplicas *int32) error {
	var want v1alpha1.Autoscaling
	return s.editDocument(name, func(doc v1alpha1.Document, text []byte) ([]byte, error) {
		cur := doc.Spec.Spec.Autoscaling
		if cur == nil {
			return nil, fmt.Errorf("%w: scalespec %q has no spec.autoscaling; set its count with --replicas, or add spec.autoscaling to its file", ErrNotAutoscaled, name)
		}
		want = *cur.DeepCopy()
		if minReplicas != nil {
			want.MinReplicas = minReplicas
		}
		if maxReplicas != nil {
			want.MaxReplicas = *maxReplicas
		}
		check := doc.Spec.DeepCopy()
		check.Spec.Autoscaling = &want
		if err := check.Validate(); err != nil {
			return nil, err
		}
		if want.Min() == cur.Min() && want.MaxReplicas == cur.MaxReplicas {
			return nil, nil
		}
		return setAutoscalingText(text, *cur, want)
	}, func(spec *v1alpha1.ScaleSpec) bool {
		a := spec.Spec.Autoscaling
		return a != nil && a.Min() == want.Min() && a.MaxReplicas == want.MaxReplicas
	})
}

// setAutoscalingText changes spec.autoscaling from cur to want (both
// defaulted) in the document text, field by field where the layout allows
// (as setTemplateInPlace does for the template), else re-encoding it.
func setAutoscalingText(text []byte, cur, want v1alpha1.Autoscaling) ([]byte, error) {
	doc, err := parseDocumentNode(text)
	if err != nil {
		return nil, err
	}
	spec := mappingValue(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, errors.New("spec is not written as a mapping in the file, so its autoscaling cannot be set; edit the file")
	}
	file := mappingValue(spec, "autoscaling")
	if file == nil {
		return nil, errors.New("spec.autoscaling is not in the file; edit the file")
	}
	if out, err := setMappingInPlace(text, file, cur, want); err == nil {
		return out, nil
	} else if !errors.Is(err, errNotEditable) {
		return nil, err
	}
	node, err := toNode(want)
	if err != nil {
		return nil, err
	}
	node.HeadComment, node.LineComment, node.FootComment = file.HeadComment, file.LineComment, file.FootComment
	*file = *node
	return encodeDocument(text, doc)
}

// setMappingInPlace rewrites only the fields of the file's mapping whose
// values differ between cur and want, keeping every other byte (see
// setTemplateInPlace); a layout it cannot edit safely is errNotEditable.
func setMappingInPlace(text []byte, file *yaml.Node, cur, want any) ([]byte, error) {
	curValue, err := genericValue(cur)
	if err != nil {
		return nil, err
	}
	wantValue, err := genericValue(want)
	if err != nil {
		return nil, err
	}
	wantNode, err := toNode(want)
	if err != nil {
		return nil, err
	}
	e := &templateEditor{text: text, lines: lineStarts(text), lineBreak: lineBreak(text)}
	if err := e.mapping(file, asMap(curValue), asMap(wantValue), wantNode); err != nil {
		return nil, err
	}
	return e.apply(), nil
}
