package demoapp

import "testing"

func TestContainerIDFromMountinfo(t *testing.T) {
	line := "1234 1200 254:0 /var/lib/docker/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n"
	if got := ContainerIDFrom([]byte(line)); got != "0123456789ab" {
		t.Errorf("ContainerIDFrom = %q, want the short id", got)
	}
	if got := ContainerIDFrom([]byte("22 1 0:21 / /proc rw - proc proc rw\n")); got != "" {
		t.Errorf("outside a container = %q, want empty", got)
	}
}
