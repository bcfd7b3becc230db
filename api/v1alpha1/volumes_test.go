package v1alpha1

import (
	"strings"
	"testing"
)

func TestValidateVolumes(t *testing.T) {
	vol := func(name, path string) Volume { return Volume{Name: name, MountPath: path} }
	tests := []struct {
		name    string
		volumes []Volume
		want    []string
	}{
		{"valid", []Volume{vol("data", "/var/lib/redis"), vol("cache-2", "/cache")}, nil},
		{"name missing", []Volume{vol("", "/data")},
			[]string{`spec.template.volumes[0].name: required: a name like "data"; the Docker volume is the spec's name, '-', and this`}},
		{"name not a label", []Volume{vol("Data_1", "/data")},
			[]string{`spec.template.volumes[0].name: "Data_1" is not a valid volume name; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`}},
		{"name twice", []Volume{vol("data", "/a"), vol("data", "/b")},
			[]string{`spec.template.volumes[1].name: "data" is used twice; the first is spec.template.volumes[0]`}},
		{"path missing", []Volume{vol("data", "")},
			[]string{`spec.template.volumes[0].mountPath: required: where the replicas see the volume, an absolute path like "/var/lib/redis"`}},
		{"path relative", []Volume{vol("data", "./data")},
			[]string{`spec.template.volumes[0].mountPath: "./data" is not an absolute path; start it with '/', like "/data"`}},
		{"path not clean", []Volume{vol("data", "/var/lib/../redis/")},
			[]string{`spec.template.volumes[0].mountPath: "/var/lib/../redis/" is not a clean path; write "/var/redis"`}},
		{"root", []Volume{vol("data", "/")},
			[]string{`spec.template.volumes[0].mountPath: "/" would hide the image's whole file system; mount the volume on a directory, like "/data"`}},
		{"kernel's", []Volume{vol("data", "/proc/x")},
			[]string{`spec.template.volumes[0].mountPath: "/proc/x" is under /proc, the kernel's; mount the volume elsewhere, like "/data"`}},
		{"a host path as in compose", []Volume{vol("data", "/srv:/data")},
			[]string{`spec.template.volumes[0].mountPath: "/srv:/data" holds a NUL, ':' or ','; write a plain absolute path`}},
		{"path twice", []Volume{vol("a", "/data"), vol("b", "/data")},
			[]string{`spec.template.volumes[1].mountPath: "/data" is mounted twice; the first is spec.template.volumes[0]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Spec.Template.Volumes = tt.volumes
			assertErrors(t, s.Validate(), tt.want)
		})
	}

	s := validSpec()
	s.Spec.Template.ReadOnlyRootFilesystem = ptr(true)
	s.Spec.Template.Volumes = []Volume{vol("scratch", "/tmp/x")}
	assertErrors(t, s.Validate(), []string{`spec.template.volumes[0].mountPath: "/tmp/x" is in /tmp, where readOnlyRootFilesystem mounts a tmpfs; mount the volume elsewhere, like "/data"`})
}

// A spec file's volume errors name the file's line and field path, and a
// field compose has but scaler does not (a host path) is refused by name.
func TestVolumesInAFile(t *testing.T) {
	file := `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: redis
spec:
  template:
    image: scaler-redis:dev
    volumes:
      - {name: data, mountPath: /var/lib/redis}
      - {name: logs, mountPath: relative, source: /srv/logs}
`
	docs, err := LoadDocuments("redis.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	got := docs[0].Err
	if got == nil {
		t.Fatal("no error for a relative mountPath and an unknown field")
	}
	for _, want := range []string{"redis.yaml:10", "spec.template.volumes[1].source", "spec.template.volumes[1].mountPath"} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, got)
		}
	}

	good := strings.Replace(file, "      - {name: logs, mountPath: relative, source: /srv/logs}\n", "", 1)
	docs, err = LoadDocuments("redis.yaml", []byte(good))
	if err != nil || docs[0].Err != nil {
		t.Fatalf("valid volumes refused: %v %v", err, docs[0].Err)
	}
	if v := docs[0].Spec.Spec.Template.Volumes; len(v) != 1 || v[0] != (Volume{Name: "data", MountPath: "/var/lib/redis"}) {
		t.Errorf("volumes %+v", v)
	}
	if VolumeName("redis", "data") != "redis-data" {
		t.Errorf("VolumeName = %q", VolumeName("redis", "data"))
	}
}

// A template without volumes hashes as before volumes existed, so that
// upgrading scalerd rolls nothing; one with volumes hashes differently.
func TestVolumesHash(t *testing.T) {
	tmpl := validSpec().Spec.Template
	before := TemplateHash(tmpl)
	tmpl.Volumes = []Volume{}
	if TemplateHash(tmpl) != before {
		t.Error("an empty volumes list changed the hash")
	}
	tmpl.Volumes = []Volume{{Name: "data", MountPath: "/data"}}
	if TemplateHash(tmpl) == before {
		t.Error("a volume did not change the hash")
	}
}
