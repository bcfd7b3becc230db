// Package fielddocs generates the field documentation of the ScaleSpec
// API from the doc comments of api/v1alpha1/types.go, for `scalectl
// explain`. Generating it from the comments keeps one source for what a
// field means: a comment changed without `go generate` fails a test.
//
// A field's doc comment may end with markers, one a line, that are not
// prose: "+required", "+default=VALUE" and "+enum=A,B,C".
package fielddocs

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
)

// Root is the type the documentation starts from.
const Root = "ScaleSpec"

// Field is one documented field, as generated.
type Field struct {
	Path     string
	Type     string
	Required bool
	Default  string
	Enum     []string
	Doc      string
}

// Parse reads the Go source of the API types and returns the fields
// reachable from Root, depth first in declaration order, Root itself first
// with an empty path.
func Parse(filename string, src []byte) ([]Field, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	types := map[string]*ast.TypeSpec{}
	docs := map[string]string{}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			types[ts.Name.Name] = ts
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			docs[ts.Name.Name] = doc.Text()
		}
	}
	if _, ok := types[Root]; !ok {
		return nil, fmt.Errorf("%s: no type %s", filename, Root)
	}
	g := &gen{types: types, docs: docs}
	root := Field{Type: "object", Doc: clean(docs[Root])}
	out := []Field{root}
	if err := g.walk(Root, "", &out, map[string]bool{}); err != nil {
		return nil, err
	}
	return out, nil
}

type gen struct {
	types map[string]*ast.TypeSpec
	docs  map[string]string
}

func (g *gen) walk(typeName, prefix string, out *[]Field, visiting map[string]bool) error {
	if visiting[typeName] {
		return fmt.Errorf("type %s refers to itself; explain cannot print an endless tree", typeName)
	}
	visiting[typeName] = true
	defer delete(visiting, typeName)
	st, ok := g.types[typeName].Type.(*ast.StructType)
	if !ok {
		return nil
	}
	for _, f := range st.Fields.List {
		if len(f.Names) != 1 || !f.Names[0].IsExported() {
			continue // embedded or unexported: not part of the document
		}
		name := jsonName(f)
		if name == "" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		doc, markers := splitMarkers(f.Doc.Text())
		field := Field{Path: path, Type: g.typeString(f.Type)}
		for _, m := range markers {
			key, value, _ := strings.Cut(m, "=")
			switch key {
			case "required":
				field.Required = true
			case "default":
				field.Default = value
			case "enum":
				field.Enum = strings.Split(value, ",")
			default:
				return fmt.Errorf("field %s: unknown marker +%s; use +required, +default=VALUE or +enum=A,B", path, key)
			}
		}
		nested := g.structName(f.Type)
		if doc == "" && nested != "" {
			doc = clean(g.docs[nested])
		}
		field.Doc = doc
		*out = append(*out, field)
		if nested != "" {
			if err := g.walk(nested, path, out, visiting); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonName is the field's name in a document, or "" for one left out.
func jsonName(f *ast.Field) string {
	if f.Tag == nil {
		return ""
	}
	tag, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// structName is the struct type a field holds (through a pointer or a
// slice), or "" for a scalar.
func (g *gen) structName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return g.structName(t.X)
	case *ast.ArrayType:
		return g.structName(t.Elt)
	case *ast.Ident:
		if ts, ok := g.types[t.Name]; ok {
			if _, ok := ts.Type.(*ast.StructType); ok && !scalarStructs[t.Name] {
				return t.Name
			}
		}
	}
	return ""
}

// scalarStructs are structs that a document writes as one value.
var scalarStructs = map[string]bool{"Duration": true, "IntOrPercent": true}

func (g *gen) typeString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return g.typeString(t.X)
	case *ast.ArrayType:
		return "[]" + g.typeString(t.Elt)
	case *ast.MapType:
		return "map[" + g.typeString(t.Key) + "]" + g.typeString(t.Value)
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok && x.Name == "time" && t.Sel.Name == "Time" {
			return "timestamp"
		}
		return t.Sel.Name
	case *ast.Ident:
		switch t.Name {
		case "int", "int32", "int64", "uint", "uint32", "uint64":
			return "integer"
		case "float32", "float64":
			return "number"
		case "bool":
			return "boolean"
		case "string":
			return "string"
		case "Duration":
			return "duration"
		case "IntOrPercent":
			return "integer or percentage"
		}
		if g.structName(t) != "" {
			return "object"
		}
		if ts, ok := g.types[t.Name]; ok {
			return g.typeString(ts.Type) // a named string, like ConditionStatus
		}
		return t.Name
	}
	return fmt.Sprintf("%T", e)
}

// splitMarkers separates a comment's prose from its +markers.
func splitMarkers(text string) (string, []string) {
	var prose []string
	var markers []string
	for _, line := range strings.Split(text, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "+"); ok && m != "" {
			markers = append(markers, m)
			continue
		}
		prose = append(prose, line)
	}
	return clean(strings.Join(prose, "\n")), markers
}

// clean joins a comment's lines into paragraphs.
func clean(text string) string {
	var paras []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		paras = append(paras, strings.Join(strings.Fields(p), " "))
	}
	return strings.Join(paras, "\n\n")
}

// Generate returns the Go file that holds fields as package pkg's
// variable name.
func Generate(pkg, name, source string, fields []Field) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by hack/gen-fielddocs from %s; DO NOT EDIT.\n\npackage %s\n\n", source, pkg)
	fmt.Fprintf(&b, "var %s = []FieldDoc{\n", name)
	for _, f := range fields {
		fmt.Fprintf(&b, "\t{Path: %q, Type: %q", f.Path, f.Type)
		if f.Required {
			b.WriteString(", Required: true")
		}
		if f.Default != "" {
			fmt.Fprintf(&b, ", Default: %q", f.Default)
		}
		if len(f.Enum) > 0 {
			fmt.Fprintf(&b, ", Enum: %#v", f.Enum)
		}
		fmt.Fprintf(&b, ",\n\t\tDoc: %q},\n", f.Doc)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
