package v1alpha1

import (
	"reflect"
	"testing"
	"time"
)

// fill sets every field reachable from v to a non-zero value, so that a
// field added later without a DeepCopy line makes the test fail.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type() == reflect.TypeFor[*Source]() {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// shared reports a pointer or slice element that a and b share.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return shared(a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := shared(a.Index(i), b.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

func TestDeepCopy(t *testing.T) {
	var s ScaleSpec
	fill(reflect.ValueOf(&s).Elem())
	c := s.DeepCopy()
	if !reflect.DeepEqual(&s, c) {
		t.Fatalf("copy differs from original")
	}
	if p := shared(reflect.ValueOf(&s).Elem(), reflect.ValueOf(c).Elem(), "ScaleSpec"); p != "" {
		t.Fatalf("copy shares memory with the original at %s", p)
	}
	*c.Spec.Replicas = 99
	c.Spec.Template.Env[0].Name = "CHANGED"
	if *s.Spec.Replicas == 99 || s.Spec.Template.Env[0].Name == "CHANGED" {
		t.Fatal("changing the copy changed the original")
	}
	if (*ScaleSpec)(nil).DeepCopy() != nil {
		t.Fatal("nil copy is not nil")
	}
}

func TestSpecEqual(t *testing.T) {
	a, b := validSpec(), validSpec()
	if !SpecEqual(&a.Spec, &b.Spec) {
		t.Fatal("equal specs differ")
	}
	b.Spec.Template.Command = []string{}
	if !SpecEqual(&a.Spec, &b.Spec) {
		t.Fatal("an empty list differs from an omitted one")
	}
	*b.Spec.Replicas = 4
	if SpecEqual(&a.Spec, &b.Spec) {
		t.Fatal("a replicas change went unnoticed")
	}
}
