package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// TemplateHash identifies a template. It covers the template alone, never
// Replicas, so scaling never recreates a replica; two templates that differ
// in any field hash differently. Call it on a defaulted template so that an
// explicit default and an omitted field hash alike.
//
// Fields added to the template after replicas were running hash only when
// they differ from their default (see hashable), so that upgrading scalerd
// never rolls every replica of every spec: the template an old replica was
// created from and the same template defaulted by the new scalerd hash
// alike.
func TemplateHash(t Template) string {
	return shortHash(hashable(t))
}

// hashable leaves out of t the later fields that hold their default. A
// replica that predates them keeps its hash, and so keeps running, without
// the new protection until it is next replaced; a value written out that
// differs from the default changes the hash and rolls the replicas.
func hashable(t Template) Template {
	if t.PidsLimit != nil && *t.PidsLimit == DefaultPidsLimit {
		t.PidsLimit = nil
	}
	if t.ReadOnlyRootFilesystem != nil && !*t.ReadOnlyRootFilesystem { // the default
		t.ReadOnlyRootFilesystem = nil
	}
	return t
}

// RestartHash folds a `rollout restart` marker into a template hash, so
// that every replica is replaced although the template did not change.
func RestartHash(templateHash, restartedAt string) string {
	if restartedAt == "" {
		return templateHash
	}
	return shortHash(templateHash + "/" + restartedAt)
}

// LoadBalancerHash identifies the container-level settings of a load
// balancer (image and published address). Settings that nginx can reload
// (algorithm, maxFails, failTimeout, statusPage, upstreamHeader) are left
// out, so changing them never recreates the nginx container.
func LoadBalancerHash(lb LoadBalancer) string {
	return shortHash(struct {
		Image, HostIP string
		Port          int32
	}{lb.Image, lb.HostIP, lb.Port})
}

func shortHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain data reaches here; a failure is a programming error.
		panic("v1alpha1: hashing: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:10]
}
