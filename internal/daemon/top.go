package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

const (
	// statsParallelism bounds the Engine stats calls in flight: each one
	// holds a connection for about a second while the Engine takes the
	// second reading a CPU rate needs.
	statsParallelism = 4
	// statsTimeout and redisTimeout bound one sample, so that one stuck
	// container cannot hold up the table.
	statsTimeout = 10 * time.Second
	redisTimeout = 5 * time.Second
	// requestsKeyPrefix is the demoapp's per-instance counter, which it
	// names after INSTANCE_NAME, the container name scalerd gives it.
	requestsKeyPrefix = "requests:"
	defaultRedisPort  = 6379
)

func (b *backend) Top(ctx context.Context, name string, opts controlapi.TopOptions) ([]controlapi.TopReport, error) {
	var specs []v1alpha1.ScaleSpec
	if name != "" {
		s, err := b.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		specs = []v1alpha1.ScaleSpec{*s}
	} else {
		var err error
		if specs, err = b.List(ctx); err != nil {
			return nil, err
		}
	}
	src := topSource{
		runtime:  b.runtime,
		list:     b.reconciler.ListObserved,
		draining: b.reconciler.Draining,
		spec: func(name string) (*v1alpha1.ScaleSpec, bool) {
			s, err := b.Get(ctx, name)
			return s, err == nil
		},
	}
	return src.top(ctx, specs, opts.Redis)
}

// topSource is what Top reads, as functions so that the aggregation is
// tested with an in-memory engine.
type topSource struct {
	runtime controllers.Runtime
	// list lists the containers as the reconciler sees them (health from
	// start probes and recent events included); runtime.ListManaged if nil.
	list func(context.Context) ([]controllers.Container, error)
	// spec returns a defaulted spec in force.
	spec     func(name string) (*v1alpha1.ScaleSpec, bool)
	draining func(spec, containerID string) bool
}

// top builds one report per spec from a single container list, sampling
// every running replica's stats concurrently and reading each spec's
// request counters from its Redis at the same time.
func (t topSource) top(ctx context.Context, specs []v1alpha1.ScaleSpec, redisOverride string) ([]controlapi.TopReport, error) {
	list := t.list
	if list == nil {
		list = t.runtime.ListManaged
	}
	all, err := list(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	reports := make([]controlapi.TopReport, len(specs))
	counts := make([]map[string]int64, len(specs))
	sem := make(chan struct{}, statsParallelism)
	var wg sync.WaitGroup
	for i := range specs {
		spec := &specs[i]
		app := appReplicas(all, spec.Metadata.Name)
		reports[i] = controlapi.TopReport{Spec: spec.Metadata.Name, LoadBalancer: spec.Spec.LoadBalancer != nil,
			Replicas: usageRows(spec, app, t.draining)}
		rows := reports[i].Replicas
		for j, c := range app {
			if c.State != controllers.StateRunning {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				sctx, cancel := context.WithTimeout(ctx, statsTimeout)
				defer cancel()
				if c.Health != controllers.HealthNone {
					if p, err := t.runtime.LastProbe(sctx, c.ID); err == nil {
						rows[j].Answers, rows[j].Degraded = degradedCounts(p.Output)
					}
				}
				s, err := t.runtime.Stats(sctx, c.ID)
				if err != nil {
					rows[j].StatsError = err.Error()
					return
				}
				rows[j].CPUPercent, rows[j].MemoryBytes = s.CPUPercent, s.MemoryBytes
			}()
		}
		names := make([]string, len(app))
		for j, c := range app {
			names[j] = c.Name
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], reports[i].RequestsFrom, reports[i].RequestsUnknown = t.requests(ctx, spec, names, redisOverride, all)
		}()
	}
	wg.Wait()
	for i := range reports {
		if counts[i] != nil {
			addShares(&reports[i], counts[i])
		}
	}
	return reports, nil
}

