package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestRedisKeepsItsDataAcrossRolloutRestart runs manifests/redis.yaml (a
// password filled in, made unique to this stack) with its named volume:
// a key written to Redis is still there after `scalectl rollout restart`
// replaced the replica, the volume carries scaler's labels, and
// `scalectl delete` leaves it (scaler never removes a volume).
func TestRedisKeepsItsDataAcrossRolloutRestart(t *testing.T) {
	s := newStack(t)
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	redis := s.name("redis")
	s.writeSpec("redis.yaml", manifest(t, "redis.yaml",
		"name: redis", "name: "+redis,
		"network: scaler-demo", "network: "+s.network,
		`"${REDIS_PASSWORD}"`, `"`+hex.EncodeToString(secret)+`"`,
		"- {name: data, mountPath: /var/lib/redis}", "- {name: data, mountPath: /var/lib/redis}"))
	s.startDaemon()
	s.waitReady(redis, 1, false, 90*time.Second)

	volume := v1alpha1.VolumeName(redis, "data")
	var inspected []struct {
		Labels map[string]string
	}
	if err := json.Unmarshal([]byte(testenv.Docker(t, "volume", "inspect", volume)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("volume %s: %v %+v", volume, err, inspected)
	}
	for k, want := range map[string]string{
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelSpec: redis,
		v1alpha1.LabelVolume: "data", v1alpha1.LabelInstance: s.instance,
	} {
		if got := inspected[0].Labels[k]; got != want {
			t.Errorf("volume label %s = %q, want %q", k, got, want)
		}
	}

	before := s.onlyReplica(redis)
	t.Logf("write a key to Redis in %s", before)
	if out := testenv.Docker(t, "exec", before, "redis-cli", "set", "visits-kept", "42"); out != "OK" {
		t.Fatalf("redis-cli set: %q", out)
	}

	if out, err := s.scalectl("rollout", "restart", redis); err != nil {
		t.Fatalf("rollout restart: %v: %s", err, out)
	}
	var after string
	testenv.WaitFor(t, 2*time.Minute, "a new ready Redis replica", func() (bool, error) {
		replicas := s.containers(redis, v1alpha1.RoleApp)
		spec, err := s.get(redis)
		if err != nil {
			return false, err
		}
		for _, id := range replicas {
			after = id
		}
		ok := len(replicas) == 1 && after != before && spec.Status != nil && spec.Status.ReadyReplicas == 1
		return ok, fmt.Errorf("replicas %v (before: %s), status %+v", replicas, before, spec.Status)
	})
	if out := testenv.Docker(t, "exec", after, "redis-cli", "get", "visits-kept"); out != "42" {
		t.Fatalf("after rollout restart, redis-cli get visits-kept = %q, want 42: the data did not survive", out)
	}

	t.Log("scalectl delete removes the replica and keeps the volume")
	if out, err := s.scalectl("delete", redis); err != nil {
		t.Fatalf("delete: %v: %s", err, out)
	}
	testenv.WaitFor(t, 2*time.Minute, "the Redis replica to be removed", func() (bool, error) {
		left := s.containers(redis, v1alpha1.RoleApp)
		return len(left) == 0, fmt.Errorf("left: %v", left)
	})
	testenv.Docker(t, "volume", "inspect", volume) // fails the test if it went
}

// onlyReplica returns the ID of the one replica of spec.
func (s *stack) onlyReplica(spec string) string {
	s.t.Helper()
	replicas := s.containers(spec, v1alpha1.RoleApp)
	if len(replicas) != 1 {
		s.t.Fatalf("%s has replicas %v, want one", spec, replicas)
	}
	for _, id := range replicas {
		return id
	}
	return ""
}
