package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

// manySpecs and manyReplicas are the many part's size: 200 replicas, each
// spec with its own load balancer.
const manySpecs, manyReplicas = 20, 10

// many brings manySpecs specs of manyReplicas replicas up together, from
// files written at once, under a steady load through the first spec's load
// balancer, and reads scalerd's CPU and memory over the bring-up and then
// steady (issue 14's "a real run"). It runs on a stack of its own, and
// takes everything down after.
func (b *benchRun) many() {
	m := &bench.Many{Specs: manySpecs, Replicas: manyReplicas,
		Settings: fmt.Sprintf("%d specs of %d replicas (demoapp:dev limited to 0.5 CPU and 128M, health check every %s), each with its own load balancer, one Redis; a steady 100 req/s through the first spec's load balancer",
			manySpecs, manyReplicas, footprintHealth.Interval)}
	b.report.Many = m
	fail := func(err error) {
		m.Error = err.Error()
		b.fail("many: %v", err)
	}
	s := newStack(b.t)
	s.writeSpec("redis.yaml", s.redisSpec())
	s.startDaemon()
	s.waitReady(s.name("redis"), 1, false, 2*time.Minute)
	s.mu.Lock()
	pid := s.daemon.Process.Pid
	s.mu.Unlock()

	names := make([]string, manySpecs)
	texts := make([]string, manySpecs)
	var firstURL string
	for i := range manySpecs {
		names[i] = s.name(fmt.Sprintf("w%02d", i))
		port := testenv.FreePort(b.t)
		text := s.webSpecWith(manyReplicas, "many", "demoapp:dev", "10m")
		text = strings.Replace(text, "name: "+s.name("web"), "name: "+names[i], 1)
		text = strings.Replace(text, fmt.Sprintf("port: %d\n", s.lbPort), fmt.Sprintf("port: %d\n", port), 1)
		text = strings.Replace(text, "interval: 1s", "interval: "+footprintHealth.Interval, 1)
		texts[i] = text
		if i == 0 {
			firstURL = fmt.Sprintf("http://127.0.0.1:%d/", port)
		}
	}
	// The first spec alone first, so that the load has somewhere to go.
	s.writeSpec(names[0]+".yaml", texts[0])
	s.waitReady(names[0], manyReplicas, true, 3*time.Minute)
	rec := bench.StartLoad(b.ctx, firstURL, bench.LoadOptions{Rate: 100, Concurrency: 16, Timeout: 10 * time.Second})
	stop, err := bench.Watch(pid)
	if err != nil {
		fail(err)
		return
	}
	// The other 19 at once: written into a directory beside the specs and
	// renamed in, so that scalerd sees them together.
	staging := filepath.Join(filepath.Dir(s.specDir), "staging")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		fail(err)
		return
	}
	for i := 1; i < manySpecs; i++ {
		if err := os.WriteFile(filepath.Join(staging, names[i]+".yaml"), []byte(texts[i]), 0o644); err != nil {
			fail(err)
			return
		}
	}
	saved := time.Now()
	for i := 1; i < manySpecs; i++ {
		if err := os.Rename(filepath.Join(staging, names[i]+".yaml"), filepath.Join(s.specDir, names[i]+".yaml")); err != nil {
			fail(err)
			return
		}
	}
	api := controlapi.NewClient(s.socket)
	done := map[string]float64{}
	deadline := time.Now().Add(10 * time.Minute)
	for len(done) < manySpecs-1 && time.Now().Before(deadline) {
		for _, n := range names[1:] {
			if _, ok := done[n]; ok {
				continue
			}
			spec, err := api.Get(b.ctx, n)
			if err == nil && spec.Status != nil && spec.Status.ObservedGeneration == spec.Metadata.Generation && allServing(*spec.Status, manyReplicas) {
				done[n] = time.Since(saved).Seconds()
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.Seconds = time.Since(saved).Seconds()
	m.Usage, err = stop()
	if err != nil {
		fail(err)
		return
	}
	if len(done) < manySpecs-1 {
		res, _ := rec.Stop()
		m.Load = res.Summary()
		fail(fmt.Errorf("%d of %d specs served all their replicas within 10 minutes", len(done), manySpecs-1))
		return
	}
	m.FirstSpecSeconds, m.LastSpecSeconds = m.Seconds, 0
	for _, sec := range done {
		m.FirstSpecSeconds, m.LastSpecSeconds = min(m.FirstSpecSeconds, sec), max(m.LastSpecSeconds, sec)
	}
	if stop, err = bench.Watch(pid); err != nil {
		fail(err)
		return
	}
	time.Sleep(10 * time.Second)
	if m.Steady, err = stop(); err != nil {
		fail(err)
		return
	}
	res, err := rec.Stop()
	m.Load = res.Summary()
	if err != nil {
		fail(err)
	}
	b.t.Logf("many: %d specs × %d replicas serving in %.1f s; bring-up %+v; steady %+v; load %d requests, %d failed",
		manySpecs, manyReplicas, m.Seconds, m.Usage, m.Steady, m.Load.Requests, m.Load.Failures)
	if m.Load.Failures > 0 {
		b.fail("many: the load on the first spec lost %d of %d requests: %v", m.Load.Failures, m.Load.Requests, m.Load.FailuresByKind)
	}
	// Down again: the files go, scalerd drains and removes.
	for _, n := range names {
		_ = os.Remove(filepath.Join(s.specDir, n+".yaml"))
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		left := 0
		for _, n := range names {
			left += len(s.containers(n, "app"))
		}
		if left == 0 {
			break
		}
		time.Sleep(time.Second)
	}
}