// degradedCounts reads "answers" and "degraded" from a health check's
// JSON output, as demoapp's /health writes them; nil, nil when the output
// is not such JSON. The health log is the Engine's, so this costs one
// inspect per replica and no exec.
func degradedCounts(output string) (answers, degraded *int64) {
	var h struct {
		Answers  *int64 `json:"answers"`
		Degraded *int64 `json:"degraded"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(output)), &h) != nil || h.Answers == nil || h.Degraded == nil {
		return nil, nil
	}
	return h.Answers, h.Degraded
}

// appReplicas returns a spec's app containers, web-2 before web-10.
func appReplicas(all []controllers.Container, spec string) []controllers.Container {
	var app []controllers.Container
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] == spec && c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleApp {
			app = append(app, c)
		}
	}
	sort.SliceStable(app, func(i, j int) bool {
		if a, b := controllers.ReplicaIndex(app[i]), controllers.ReplicaIndex(app[j]); a != b {
			return a < b
		}
		return app[i].Name < app[j].Name
	})
	return app
}

// usageRows fills what is known without sampling: state, health, upstream
// membership and the template's limits. The limits are the spec's, which
// is what the user wrote; an outdated replica mid-rollout may run older ones.
func usageRows(spec *v1alpha1.ScaleSpec, app []controllers.Container, draining func(string, string) bool) []controlapi.ReplicaUsage {
	inUpstream := map[string]bool{}
	if spec.Status != nil && spec.Spec.LoadBalancer != nil {
		for _, n := range spec.Status.Upstream {
			inUpstream[n] = true
		}
	}
	var cpuLimit float64
	var memLimit int64
	lim := spec.Spec.Template.Resources.Limits
	if n, err := v1alpha1.ParseCPUs(lim.CPUs); lim.CPUs != "" && err == nil {
		cpuLimit = float64(n) / 1e9
	}
	if n, err := v1alpha1.ParseMemory(lim.Memory); lim.Memory != "" && err == nil {
		memLimit = n
	}
	rows := make([]controlapi.ReplicaUsage, len(app))
	for i, c := range app {
		rows[i] = controlapi.ReplicaUsage{
			Name: c.Name, State: c.State, Health: c.Health,
			InUpstream: inUpstream[c.Name], Draining: draining(spec.Metadata.Name, c.ID),
			CPULimit: cpuLimit, MemoryLimitBytes: memLimit,
		}
	}
	return rows
}

// requests reads the requests:<replica> counters of names from the Redis
// of spec: the --redis spec, else the spec's first dependsOn. It reads
// them with redis-cli inside a replica of that spec, through the Engine's
// exec, since nothing on the host may connect to a container's address.
// When it cannot, it says why instead of failing: the CPU and memory
// columns are worth having without the requests. A spec that neither has a
// load balancer nor depends on anything (a Redis itself) serves no counted
// requests, and is not asked about.
func (t topSource) requests(ctx context.Context, spec *v1alpha1.ScaleSpec, names []string, override string, all []controllers.Container) (counts map[string]int64, from, unknown string) {
	name := spec.Metadata.Name
	if len(names) == 0 || (spec.Spec.LoadBalancer == nil && len(spec.Spec.DependsOn) == 0) {
		return nil, "", ""
	}
	redisName := override
	if redisName == "" {
		if len(spec.Spec.DependsOn) == 0 {
			return nil, "", fmt.Sprintf("spec %s has no dependsOn to read requests:<replica> counters from; pass --redis NAME of the spec that runs its Redis", name)
		}
		redisName = spec.Spec.DependsOn[0]
	}
	redisSpec, ok := t.spec(redisName)
	if !ok {
		return nil, "", fmt.Sprintf("no spec %s to read requests:<replica> counters from; pass --redis NAME of the spec that runs Redis (`scalectl get` lists them)", redisName)
	}
	var target *controllers.Container
	for _, c := range appReplicas(all, redisName) {
		if controllers.IsReady(c) {
			target = &c
			break
		}
		if c.State == controllers.StateRunning && target == nil {
			target = &c
		}
	}
	if target == nil {
		return nil, "", fmt.Sprintf("spec %s has no running replica to read requests:<replica> counters from; see `scalectl describe %s`", redisName, redisName)
	}
	port := int(redisSpec.Spec.Template.Port)
	if port == 0 {
		port = defaultRedisPort
	}
	cmd := []string{"redis-cli", "--raw", "-p", strconv.Itoa(port), "MGET"}
	for _, n := range names {
		cmd = append(cmd, requestsKeyPrefix+n)
	}
	ectx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	res, err := t.runtime.Exec(ectx, target.ID, cmd)
	if err != nil {
		return nil, "", fmt.Sprintf("cannot run redis-cli in %s: %v", target.Name, err)
	}
	if res.ExitCode != 0 {
		return nil, "", fmt.Sprintf("redis-cli in %s exited %d: %s (does spec %s run Redis with redis-cli in its image? pass --redis NAME otherwise)",
			target.Name, res.ExitCode, firstLine(res.Output), redisName)
	}
	counts, err = parseMGET(res.Output, names)
	if err != nil {
		return nil, "", fmt.Sprintf("redis-cli in %s: %v", target.Name, err)
	}
	return counts, fmt.Sprintf("requests:<replica> in Redis of spec %s (replica %s)", redisName, target.Name), ""
}

// parseMGET reads `redis-cli --raw MGET` output: one line per key, empty
// for a key that does not exist yet (a replica that has served nothing).
func parseMGET(out string, names []string) (map[string]int64, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("answered %q, not %d counters", firstLine(out), len(names))
	}
	counts := make(map[string]int64, len(names))
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			counts[names[i]] = 0
			continue
		}
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s%s is %q, not a counter", requestsKeyPrefix, names[i], line)
		}
		counts[names[i]] = n
	}
	return counts, nil
}

// addShares sets each replica's requests and its share of the total.
func addShares(r *controlapi.TopReport, counts map[string]int64) {
	var total int64
	for i := range r.Replicas {
		total += counts[r.Replicas[i].Name]
	}
	r.TotalRequests = total
	for i := range r.Replicas {
		n := counts[r.Replicas[i].Name]
		share := 0.0
		if total > 0 {
			share = float64(n) / float64(total)
		}
		r.Replicas[i].Requests, r.Replicas[i].Share = &n, &share
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
