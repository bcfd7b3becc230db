package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

// Top answers fixed samples: web with requests read from Redis, and (for
// all specs) a redis spec whose requests are unknown.
func (b *stubBackend) Top(_ context.Context, name string, opts controlapi.TopOptions) ([]controlapi.TopReport, error) {
	n30, n10, n40 := int64(30), int64(10), int64(40)
	s75, s25 := 0.75, 0.25
	web := controlapi.TopReport{Spec: "web", LoadBalancer: true, TotalRequests: 40,
		RequestsFrom: "requests:<replica> in Redis of spec " + orDefault(opts.Redis, "redis") + " (replica redis-1)",
		Replicas: []controlapi.ReplicaUsage{
			{Name: "web-1", State: "running", Health: "healthy", InUpstream: true, CPUPercent: 12.5, CPULimit: 0.5,
				MemoryBytes: 10 << 20, MemoryLimitBytes: 128 << 20, Requests: &n30, Share: &s75, Answers: &n40, Degraded: &n10},
			{Name: "web-2", State: "running", Health: "healthy", Draining: true, CPULimit: 0.5, MemoryLimitBytes: 128 << 20,
				StatsError: "stats of container c2: not found", Requests: &n10, Share: &s25},
			{Name: "web-3", State: "exited", CPULimit: 0.5, MemoryLimitBytes: 128 << 20},
		}}
	redis := controlapi.TopReport{Spec: "redis", RequestsUnknown: "spec redis has no dependsOn; pass --redis NAME",
		Replicas: []controlapi.ReplicaUsage{{Name: "redis-1", State: "running", Health: "healthy", CPUPercent: 0.3, MemoryBytes: 3 << 20}}}
	switch name {
	case "":
		return []controlapi.TopReport{redis, web}, nil
	case "web":
		return []controlapi.TopReport{web}, nil
	}
	return nil, fmt.Errorf("scalespec %q: %w", name, controlapi.ErrNotFound)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestTopPrintsOneRowPerReplicaWithItsShare(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "top", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "CPU(%)") || !strings.Contains(lines[0], "SHARE") || strings.Contains(lines[0], "SPEC") {
		t.Fatalf("header %q", lines[0])
	}
	for _, c := range []struct {
		line int
		want []string
	}{
		{1, []string{"web-1", "12.5%", "0.5", "10Mi", "128Mi (8%)", "healthy", "yes", "30", " 75.0% ███████▌", "25.0% (10 of 40)"}},
		{2, []string{"web-2", "-", "0.5", "128Mi", "draining", "10", " 25.0% ██"}},
		{3, []string{"web-3", "exited", "no"}},
	} {
		fields := strings.Join(strings.Fields(lines[c.line]), " ")
		for _, w := range c.want {
			if !strings.Contains(lines[c.line], w) {
				t.Errorf("row %q lacks %q", fields, w)
			}
		}
	}
	if !strings.Contains(out, "web-2: no stats: stats of container c2: not found") {
		t.Errorf("the stats error is not said:\n%s", out)
	}
	if !strings.Contains(out, "40 requests in all, from requests:<replica> in Redis of spec redis (replica redis-1)") {
		t.Errorf("where requests come from is not said:\n%s", out)
	}
	if strings.Contains(lines[3], "%") {
		t.Errorf("an exited replica has no usage: %q", lines[3])
	}

	out, _, _ = ctl(sock, "top", "web", "--redis", "cache")
	if !strings.Contains(out, "Redis of spec cache") {
		t.Errorf("--redis did not reach the daemon:\n%s", out)
	}
}

func TestTopOfAllSpecsAddsASpecColumnAndSaysWhyRequestsAreUnknown(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "top")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "SPEC") || !strings.HasPrefix(lines[1], "redis") || !strings.Contains(lines[1], "redis-1") {
		t.Fatalf("table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 11 || f[7] != "-" {
		t.Errorf("a replica of a spec without a load balancer is in no upstream: %q", lines[1])
	}
	if !strings.Contains(out, "redis: requests unknown: spec redis has no dependsOn; pass --redis NAME") ||
		!strings.Contains(out, "web: 40 requests in all") {
		t.Errorf("footers:\n%s", out)
	}
}

func TestTopJSONIsTheReport(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "top", "web", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r controlapi.TopReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Spec != "web" || len(r.Replicas) != 3 || *r.Replicas[0].Requests != 30 || *r.Replicas[0].Share != 0.75 || r.Replicas[2].Requests != nil {
		t.Errorf("report = %+v", r)
	}
	if _, errOut, code := ctl(sock, "top", "web", "-o", "yaml"); code == 0 || !strings.Contains(errOut, `--output="yaml"`) {
		t.Errorf("-o yaml: exit %d, %s", code, errOut)
	}
	if _, errOut, code := ctl(sock, "top", "nope"); code == 0 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("top of a missing spec: exit %d, %s", code, errOut)
	}
}

func TestTopWatchPrintsSuccessiveTablesIntoAPipe(t *testing.T) {
	_, sock := serveStub(t)
	top := &topOptions{Options: &Options{Socket: sock}, watch: true, interval: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	if err := top.run(ctx, &out, "web"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "NAME "); n < 2 {
		t.Errorf("%d tables in 150ms at a 20ms interval:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("escape sequences written into a pipe")
	}
}

func TestShareBarAndSizes(t *testing.T) {
	for share, want := range map[float64]string{0: "", 0.01: "▏", 0.5: "█████", 1: "██████████", 1.5: "██████████", 0.333: "███▍"} {
		if got := shareBar(share, 10); got != want {
			t.Errorf("shareBar(%v) = %q, want %q", share, got, want)
		}
	}
	for n, want := range map[uint64]string{512: "512B", 2048: "2Ki", 10 << 20: "10Mi", 134217728: "128Mi", 1536 << 20: "1.5Gi"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCompletionScriptsAndSpecNames(t *testing.T) {
	_, sock := serveStub(t)
	for shell, want := range map[string]string{"bash": "complete -o default -F __start_scalectl scalectl", "zsh": "#compdef scalectl", "fish": "complete -c scalectl"} {
		out, errOut, code := ctl(sock, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errOut, want)
		}
	}
	for _, args := range [][]string{{"describe", ""}, {"top", "w"}, {"top", "--redis", ""}, {"delete", "other", ""}, {"rollout", "status", ""}} {
		out, _, _ := ctl(sock, append([]string{"__complete"}, args...)...)
		if lines := strings.Split(out, "\n"); lines[0] != "web" {
			t.Errorf("completing %q offered %q, want web", args, out)
		}
	}
	if out, _, _ := ctl(sock, "__complete", "describe", "web", ""); strings.Contains(out, "web\n") {
		t.Errorf("describe takes one name, yet a second was offered: %q", out)
	}
	help, _, _ := ctl(sock, "--help")
	if !strings.Contains(help, "scalectl completion bash") {
		t.Errorf("--help does not say how to turn on completion:\n%s", help)
	}
}
