package v1alpha1

import "slices"

//go:generate go run ../../hack/gen-fielddocs

// FieldDoc documents one field of the ScaleSpec API, for `scalectl
// explain`. The list is generated from the doc comments of types.go, so
// that the documentation and the code cannot drift apart.
type FieldDoc struct {
	// Path is the field's path in a document, like "spec.strategy.maxSurge";
	// the ScaleSpec itself has the empty path.
	Path string
	// Type is "string", "integer", "boolean", "duration", "integer or
	// percentage", "timestamp", "object", or "[]" of one of them.
	Type     string
	Required bool
	// Default is the value a spec gets when the field is left out.
	Default string
	// Enum lists the accepted values, when they are few.
	Enum []string
	Doc  string
}

// FieldDocs returns the documentation of every field, depth first in the
// order of the types, the ScaleSpec itself first.
func FieldDocs() []FieldDoc {
	return slices.Clone(fieldDocs)
}
