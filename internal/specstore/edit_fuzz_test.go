package specstore

import (
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// FuzzSetReplicas edits arbitrary valid documents: the edit must never
// panic, and whenever it succeeds the document must load with the new
// replicas and an otherwise unchanged spec.
func FuzzSetReplicas(f *testing.F) {
	f.Add([]byte(commented), int32(5))
	f.Add([]byte(specYAML("web", 3)), int32(0))
	f.Add([]byte("apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata: {name: w}\nspec: {template: {image: x}}\n"), int32(2))
	f.Add([]byte("---\r\napiVersion: scaler.dev/v1alpha1\r\nkind: ScaleSpec\r\nmetadata:\r\n  name: w\r\nspec:\r\n  template:\r\n    image: x\r\n"), int32(7))
	f.Add([]byte("base: &b {replicas: 2, template: {image: x}}\n"), int32(1))
	f.Fuzz(func(t *testing.T, data []byte, replicas int32) {
		if replicas < 0 {
			replicas = -replicas
			if replicas < 0 {
				replicas = 0
			}
		}
		docs, err := v1alpha1.LoadDocuments("f.yaml", data)
		if err != nil {
			return
		}
		for _, d := range docs {
			if d.Err != nil {
				continue
			}
			text, err := setReplicasText(data[d.Start:d.End], replicas)
			if err != nil {
				continue
			}
			after, err := v1alpha1.LoadDocuments("f.yaml", text)
			if err != nil || len(after) != 1 || after[0].Err != nil {
				t.Fatalf("edited document does not load: %v %v\n%s", err, after, text)
			}
			got := after[0].Spec
			if *got.Spec.Replicas != replicas {
				t.Fatalf("replicas %d, want %d\n%s", *got.Spec.Replicas, replicas, text)
			}
			*got.Spec.Replicas = *d.Spec.Spec.Replicas
			if !v1alpha1.SpecEqual(&got.Spec, &d.Spec.Spec) || got.Metadata.Name != d.Spec.Metadata.Name {
				t.Fatalf("the edit changed more than replicas:\n%s\n---- became ----\n%s", data[d.Start:d.End], text)
			}
		}
	})
}
