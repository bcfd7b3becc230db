package nginx

import (
	"strings"
	"testing"
)

// The agent reads a request's body by its line count: a body without its
// last newline must still count that line, and a peers list travels after
// the config in the same request.
func TestAgentRequests(t *testing.T) {
	if got := string(ApplyRequest([]byte("cfg1\ncfg2"), []byte("# h\nweb-1 10.0.0.1:80"))); got != "apply 2 2\ncfg1\ncfg2\n# h\nweb-1 10.0.0.1:80\n" {
		t.Errorf("ApplyRequest with peers = %q", got)
	}
	if got := string(ApplyRequest([]byte("cfg\n"), []byte{})); got != "apply 1 0\ncfg\n" {
		t.Errorf("ApplyRequest with an empty peers file = %q", got)
	}
	if got := string(PeersRequest([]byte(peersHeader + "web-1 10.0.0.1:80\n"))); got != "peers 2\n"+peersHeader+"web-1 10.0.0.1:80\n" {
		t.Errorf("PeersRequest = %q", got)
	}
	// The exec fallbacks carry the peers as an argument, never through a
	// shell's parsing of the script.
	peers := "web-1 10.0.0.1:80\n$(touch /x) `id`\n"
	cmd := PeersCommand([]byte(peers))
	if cmd[len(cmd)-1] != peers || strings.Contains(cmd[2], "touch") {
		t.Errorf("PeersCommand = %q", cmd)
	}
	// The agent and the exec fallbacks reach nginx's control listener only
	// on the loopback address.
	for _, script := range []string{agentScript(), PeersCommand(nil)[2], DrainingCommand()[2]} {
		if !strings.Contains(script, "/dev/tcp/127.0.0.1/") {
			t.Errorf("script does not use 127.0.0.1:\n%s", script)
		}
	}
}
