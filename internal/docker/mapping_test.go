package docker

import (
	"math"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/scaler-dev/scaler/engine"
)

func TestParseHealth(t *testing.T) {
	tests := []struct {
		status, want string
	}{
		{"Up 3 seconds (health: starting)", engine.HealthStarting},
		{"Up 2 minutes (healthy)", engine.HealthHealthy},
		{"Up 5 hours (unhealthy)", engine.HealthUnhealthy},
		{"Up About a minute", engine.HealthNone},
		{"Up 2 minutes (Paused)", engine.HealthNone},
		{"Exited (137) 3 seconds ago", engine.HealthNone},
		{"Created", engine.HealthNone},
		{"", engine.HealthNone},
	}
	for _, tt := range tests {
		if got := parseHealth(tt.status); got != tt.want {
			t.Errorf("parseHealth(%q) = %q, want %q", tt.status, got, tt.want)
		}
	}
}

func TestCreateConfigHealthStartInterval(t *testing.T) {
	spec := engine.ContainerSpec{
		Image:  "demoapp:dev",
		Health: &engine.HealthConfig{Test: []string{"/demoapp", "healthcheck"}, StartInterval: 200 * time.Millisecond},
	}
	for _, supported := range []bool{false, true} {
		cfg, _, _, err := createConfig(spec, engine.Capabilities{HealthStartInterval: supported})
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration(0)
		if supported {
			want = 200 * time.Millisecond
		}
		if cfg.Healthcheck.StartInterval != want {
			t.Errorf("engine supports StartInterval=%v: got %s, want %s", supported, cfg.Healthcheck.StartInterval, want)
		}
	}
}

