package nginx

import (
	"strings"
	"testing"
)

func TestParseVerify(t *testing.T) {
	cfg, peers := []byte("events {}\n"), []byte(peersHeader+"web-1 10.0.0.1:5000\nweb-2 10.0.0.2:5000\n")
	line := "config=" + Checksum(cfg) + " file=" + Checksum(cfg) + " peersfile=" + Checksum(peers) +
		" members=web-1@10.0.0.1:5000,web-2@10.0.0.2:5000 connect=web-1:ok,web-2:connection_refused"
	r, err := ParseVerify(line)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.ConfigDrift(cfg); d != "" {
		t.Errorf("ConfigDrift = %q", d)
	}
	if d := r.MembersDrift(peers); d != nil {
		t.Errorf("MembersDrift = %q", d)
	}
	if l := r.UnreachableList(); len(l) != 1 || l[0] != "web-2 (10.0.0.2:5000): connection refused" {
		t.Errorf("UnreachableList = %q", l)
	}

	moved := []byte(peersHeader + "web-1 10.0.0.9:5000\nweb-3 10.0.0.3:5000\n")
	got := strings.Join(r.MembersDrift(moved), "; ")
	for _, want := range []string{"peers file differs", "missing from nginx: web-3", "scalerd removed: web-2", "web-1 at 10.0.0.1:5000, not 10.0.0.9:5000"} {
		if !strings.Contains(got, want) {
			t.Errorf("MembersDrift = %q, lacks %q", got, want)
		}
	}
	if d := r.ConfigDrift([]byte("other")); !strings.Contains(d, "another config") {
		t.Errorf("ConfigDrift of another config = %q", d)
	}

	empty, err := ParseVerify("config=a file=a peersfile=b members= connect=")
	if err != nil || len(empty.Members) != 0 || len(empty.Unreachable) != 0 {
		t.Errorf("no members: %+v %v", empty, err)
	}
	for _, bad := range []string{"", "config=a file=a peersfile=b members=", "config=a file=a peersfile=b members=web-1 connect=", "nonsense"} {
		if _, err := ParseVerify(bad); err == nil {
			t.Errorf("ParseVerify(%q) took it", bad)
		}
	}
}
