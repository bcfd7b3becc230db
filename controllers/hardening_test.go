package controllers

import (
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func hardeningSpec(t *testing.T, extraTemplate, extraLB string) *v1alpha1.ScaleSpec {
	t.Helper()
	specs, err := v1alpha1.DecodeDocuments("web.yaml", []byte(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  template:
    image: demoapp:dev
    port: 5000
`+extraTemplate+`  loadBalancer:
    port: 8080
`+extraLB))
	if err != nil {
		t.Fatal(err)
	}
	specs[0].Default()
	if err := specs[0].Validate(); err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

func TestReplicaContainerSpecHardening(t *testing.T) {
	spec := hardeningSpec(t, "", "")
	cs, err := ReplicaContainerSpec(spec, "h", 1, 1, Capabilities{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.PidsLimit != v1alpha1.DefaultPidsLimit || cs.ReadOnlyRootfs || cs.Tmpfs != nil || !cs.Hardened {
		t.Errorf("default replica: pids %d read-only %v tmpfs %v hardened %v; want %d, writable, none, hardened",
			cs.PidsLimit, cs.ReadOnlyRootfs, cs.Tmpfs, cs.Hardened, v1alpha1.DefaultPidsLimit)
	}

	spec = hardeningSpec(t, "    pidsLimit: 64\n    readOnlyRootFilesystem: true\n", "")
	cs, err = ReplicaContainerSpec(spec, "h", 1, 1, Capabilities{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.PidsLimit != 64 || !cs.ReadOnlyRootfs || cs.Tmpfs["/tmp"] != ReadOnlyTmpOptions || len(cs.Tmpfs) != 1 {
		t.Errorf("hardened replica: pids %d read-only %v tmpfs %v", cs.PidsLimit, cs.ReadOnlyRootfs, cs.Tmpfs)
	}
	for _, opt := range []string{"size=64m", "mode=1777", "noexec"} {
		if !strings.Contains(ReadOnlyTmpOptions, opt) {
			t.Errorf("the /tmp of a read-only replica lacks %s: %s", opt, ReadOnlyTmpOptions)
		}
	}
}

func TestRenderConfigLoadBalancerToggles(t *testing.T) {
	up := []Container{{Name: "web-1", IPs: map[string]string{v1alpha1.DefaultNetwork: "172.20.0.3"}}}
	on, _, _, err := renderConfig(hardeningSpec(t, "", ""), up)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(on), "stub_status;") || !strings.Contains(string(on), "X-Upstream-Server") {
		t.Errorf("by default the status page and X-Upstream-Server are on:\n%s", on)
	}
	off, _, _, err := renderConfig(hardeningSpec(t, "", "    statusPage: false\n    upstreamHeader: false\n"), up)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(off), "stub_status") || strings.Contains(string(off), "/nginx-status") || strings.Contains(string(off), "X-Upstream-Server") {
		t.Errorf("statusPage and upstreamHeader false still render them:\n%s", off)
	}
}
