package v1alpha1

import (
	"strings"
	"testing"
)

// oldWebSpec is manifests/web.yaml as it was before pidsLimit,
// readOnlyRootFilesystem, statusPage and upstreamHeader existed. Its hashes
// below were computed by the scalerd of that time (commit acdad7f): the
// replicas and load balancers it created carry them as labels.
const oldWebSpec = `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  replicas: 3
  dependsOn: [redis]
  network: scaler-demo
  template:
    image: demoapp:dev
    env:
      - {name: REDIS_ADDR, value: "redis:6379"}
      - {name: GREETING, value: "Hello from scaler"}
    port: 5000
    resources:
      limits:       {cpus: "0.5",  memory: 256M}
      reservations: {cpus: "0.25", memory: 128M}
    healthCheck:
      command: ["/demoapp", "healthcheck"]
      interval: 2s
      timeout: 1s
      retries: 3
      startPeriod: 10s
      startInterval: 200ms
    stopGracePeriod: 10s
  loadBalancer:
    image: scaler-nginx:dev
    hostIP: 127.0.0.1
    port: 8080
    algorithm: least_conn
`

const (
	oldWebTemplateHash     = "9fc8a9a34b"
	oldWebLoadBalancerHash = "6bd80c5861"
)

func decodeOne(t *testing.T, text string) *ScaleSpec {
	t.Helper()
	specs, err := DecodeDocuments("web.yaml", []byte(text))
	if err != nil || len(specs) != 1 {
		t.Fatalf("decode: %v (%d specs)", err, len(specs))
	}
	specs[0].Default()
	return specs[0]
}

// An upgraded scalerd must find every running replica and load balancer
// current: a changed hash would roll every replica of every spec (and
// replace every nginx) at the first reconcile after the upgrade.
func TestOldSpecHashesAreUnchanged(t *testing.T) {
	s := decodeOne(t, oldWebSpec)
	if got := TemplateHash(s.Spec.Template); got != oldWebTemplateHash {
		t.Errorf("an old spec's template hash is %s, was %s: upgrading scalerd would roll its replicas", got, oldWebTemplateHash)
	}
	if got := LoadBalancerHash(*s.Spec.LoadBalancer); got != oldWebLoadBalancerHash {
		t.Errorf("an old spec's load balancer hash is %s, was %s: upgrading scalerd would replace its nginx", got, oldWebLoadBalancerHash)
	}
	// The defaults written out hash as the omitted fields do.
	explicit := decodeOne(t, strings.Replace(oldWebSpec, "    stopGracePeriod: 10s\n",
		"    stopGracePeriod: 10s\n    pidsLimit: 2048\n    readOnlyRootFilesystem: false\n", 1)+
		"    statusPage: true\n    upstreamHeader: true\n")
	if got := TemplateHash(explicit.Spec.Template); got != oldWebTemplateHash {
		t.Errorf("the new fields written at their defaults hash %s, want %s", got, oldWebTemplateHash)
	}
	if got := LoadBalancerHash(*explicit.Spec.LoadBalancer); got != oldWebLoadBalancerHash {
		t.Errorf("statusPage and upstreamHeader at their defaults hash the load balancer %s, want %s", got, oldWebLoadBalancerHash)
	}
}

// A value other than the default is a new template (a rollout); the load
// balancer's toggles are reloads, never a new nginx container.
func TestHardeningFieldsChangeTheRightHash(t *testing.T) {
	base := decodeOne(t, oldWebSpec)
	for name, mutate := range map[string]func(*ScaleSpec){
		"pidsLimit":              func(s *ScaleSpec) { s.Spec.Template.PidsLimit = ptr(int64(64)) },
		"readOnlyRootFilesystem": func(s *ScaleSpec) { s.Spec.Template.ReadOnlyRootFilesystem = ptr(true) },
	} {
		s := base.DeepCopy()
		mutate(s)
		if TemplateHash(s.Spec.Template) == oldWebTemplateHash {
			t.Errorf("changing %s leaves the template hash alone: the replicas would not roll", name)
		}
	}
	s := base.DeepCopy()
	s.Spec.LoadBalancer.StatusPage = ptr(false)
	s.Spec.LoadBalancer.UpstreamHeader = ptr(false)
	if got := LoadBalancerHash(*s.Spec.LoadBalancer); got != oldWebLoadBalancerHash {
		t.Errorf("statusPage/upstreamHeader changed the load balancer hash to %s: nginx would be replaced for what a reload does", got)
	}
	// hashable works on a copy: the caller's template keeps its defaults.
	TemplateHash(base.Spec.Template)
	if base.Spec.Template.PidsLimit == nil || *base.Spec.Template.PidsLimit != DefaultPidsLimit {
		t.Errorf("TemplateHash changed the template it was given: pidsLimit %v", base.Spec.Template.PidsLimit)
	}
}