func TestCreateConfigMapping(t *testing.T) {
	tests := []struct {
		name  string
		spec  engine.ContainerSpec
		check func(t *testing.T, cfg *container.Config, host *container.HostConfig)
	}{{
		name: "command replaces the entrypoint",
		spec: engine.ContainerSpec{Cmd: []string{"nginx", "-g", "daemon off;"}},
		check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
			if len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "nginx" || len(cfg.Cmd) != 2 || cfg.Cmd[1] != "daemon off;" {
				t.Errorf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
			}
		},
	}, {
		name: "no command keeps the image's",
		spec: engine.ContainerSpec{},
		check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
			if cfg.Entrypoint != nil || cfg.Cmd != nil {
				t.Errorf("entrypoint %q cmd %q, want both unset", cfg.Entrypoint, cfg.Cmd)
			}
		},
	}, {
		name: "tiny CPU reservation is clamped to the kernel minimum",
		spec: engine.ContainerSpec{CPUReservationNanos: 1_000_000},
		check: func(t *testing.T, _ *container.Config, host *container.HostConfig) {
			if host.CPUShares != 2 {
				t.Errorf("cpu shares %d, want 2", host.CPUShares)
			}
		},
	}, {
		name: "no CPU reservation leaves the Engine default",
		spec: engine.ContainerSpec{},
		check: func(t *testing.T, _ *container.Config, host *container.HostConfig) {
			if host.CPUShares != 0 {
				t.Errorf("cpu shares %d, want 0 (default)", host.CPUShares)
			}
		},
	}, {
		name: "stop timeout rounds up",
		spec: engine.ContainerSpec{StopTimeout: 10*time.Second + time.Millisecond},
		check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
			if cfg.StopTimeout == nil || *cfg.StopTimeout != 11 {
				t.Errorf("stop timeout %v, want 11", cfg.StopTimeout)
			}
		},
	}, {
		name: "not hardened keeps the default capabilities",
		spec: engine.ContainerSpec{},
		check: func(t *testing.T, _ *container.Config, host *container.HostConfig) {
			if len(host.CapDrop) != 0 || len(host.SecurityOpt) != 0 {
				t.Errorf("cap drop %v security opt %v, want none", host.CapDrop, host.SecurityOpt)
			}
		},
	}, {
		name: "pids limit, read-only root and tmpfs reach the host config",
		spec: engine.ContainerSpec{PidsLimit: 64, ReadOnlyRootfs: true, Tmpfs: map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=64m,mode=1777"}},
		check: func(t *testing.T, _ *container.Config, host *container.HostConfig) {
			if host.PidsLimit == nil || *host.PidsLimit != 64 {
				t.Errorf("pids limit %v, want 64", host.PidsLimit)
			}
			if !host.ReadonlyRootfs {
				t.Error("root file system is writable, want read-only")
			}
			if got := host.Tmpfs["/tmp"]; got != "rw,noexec,nosuid,nodev,size=64m,mode=1777" || len(host.Tmpfs) != 1 {
				t.Errorf("tmpfs %v, want /tmp only, size-bounded, mode 1777", host.Tmpfs)
			}
		},
	}, {
		name: "no pids limit and a writable root by default",
		spec: engine.ContainerSpec{},
		check: func(t *testing.T, _ *container.Config, host *container.HostConfig) {
			if host.PidsLimit != nil || host.ReadonlyRootfs || host.Tmpfs != nil {
				t.Errorf("pids limit %v read-only %v tmpfs %v, want the Engine's defaults", host.PidsLimit, host.ReadonlyRootfs, host.Tmpfs)
			}
		},
	}, {
		name: "a long name is no hostname",
		spec: engine.ContainerSpec{Name: "a-name-that-is-far-too-long-to-be-one-dns-label-because-it-has-more-than-63-chars"},
		check: func(t *testing.T, cfg *container.Config, _ *container.HostConfig) {
			if cfg.Hostname != "" {
				t.Errorf("hostname %q, want the Engine's default", cfg.Hostname)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Image = "demoapp:dev"
			cfg, host, _, err := createConfig(tt.spec, engine.Capabilities{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg, host)
		})
	}
}

func TestCreateConfigRejects(t *testing.T) {
	tests := map[string]engine.ContainerSpec{
		"no image":               {},
		"aliases without a net":  {Image: "x", Aliases: []string{"web"}},
		"empty health command":   {Image: "x", Health: &engine.HealthConfig{}},
		"container port missing": {Image: "x", Publish: &engine.PortBinding{HostIP: "127.0.0.1", HostPort: 8080}},
	}
	for name, spec := range tests {
		if _, _, _, err := createConfig(spec, engine.Capabilities{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCPUPercent(t *testing.T) {
	var s container.StatsResponse
	s.PreCPUStats.CPUUsage.TotalUsage = 1_000_000_000
	s.PreCPUStats.SystemUsage = 10_000_000_000
	s.CPUStats.CPUUsage.TotalUsage = 1_500_000_000 // +0.5s of CPU
	s.CPUStats.SystemUsage = 12_000_000_000        // +2s over all CPUs
	s.CPUStats.OnlineCPUs = 2
	// 0.5/2 of the machine's time, on 2 CPUs: half a core.
	if got := cpuPercent(s); math.Abs(got-50) > 1e-9 {
		t.Errorf("cpuPercent = %v, want 50", got)
	}

	s.CPUStats.OnlineCPUs = 0
	s.CPUStats.CPUUsage.PercpuUsage = []uint64{1, 2, 3, 4}
	if got := cpuPercent(s); math.Abs(got-100) > 1e-9 {
		t.Errorf("cpuPercent from per-CPU count = %v, want 100", got)
	}

	// No previous sample (one-shot, or the first reading): no rate.
	s.PreCPUStats = container.CPUStats{}
	s.CPUStats.SystemUsage = 0
	if got := cpuPercent(s); got != 0 {
		t.Errorf("cpuPercent without a previous sample = %v, want 0", got)
	}
}

func TestMemoryUsage(t *testing.T) {
	tests := []struct {
		name string
		m    container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 30, "inactive_file": 10}}, 70},
		{"cgroup v2", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 10}}, 90},
		{"cache above usage", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 200}}, 100},
		{"no breakdown", container.MemoryStats{Usage: 100}, 100},
	}
	for _, tt := range tests {
		if got := memoryUsage(tt.m); got != tt.want {
			t.Errorf("%s: memoryUsage = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestToEvent(t *testing.T) {
	managed := map[string]string{"scaler.dev/managed-by": "scalerd", "scaler.dev/instance": "default", "scaler.dev/spec": "web", "name": "web-1", "exitCode": "0"}
	otherDaemon := map[string]string{"scaler.dev/managed-by": "scalerd", "scaler.dev/instance": "e2e", "scaler.dev/spec": "web"}
	tests := []struct {
		action string
		attrs  map[string]string
		typ    events.Type
		want   bool
	}{
		{"start", managed, events.ContainerEventType, true},
		{"health_status: healthy", managed, events.ContainerEventType, true},
		{"health_status: unhealthy", managed, events.ContainerEventType, true},
		{"exec_start: nginx -t", managed, events.ContainerEventType, false},
		{"create", managed, events.ContainerEventType, false},
		{"starting", managed, events.ContainerEventType, false},
		{"start", map[string]string{"name": "stranger"}, events.ContainerEventType, false},
		{"start", otherDaemon, events.ContainerEventType, false},
		{"start", managed, events.NetworkEventType, false},
	}
	for _, tt := range tests {
		m := events.Message{Type: tt.typ, Action: events.Action(tt.action), Actor: events.Actor{ID: "abc", Attributes: tt.attrs}, TimeNano: 1_700_000_000_000_000_000}
		ev, ok := toEvent(m, "default")
		if ok != tt.want {
			t.Errorf("%s %q: kept=%v, want %v", tt.typ, tt.action, ok, tt.want)
			continue
		}
		if !ok {
			continue
		}
		if ev.Action != tt.action || ev.ContainerID != "abc" || !ev.Time.Equal(time.Unix(0, 1_700_000_000_000_000_000)) {
			t.Errorf("got %+v", ev)
		}
		if len(ev.Labels) != 3 || ev.Labels["scaler.dev/spec"] != "web" {
			t.Errorf("labels %v, want only scaler.dev/ ones", ev.Labels)
		}
	}
}

func TestClipKeepsRunesWhole(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // é is 2 bytes: byte 3 is inside the second
	} {
		if got := clip(c.in, c.n); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
