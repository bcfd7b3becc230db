package docker

import (
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/scaler-dev/scaler/engine"
)

// Named volumes reach the host config as volume mounts, never binds.
func TestCreateConfigMountsNamedVolumes(t *testing.T) {
	spec := engine.ContainerSpec{Image: "scaler-redis:dev", Volumes: []engine.VolumeMount{
		{Name: "redis-data", Target: "/var/lib/redis"},
	}}
	_, host, _, err := createConfig(spec, engine.Capabilities{})
	if err != nil {
		t.Fatal(err)
	}
	want := mount.Mount{Type: mount.TypeVolume, Source: "redis-data", Target: "/var/lib/redis"}
	if len(host.Mounts) != 1 || host.Mounts[0] != want || len(host.Binds) != 0 {
		t.Errorf("mounts %+v binds %v, want %+v only", host.Mounts, host.Binds, want)
	}
	_, host, _, err = createConfig(engine.ContainerSpec{Image: "demoapp:dev"}, engine.Capabilities{})
	if err != nil || host.Mounts != nil {
		t.Errorf("no volumes: mounts %+v (%v), want none", host.Mounts, err)
	}
}