func TestHardeningDefaults(t *testing.T) {
	s := decodeOne(t, oldWebSpec)
	tpl, lb := s.Spec.Template, s.Spec.LoadBalancer
	if *tpl.PidsLimit != DefaultPidsLimit || *tpl.ReadOnlyRootFilesystem {
		t.Errorf("template defaults: pidsLimit %d, readOnlyRootFilesystem %v; want %d, false", *tpl.PidsLimit, *tpl.ReadOnlyRootFilesystem, DefaultPidsLimit)
	}
	if !*lb.StatusPage || !*lb.UpstreamHeader {
		t.Errorf("load balancer defaults: statusPage %v, upstreamHeader %v; want both true", *lb.StatusPage, *lb.UpstreamHeader)
	}
	written := decodeOne(t, strings.Replace(oldWebSpec, "    stopGracePeriod: 10s\n",
		"    stopGracePeriod: 10s\n    pidsLimit: 64\n    readOnlyRootFilesystem: true\n", 1)+
		"    statusPage: false\n    upstreamHeader: false\n")
	tpl, lb = written.Spec.Template, written.Spec.LoadBalancer
	if *tpl.PidsLimit != 64 || !*tpl.ReadOnlyRootFilesystem || *lb.StatusPage || *lb.UpstreamHeader {
		t.Errorf("Default overwrote written values: pidsLimit %d readOnly %v statusPage %v upstreamHeader %v",
			*tpl.PidsLimit, *tpl.ReadOnlyRootFilesystem, *lb.StatusPage, *lb.UpstreamHeader)
	}
	if err := written.Validate(); err != nil {
		t.Errorf("a hardened spec is invalid: %v", err)
	}
}

func TestValidatePidsLimit(t *testing.T) {
	tests := []struct {
		limit int64
		want  []string
	}{
		{MinPidsLimit, nil},
		{MaxPidsLimit, nil},
		{0, []string{`spec.template.pidsLimit: 0 is too few for the app, its health probe and an exec; use 16 to 4194304, or leave it out for 2048`}},
		{-1, []string{`spec.template.pidsLimit: -1 is too few for the app, its health probe and an exec; use 16 to 4194304, or leave it out for 2048`}},
		{15, []string{`spec.template.pidsLimit: 15 is too few for the app, its health probe and an exec; use 16 to 4194304, or leave it out for 2048`}},
		{MaxPidsLimit + 1, []string{`spec.template.pidsLimit: 4194305 is more than 4194304, the kernel's largest PID; use at most 4194304, which is no limit`}},
	}
	for _, tt := range tests {
		s := validSpec()
		s.Spec.Template.PidsLimit = ptr(tt.limit)
		assertErrors(t, s.Validate(), tt.want)
	}
}

// A file gets the error at the line of the field.
func TestValidatePidsLimitNamesTheLine(t *testing.T) {
	text := strings.Replace(oldWebSpec, "    stopGracePeriod: 10s\n", "    stopGracePeriod: 10s\n    pidsLimit: 1\n", 1)
	s := decodeOne(t, text)
	errs := AsErrorList(s.Validate())
	if len(errs) != 1 || errs[0].Path != "spec.template.pidsLimit" || errs[0].Line != 26 {
		t.Fatalf("errors %v, want one at web.yaml:26 spec.template.pidsLimit", errs)
	}
}

// Booleans are YAML 1.2's true and false: anything else is an error that
// says what to write, not a guess.
func TestDecodeBoolIsStrict(t *testing.T) {
	for _, v := range []string{`"true"`, "yes", "on", "1", "[true]"} {
		text := strings.Replace(oldWebSpec, "    stopGracePeriod: 10s\n", "    stopGracePeriod: 10s\n    readOnlyRootFilesystem: "+v+"\n", 1)
		_, err := DecodeDocuments("web.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), "web.yaml:26: spec.template.readOnlyRootFilesystem: expected true or false, got ") {
			t.Errorf("readOnlyRootFilesystem: %s: error %v, want one asking for true or false", v, err)
		}
	}
}

// hashable's test of readOnlyRootFilesystem against false is its default.
func TestReadOnlyRootFilesystemDefaultsToFalse(t *testing.T) {
	if DefaultReadOnlyRootFilesystem {
		t.Fatal("hashable leaves out readOnlyRootFilesystem: false; change it with the default")
	}
}
