package controllers

import (
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Each named volume of the template becomes a mount of Docker volume
// SPEC-NAME, labelled with the spec (no template hash: it outlives every
// replica), the same for every replica.
func TestReplicaContainerSpecMountsNamedVolumes(t *testing.T) {
	spec := hardeningSpec(t, "    volumes:\n      - {name: data, mountPath: /var/lib/app}\n", "")
	for _, index := range []int{1, 2} {
		cs, err := ReplicaContainerSpec(spec, "h", 1, index, Capabilities{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Volumes) != 1 {
			t.Fatalf("replica %d: volumes %+v, want one", index, cs.Volumes)
		}
		v := cs.Volumes[0]
		name := spec.Metadata.Name
		if v.Name != name+"-data" || v.Target != "/var/lib/app" {
			t.Errorf("replica %d: mount %s at %s, want %s-data at /var/lib/app", index, v.Name, v.Target, name)
		}
		want := map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelSpec: name, v1alpha1.LabelVolume: "data"}
		if len(v.Labels) != len(want) {
			t.Errorf("labels %v, want %v", v.Labels, want)
		}
		for k, val := range want {
			if v.Labels[k] != val {
				t.Errorf("label %s = %q, want %q", k, v.Labels[k], val)
			}
		}
	}
	cs, err := ReplicaContainerSpec(hardeningSpec(t, "", ""), "h", 1, 1, Capabilities{})
	if err != nil || cs.Volumes != nil {
		t.Errorf("a template without volumes mounts %v (%v)", cs.Volumes, err)
	}
}
