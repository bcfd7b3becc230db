package v1alpha1

import (
	"cmp"
	"strconv"
	"strings"
)

// CompareReplicaNames orders replica names as people count: web-2 before
// web-10 (a replica is NAME-INDEX). Names that do not share a base, or have
// no number after their last dash, compare as strings. It is the one order
// of replicas that every listing uses: the peers file, get, top, loadtest.
func CompareReplicaNames(a, b string) int {
	aBase, aNum, aOK := splitReplicaName(a)
	bBase, bNum, bOK := splitReplicaName(b)
	if aOK && bOK && aBase == bBase {
		return cmp.Compare(aNum, bNum)
	}
	return strings.Compare(a, b)
}

func splitReplicaName(name string) (string, int, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return name, 0, false
	}
	return name[:i], n, true
}
