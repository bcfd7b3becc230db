package v1alpha1

import "testing"

func TestMarshalYAML(t *testing.T) {
	s := &ScaleSpec{
		APIVersion: GroupVersion, Kind: Kind, Metadata: ObjectMeta{Name: "web"},
		Spec: Spec{
			Replicas: ptr(int32(2)),
			Template: Template{
				Image:     "demoapp:dev",
				Env:       []EnvVar{{Name: "RATIO", Value: "0.5"}, {Name: "DEBUG", Value: "true"}},
				Resources: Resources{Limits: ResourceList{Memory: "256M"}},
			},
			Strategy: Strategy{MaxSurge: &IntOrPercent{Value: 25, IsPercent: true}},
		},
	}
	got, err := MarshalYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  replicas: 2
  template:
    image: demoapp:dev
    env:
      - name: RATIO
        value: "0.5"
      - name: DEBUG
        value: "true"
    resources:
      limits:
        memory: 256M
  strategy:
    maxSurge: 25%
`
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	docs, err := LoadDocuments("out.yaml", got)
	if err != nil || docs[0].Err != nil || docs[0].Spec.Spec.Template.Env[0].Value != "0.5" {
		t.Fatalf("output does not load back: %v %v", err, docs)
	}
}
