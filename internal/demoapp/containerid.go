package demoapp

import (
	"os"
	"regexp"
)

// containerIDPattern finds the Engine's container directory in a mount
// line: Docker bind-mounts /etc/hostname from /var/lib/docker/containers/<id>/.
var containerIDPattern = regexp.MustCompile(`/containers/([0-9a-f]{64})/`)

// ContainerIDFrom returns the short (12-character) container ID named in
// mountinfo, or "" outside a container. The hostname is not the ID when the
// hostname is set, as scalerd sets it to the replica's name.
func ContainerIDFrom(mountinfo []byte) string {
	m := containerIDPattern.FindSubmatch(mountinfo)
	if m == nil {
		return ""
	}
	return string(m[1][:12])
}

// ContainerID reads the container's ID from /proc/self/mountinfo.
func ContainerID() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	return ContainerIDFrom(b)
}
