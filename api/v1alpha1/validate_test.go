package v1alpha1

import (
	"strings"
	"testing"
	"time"
)

// validSpec is a complete, valid spec; each test case breaks one thing.
func validSpec() *ScaleSpec {
	s := &ScaleSpec{
		APIVersion: GroupVersion,
		Kind:       Kind,
		Metadata:   ObjectMeta{Name: "web"},
		Spec: Spec{
			Replicas:  ptr(int32(3)),
			DependsOn: []string{"redis"},
			Template: Template{
				Image: "demoapp:dev",
				Env:   []EnvVar{{Name: "REDIS_ADDR", Value: "redis:6379"}},
				Port:  5000,
				Resources: Resources{
					Limits:       ResourceList{CPUs: "0.5", Memory: "256M"},
					Reservations: ResourceList{CPUs: "0.25", Memory: "128Mi"},
				},
				HealthCheck: &HealthCheck{Command: []string{"/demoapp", "healthcheck"}},
			},
			LoadBalancer: &LoadBalancer{Port: 8080},
		},
	}
	s.Default()
	return s
}

func TestValidateAcceptsValidSpecs(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatalf("valid spec rejected:\n%v", err)
	}
	raw := validSpec()
	raw.Spec = Spec{Template: Template{Image: "redis:7"}}
	if err := raw.Validate(); err != nil {
		t.Fatalf("minimal spec without defaults rejected:\n%v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *ScaleSpec)
		want   []string
	}{
		{"apiVersion missing", func(s *ScaleSpec) { s.APIVersion = "" },
			[]string{`apiVersion: required; set it to "scaler.dev/v1alpha1"`}},
		{"apiVersion wrong", func(s *ScaleSpec) { s.APIVersion = "apps/v1" },
			[]string{`apiVersion: "apps/v1" is not supported; use "scaler.dev/v1alpha1"`}},
		{"kind missing", func(s *ScaleSpec) { s.Kind = "" },
			[]string{`kind: required; set it to "ScaleSpec"`}},
		{"kind wrong", func(s *ScaleSpec) { s.Kind = "Deployment" },
			[]string{`kind: "Deployment" is not a kind scaler reads; use "ScaleSpec"`}},
		{"name missing", func(s *ScaleSpec) { s.Metadata.Name = "" },
			[]string{`metadata.name: required; a lowercase name like "web"`}},
		{"name uppercase", func(s *ScaleSpec) { s.Metadata.Name = "Web_1" },
			[]string{`metadata.name: "Web_1" is not a valid name; use lowercase letters, digits and '-', starting and ending with a letter or digit`}},
		{"name ends with dash", func(s *ScaleSpec) { s.Metadata.Name = "web-" },
			[]string{`metadata.name: "web-" is not a valid name; use lowercase letters, digits and '-', starting and ending with a letter or digit`}},
		{"name too long", func(s *ScaleSpec) { s.Metadata.Name = strings.Repeat("a", 64) },
			[]string{`metadata.name: "` + strings.Repeat("a", 40) + `…" is 64 characters long; a name has at most 63`}},
		{"replicas negative", func(s *ScaleSpec) { s.Spec.Replicas = ptr(int32(-1)) },
			[]string{`spec.replicas: -1 is negative; use 0 or more`}},
		{"replicas zero is fine", func(s *ScaleSpec) { s.Spec.Replicas = ptr(int32(0)) }, nil},
		{"dependsOn itself", func(s *ScaleSpec) { s.Spec.DependsOn = []string{"redis", "web"} },
			[]string{`spec.dependsOn[1]: "web" is this spec itself; a spec cannot depend on itself`}},
		{"dependsOn twice", func(s *ScaleSpec) { s.Spec.DependsOn = []string{"redis", "db", "redis"} },
			[]string{`spec.dependsOn[2]: "redis" is listed twice; the first is spec.dependsOn[0]`}},
		{"dependsOn invalid name", func(s *ScaleSpec) { s.Spec.DependsOn = []string{"Redis"} },
			[]string{`spec.dependsOn[0]: "Redis" is not a valid name; use lowercase letters, digits and '-', starting and ending with a letter or digit`}},
		{"dependsOn empty name", func(s *ScaleSpec) { s.Spec.DependsOn = []string{""} },
			[]string{`spec.dependsOn[0]: required; a lowercase name like "web"`}},
		{"network predefined", func(s *ScaleSpec) { s.Spec.Network = "bridge" },
			[]string{`spec.network: "bridge" is one of Docker's predefined networks; name a user-defined network, on which replicas reach each other by name`}},
		{"network invalid", func(s *ScaleSpec) { s.Spec.Network = "app net" },
			[]string{`spec.network: "app net" is not a valid network name; use letters, digits, '_', '.' and '-', starting with a letter or digit`}},
		{"image missing", func(s *ScaleSpec) { s.Spec.Template.Image = "" },
			[]string{`spec.template.image: required; an image reference like "demoapp:dev"`}},
		{"image invalid", func(s *ScaleSpec) { s.Spec.Template.Image = "Demo App" },
			[]string{`spec.template.image: "Demo App" is not a valid image reference; write it like "demoapp:dev" or "registry.example.com/team/app:1.2"`}},
		{"env name missing", func(s *ScaleSpec) { s.Spec.Template.Env = []EnvVar{{Value: "x"}} },
			[]string{`spec.template.env[0].name: required; the name of the environment variable`}},
		{"env name invalid", func(s *ScaleSpec) { s.Spec.Template.Env = []EnvVar{{Name: "1A"}, {Name: "MY-VAR"}} },
			[]string{
				`spec.template.env[0].name: "1A" is not a valid variable name; use letters, digits and '_', not starting with a digit`,
				`spec.template.env[1].name: "MY-VAR" is not a valid variable name; use letters, digits and '_', not starting with a digit`,
			}},
		{"env name twice", func(s *ScaleSpec) { s.Spec.Template.Env = []EnvVar{{Name: "A"}, {Name: "_B"}, {Name: "A"}} },
			[]string{`spec.template.env[2].name: "A" is set twice; the first is spec.template.env[0]`}},
		{"port required with load balancer", func(s *ScaleSpec) { s.Spec.Template.Port = 0 },
			[]string{`spec.template.port: required when spec.loadBalancer is set: the port the app listens on inside the container, 1-65535`}},
		{"port optional without load balancer", func(s *ScaleSpec) { s.Spec.Template.Port = 0; s.Spec.LoadBalancer = nil }, nil},
		{"port out of range", func(s *ScaleSpec) { s.Spec.Template.Port = 70000 },
			[]string{`spec.template.port: 70000 is not a port; use 1-65535`}},
		{"port negative", func(s *ScaleSpec) { s.Spec.Template.Port = -1 },
			[]string{`spec.template.port: -1 is not a port; use 1-65535`}},
		{"replicas at the bound", func(s *ScaleSpec) { s.Spec.Replicas = ptr(int32(MaxReplicas)) }, nil},
		{"replicas past the bound", func(s *ScaleSpec) { s.Spec.Replicas = ptr(int32(100000)) },
			[]string{`spec.replicas: 100000 is more than 1000, the most replicas scaler runs for one spec`}},
		{"replicas at int32's end", func(s *ScaleSpec) { s.Spec.Replicas = ptr(int32(2147483647)) },
			[]string{`spec.replicas: 2147483647 is more than 1000, the most replicas scaler runs for one spec`}},
		{"NUL characters", func(s *ScaleSpec) {
			s.Spec.Template.Command = []string{"/demoapp", "a\x00b"}
			s.Spec.Template.Env[0].Value = "redis\x00:6379"
			s.Spec.Template.HealthCheck.Command = []string{"/demoapp\x00"}
			s.Spec.LoadBalancer.ServerSnippet = "location /x { return 200; }\x00"
		}, []string{
			`spec.template.command[1]: contains a NUL character (\0) at byte 1; remove it`,
			`spec.template.env[0].value: contains a NUL character (\0) at byte 5; remove it`,
			`spec.template.healthCheck.command[0]: contains a NUL character (\0) at byte 8; remove it`,
			`spec.loadBalancer.serverSnippet: contains a NUL character (\0) at byte 27; remove it`,
		}},
		{"durations past the bound", func(s *ScaleSpec) {
			s.Spec.Template.HealthCheck.Interval = &Duration{2562047 * time.Hour}
			s.Spec.Template.StopGracePeriod = &Duration{25 * time.Hour}
			s.Spec.Strategy.DrainTimeout = &Duration{MaxDuration}
		}, []string{
			`spec.template.healthCheck.interval: "2562047h0m0s" is longer than 24h, the longest duration scaler accepts`,
			`spec.template.stopGracePeriod: "25h0m0s" is longer than 24h, the longest duration scaler accepts`,
		}},
		{"memory not a size", func(s *ScaleSpec) { s.Spec.Template.Resources.Limits.Memory = "lots" },
			[]string{`spec.template.resources.limits.memory: "lots" is not a memory size; use a number with an optional unit like 256M or 256Mi`}},
		{"memory zero", func(s *ScaleSpec) { s.Spec.Template.Resources.Reservations.Memory = "0" },
			[]string{`spec.template.resources.reservations.memory: "0" must be more than 0; leave memory out for no limit`}},
		{"memory limit below docker minimum", func(s *ScaleSpec) {
			s.Spec.Template.Resources.Limits.Memory = "4M"
			s.Spec.Template.Resources.Reservations.Memory = ""
		}, []string{`spec.template.resources.limits.memory: "4M" is below Docker's smallest memory limit, 6Mi`}},
		{"cpus not a number", func(s *ScaleSpec) { s.Spec.Template.Resources.Limits.CPUs = "half" },
			[]string{`spec.template.resources.limits.cpus: "half" is not a CPU count; use a decimal number of CPUs like "0.5" or "2"`}},
		{"cpus zero", func(s *ScaleSpec) { s.Spec.Template.Resources.Limits.CPUs = "0.0" },
			[]string{`spec.template.resources.limits.cpus: "0.0" must be more than 0; leave cpus out for no limit`}},
		{"cpu reservation above limit", func(s *ScaleSpec) { s.Spec.Template.Resources.Reservations.CPUs = "1" },
			[]string{`spec.template.resources.reservations.cpus: 1 is more than the limit of 0.5 (spec.template.resources.limits.cpus); a reservation cannot exceed its limit`}},
		{"memory reservation above limit", func(s *ScaleSpec) { s.Spec.Template.Resources.Reservations.Memory = "257Mi" },
			[]string{`spec.template.resources.reservations.memory: 257Mi is more than the limit of 256M (spec.template.resources.limits.memory); a reservation cannot exceed its limit`}},
		{"reservation equal to limit in other units", func(s *ScaleSpec) { s.Spec.Template.Resources.Reservations.Memory = "268435456" }, nil},
		{"reservation without limit", func(s *ScaleSpec) { s.Spec.Template.Resources.Limits = ResourceList{} }, nil},
		{"health check without command", func(s *ScaleSpec) { s.Spec.Template.HealthCheck.Command = nil },
			[]string{`spec.template.healthCheck.command: required: the command that exits 0 when the replica is healthy, like ["/demoapp", "healthcheck"]`}},
		{"health check with empty program", func(s *ScaleSpec) { s.Spec.Template.HealthCheck.Command = []string{""} },
			[]string{`spec.template.healthCheck.command[0]: required: the program to run`}},
		{"health check durations", func(s *ScaleSpec) {
			hc := s.Spec.Template.HealthCheck
			hc.Interval = &Duration{0}
			hc.Timeout = &Duration{-time.Second}
			hc.StartPeriod = &Duration{time.Microsecond}
			hc.StartInterval = &Duration{time.Millisecond}
		}, []string{
			`spec.template.healthCheck.interval: "0s" must be positive; write it like "2s"`,
			`spec.template.healthCheck.timeout: "-1s" must be positive; write it like "2s"`,
			`spec.template.healthCheck.startPeriod: "1µs" is below Docker's minimum of 1ms`,
		}},
		{"health check retries", func(s *ScaleSpec) { s.Spec.Template.HealthCheck.Retries = ptr(int32(0)) },
			[]string{`spec.template.healthCheck.retries: 0 must be at least 1`}},
		{"stopGracePeriod", func(s *ScaleSpec) { s.Spec.Template.StopGracePeriod = &Duration{0} },
			[]string{`spec.template.stopGracePeriod: "0s" must be positive; write it like "2s"`}},
		{"maxSurge negative", func(s *ScaleSpec) { s.Spec.Strategy.MaxSurge = &IntOrPercent{Value: -1} },
			[]string{`spec.strategy.maxSurge: -1 is negative; use 0 or more, or a percentage like "25%"`}},
		{"maxUnavailable above 100%", func(s *ScaleSpec) { s.Spec.Strategy.MaxUnavailable = &IntOrPercent{Value: 150, IsPercent: true} },
			[]string{`spec.strategy.maxUnavailable: "150%" is not a percentage from 0% to 100%`}},
		{"percentages are fine", func(s *ScaleSpec) {
			s.Spec.Strategy.MaxSurge = &IntOrPercent{Value: 25, IsPercent: true}
			s.Spec.Strategy.MaxUnavailable = &IntOrPercent{Value: 100, IsPercent: true}
		}, nil},
		{"both zero", func(s *ScaleSpec) {
			s.Spec.Strategy.MaxSurge = &IntOrPercent{Value: 0}
			s.Spec.Strategy.MaxUnavailable = &IntOrPercent{Value: 0, IsPercent: true}
		}, []string{`spec.strategy: maxSurge and maxUnavailable are both 0, so a rollout could never replace a replica; raise one of them`}},
		{"drain and deadline", func(s *ScaleSpec) {
			s.Spec.Strategy.DrainTimeout = &Duration{-time.Second}
			s.Spec.Strategy.ProgressDeadline = &Duration{0}
		}, []string{
			`spec.strategy.drainTimeout: "-1s" must be positive; write it like "2s"`,
			`spec.strategy.progressDeadline: "0s" must be positive; write it like "2s"`,
		}},
		{"load balancer port missing", func(s *ScaleSpec) { s.Spec.LoadBalancer.Port = 0 },
			[]string{`spec.loadBalancer.port: required: the host port to publish the app on, 1-65535`}},
		{"load balancer port out of range", func(s *ScaleSpec) { s.Spec.LoadBalancer.Port = 65536 },
			[]string{`spec.loadBalancer.port: 65536 is not a port; use 1-65535`}},
		{"load balancer algorithm", func(s *ScaleSpec) { s.Spec.LoadBalancer.Algorithm = "fastest" },
			[]string{`spec.loadBalancer.algorithm: "fastest" is not supported; use one of least_conn, round_robin, ip_hash, random`}},
		{"load balancer hostIP", func(s *ScaleSpec) { s.Spec.LoadBalancer.HostIP = "localhost" },
			[]string{`spec.loadBalancer.hostIP: "localhost" is not an IP address; use one like 127.0.0.1, or 0.0.0.0 for every interface`}},
		{"load balancer hostIP v6", func(s *ScaleSpec) { s.Spec.LoadBalancer.HostIP = "::1" }, nil},
		{"load balancer image", func(s *ScaleSpec) { s.Spec.LoadBalancer.Image = "nginx:" },
			[]string{`spec.loadBalancer.image: "nginx:" is not a valid image reference; write it like "scaler-nginx:dev"`}},
		{"load balancer maxFails", func(s *ScaleSpec) { s.Spec.LoadBalancer.MaxFails = ptr(int32(-2)) },
			[]string{`spec.loadBalancer.maxFails: -2 is negative; use 0 or more (0 turns failure counting off)`}},
		{"load balancer failTimeout", func(s *ScaleSpec) { s.Spec.LoadBalancer.FailTimeout = &Duration{0} },
			[]string{`spec.loadBalancer.failTimeout: "0s" must be positive; write it like "2s"`}},
		{"revisionHistoryLimit", func(s *ScaleSpec) { s.Spec.RevisionHistoryLimit = ptr(int32(-1)) },
			[]string{`spec.revisionHistoryLimit: -1 is negative; use 0 or more`}},
		{"every error at once", func(s *ScaleSpec) {
			s.Metadata.Name = ""
			s.Spec.Replicas = ptr(int32(-1))
			s.Spec.Template.Image = ""
		}, []string{
			`metadata.name: required; a lowercase name like "web"`,
			`spec.replicas: -1 is negative; use 0 or more`,
			`spec.template.image: required; an image reference like "demoapp:dev"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(s)
			assertErrors(t, s.Validate(), tt.want)
		})
	}
}

// assertErrors compares an ErrorList with the expected lines, exactly.
func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	got := AsErrorList(err)
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want:\n%s", strings.Join(want, "\n"))
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Error())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors differ\ngot:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestExplicitZeroPortIsNotAnOmittedPort: `port: 0` in a file is a mistake
// to name, not the absence of a port.
func TestExplicitZeroPortIsNotAnOmittedPort(t *testing.T) {
	noLB := header + "spec:\n  template:\n    image: redis:7\n"
	tests := []struct {
		name, file string
		want       []string
	}{
		{"template port absent, no load balancer", noLB, nil},
		{"template port 0, no load balancer", noLB + "    port: 0\n",
			[]string{`f.yaml:8: spec.template.port: 0 is not a port; use 1-65535, or leave port out for a spec without a load balancer`}},
		{"template port absent, with load balancer", noLB + "  loadBalancer: {port: 8080}\n",
			[]string{`f.yaml:6: spec.template.port: required when spec.loadBalancer is set: the port the app listens on inside the container, 1-65535`}},
		{"template port 0, with load balancer", noLB + "    port: 0\n  loadBalancer: {port: 8080}\n",
			[]string{`f.yaml:8: spec.template.port: 0 is not a port; use 1-65535, or leave port out for a spec without a load balancer`}},
		{"load balancer port 0", noLB + "    port: 80\n  loadBalancer: {port: 0}\n",
			[]string{`f.yaml:9: spec.loadBalancer.port: 0 is not a port; use 1-65535, the host port to publish the app on`}},
		{"duration from the issue", noLB + "    stopGracePeriod: 2562047h\n",
			[]string{`f.yaml:8: spec.template.stopGracePeriod: "2562047h0m0s" is longer than 24h, the longest duration scaler accepts`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := LoadDocuments("f.yaml", []byte(tt.file))
			if err != nil || len(docs) != 1 {
				t.Fatalf("LoadDocuments: %v, %d documents", err, len(docs))
			}
			assertErrors(t, docs[0].Err, tt.want)
		})
	}
}
