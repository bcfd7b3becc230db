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
func TemplateHash(t Template) string {
	return shortHash(t)
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
// (algorithm, maxFails, failTimeout) are left out, so changing them never
// recreates the nginx container.
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
