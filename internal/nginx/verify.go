package nginx

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Running is what a load balancer's nginx says it runs, read back from
// the running workers (VerifyPath), not from what scalerd wrote: the
// check behind the UpstreamInSync condition.
type Running struct {
	// ConfigMD5 is the MD5 (hex) of the config the master loaded on its
	// last start or reload; FileMD5 that of the config file now, which a
	// later start or reload would load; PeersFileMD5 that of the peers
	// file now.
	ConfigMD5, FileMD5, PeersFileMD5 string
	// Members are the peers the workers balance over: name -> address.
	Members map[string]string
	// Unreachable maps each member that did not accept a TCP connection
	// from inside the load balancer to nginx's reason.
	Unreachable map[string]string
	// Counts is how many addresses have an in-flight count in nginx's
	// shared dict: the members, and past members with requests in flight.
	Counts int
}

// Checksum is the MD5 (hex) of b, as Running's fields hold it.
func Checksum(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// ParseVerify reads the one line balancer.lua's verify answers:
//
//	config=MD5 file=MD5 peersfile=MD5 members=NAME@ADDR,... connect=NAME:ok|ERROR,... [counts=N]
func ParseVerify(line string) (Running, error) {
	r := Running{Members: map[string]string{}, Unreachable: map[string]string{}}
	seen := map[string]bool{}
	for _, field := range strings.Fields(line) {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return Running{}, fmt.Errorf("nginx's verify answer %q: %q is not key=value", line, field)
		}
		seen[key] = true
		switch key {
		case "config":
			r.ConfigMD5 = val
		case "file":
			r.FileMD5 = val
		case "peersfile":
			r.PeersFileMD5 = val
		case "members":
			for _, m := range splitList(val) {
				name, addr, ok := strings.Cut(m, "@")
				if !ok {
					return Running{}, fmt.Errorf("nginx's verify answer %q: member %q is not NAME@ADDR", line, m)
				}
				r.Members[name] = addr
			}
		case "counts":
			n, err := strconv.Atoi(val)
			if err != nil {
				return Running{}, fmt.Errorf("nginx's verify answer %q: counts=%q is not a number", line, val)
			}
			r.Counts = n
		case "connect":
			for _, c := range splitList(val) {
				name, res, ok := strings.Cut(c, ":")
				if !ok {
					return Running{}, fmt.Errorf("nginx's verify answer %q: %q is not NAME:RESULT", line, c)
				}
				if res != "ok" {
					r.Unreachable[name] = strings.ReplaceAll(res, "_", " ")
				}
			}
		}
	}
	for _, key := range []string{"config", "file", "peersfile", "members", "connect"} {
		if !seen[key] {
			return Running{}, fmt.Errorf("nginx's verify answer %q lacks %s=", line, key)
		}
	}
	return r, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ConfigDrift says, in words for a condition's message, how the config
// nginx runs, or would load on its next start, differs from cfg, the one
// scalerd applied; "" when it does not.
func (r Running) ConfigDrift(cfg []byte) string {
	want := Checksum(cfg)
	switch {
	case r.ConfigMD5 != want:
		return "nginx runs another config than the one scalerd applied (reloaded by hand, or a reload that did not take)"
	case r.FileMD5 != want:
		return "the config file differs from the one nginx runs (edited by hand: a restart would load it)"
	}
	return ""
}

// MembersDrift lists how the members nginx balances over, and the peers
// file, differ from peers, the file scalerd wrote; nil when they do not.
func (r Running) MembersDrift(peers []byte) []string {
	var out []string
	if r.PeersFileMD5 != Checksum(peers) {
		out = append(out, "the peers file differs from the one scalerd wrote (edited by hand: a restart would load it)")
	}
	planned := parsePeers(peers)
	var missing, extra, moved []string
	for name, addr := range planned {
		got, ok := r.Members[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case got != addr:
			moved = append(moved, fmt.Sprintf("%s at %s, not %s", name, got, addr))
		}
	}
	for name := range r.Members {
		if _, ok := planned[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(missing) > 0 {
		out = append(out, "members missing from nginx: "+joinSorted(missing))
	}
	if len(extra) > 0 {
		out = append(out, "members nginx has that scalerd removed: "+joinSorted(extra))
	}
	if len(moved) > 0 {
		out = append(out, "members at another address: "+joinSorted(moved))
	}
	return out
}

// UnreachableList describes the unreachable members, sorted by name.
func (r Running) UnreachableList() []string {
	var out []string
	for _, name := range slices.SortedFunc(maps.Keys(r.Unreachable), v1alpha1.CompareReplicaNames) {
		out = append(out, fmt.Sprintf("%s (%s): %s", name, r.Members[name], r.Unreachable[name]))
	}
	return out
}

func joinSorted(names []string) string {
	slices.SortFunc(names, v1alpha1.CompareReplicaNames)
	return strings.Join(names, ", ")
}
