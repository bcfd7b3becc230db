package fielddocs

import (
	"strings"
	"testing"
)

const src = `package x

// ScaleSpec is the root.
type ScaleSpec struct {
	// Spec is the spec.
	// +required
	Spec Spec ` + "`json:\"spec\"`" + `
	hidden string
	Skipped string ` + "`json:\"-\"`" + `
}

// Spec holds things.
type Spec struct {
	// Count counts.
	// +default=3
	Count *int32 ` + "`json:\"count,omitempty\"`" + `
	// Mode picks.
	// +enum=a,b
	Mode string ` + "`json:\"mode\"`" + `
	Wait *Duration ` + "`json:\"wait\"`" + `
	Items []Item ` + "`json:\"items\"`" + `
}

// Item is one item.
type Item struct {
	Name string ` + "`json:\"name\"`" + `
}

type Duration struct{ D int64 }
`

func TestParseWalksTheTreeWithMarkers(t *testing.T) {
	fields, err := Parse("x.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Path+" <"+f.Type+"> "+f.Default+" "+strings.Join(f.Enum, "|")+" "+f.Doc)
	}
	want := []string{
		" <object>   ScaleSpec is the root.",
		"spec <object>   Spec is the spec.",
		"spec.count <integer> 3  Count counts.",
		"spec.mode <string>  a|b Mode picks.",
		"spec.wait <duration>   ",
		"spec.items <[]object>   Item is one item.",
		"spec.items.name <string>   ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !fields[1].Required {
		t.Error("+required was not read")
	}
}

func TestParseRejectsAnUnknownMarker(t *testing.T) {
	bad := strings.Replace(src, "+default=3", "+defualt=3", 1)
	if _, err := Parse("x.go", []byte(bad)); err == nil || !strings.Contains(err.Error(), "+defualt") {
		t.Errorf("err = %v", err)
	}
}
