package images

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

func TestImageConfigs(t *testing.T) {
	testenv.RequireDocker(t)
	testenv.RequireImages(t, demoappImage, nginxImage, redisImage)

	t.Run("demoapp", func(t *testing.T) {
		cfg := inspectImage(t, demoappImage)
		uid, _, _ := strings.Cut(cfg.User, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("User = %q, want a numeric non-root uid (a scratch image has no /etc/passwd)", cfg.User)
		}
		if cfg.Healthcheck == nil || !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/demoapp", "healthcheck"}) {
			t.Errorf("Healthcheck = %+v, want CMD /demoapp healthcheck", cfg.Healthcheck)
		}
		if !slices.Equal(cfg.Entrypoint, []string{"/demoapp"}) {
			t.Errorf("Entrypoint = %q, want [/demoapp]", cfg.Entrypoint)
		}
		if _, ok := cfg.ExposedPorts["5000/tcp"]; !ok {
			t.Errorf("ExposedPorts = %v, want 5000/tcp", cfg.ExposedPorts)
		}
		if cfg.Labels["scaler.dev/input-hash"] == "" {
			t.Error("no scaler.dev/input-hash label: make images could not tell it is up to date")
		}
	})
	t.Run("nginx", func(t *testing.T) {
		cfg := inspectImage(t, nginxImage)
		if !slices.Equal(cfg.Cmd, []string{"nginx", "-g", "daemon off;"}) {
			t.Errorf("Cmd = %q, want nginx in the foreground", cfg.Cmd)
		}
		if cfg.StopSignal != "SIGQUIT" {
			t.Errorf("StopSignal = %q, want SIGQUIT (graceful)", cfg.StopSignal)
		}
		if cfg.Labels["scaler.dev/input-hash"] == "" {
			t.Error("no scaler.dev/input-hash label")
		}
	})
	t.Run("redis", func(t *testing.T) {
		cfg := inspectImage(t, redisImage)
		want := []string{"redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--bind", "0.0.0.0"}
		if !slices.Equal(cfg.Cmd, want) {
			t.Errorf("Cmd = %q, want %q", cfg.Cmd, want)
		}
		if cfg.User == "" || cfg.User == "root" || cfg.User == "0" {
			t.Errorf("User = %q, want redis", cfg.User)
		}
	})
}

func TestNginxImage(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, nginxImage)
	port := testenv.FreePort(t)
	nginx := run(t, "nginx", "--publish", "127.0.0.1:"+strconv.Itoa(port)+":80", nginxImage)

	waitHTTP(t, port, "/", 30*time.Second)

	if out := testenv.Docker(t, "exec", nginx, "nginx", "-t", "-c", "/etc/nginx/nginx.conf"); out != "" {
		t.Logf("nginx -t: %s", out)
	}
	// What the controller relies on: the pid file where the main config says,
	// cat and ls, and a sh that can read the processes' command lines (to see
	// old workers finishing after a reload).
	if conf := testenv.Docker(t, "exec", nginx, "cat", "/etc/nginx/nginx.conf"); !strings.Contains(conf, "pid /run/nginx.pid;") {
		t.Errorf("/etc/nginx/nginx.conf does not set pid /run/nginx.pid:\n%s", conf)
	}
	testenv.Docker(t, "exec", nginx, "ls", "/run/nginx.pid", "/etc/nginx/conf.d")
	testenv.Docker(t, "exec", nginx, "nginx", "-s", "reload", "-c", "/etc/nginx/nginx.conf")
	testenv.WaitFor(t, 10*time.Second, "nginx workers after the reload", func() (bool, error) {
		cmdlines := testenv.Docker(t, "exec", nginx, "sh", "-c",
			`for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$f"; echo; done`)
		return strings.Contains(cmdlines, "nginx: master process") && strings.Contains(cmdlines, "nginx: worker process"), nil
	})
	waitHTTP(t, port, "/", 10*time.Second)

	// A broken config is refused by nginx -t, which is what gates a reload.
	testenv.Docker(t, "exec", nginx, "sh", "-c", `echo 'events {} http { nonsense; }' >/tmp/bad.conf`)
	if out, code := dockerExit(t, "exec", nginx, "nginx", "-t", "-c", "/tmp/bad.conf"); code == 0 {
		t.Errorf("nginx -t accepted a broken config: %s", out)
	}

	testenv.Docker(t, "stop", "--time", "10", nginx)
	if code := testenv.Docker(t, "inspect", "--format", "{{.State.ExitCode}}", nginx); code != "0" {
		t.Errorf("nginx exit code after docker stop (SIGQUIT) = %s, want 0", code)
	}
}

func TestRedisImage(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, redisImage)
	redis := run(t, "redis", "--health-interval", "500ms", redisImage)

	testenv.WaitFor(t, 30*time.Second, "redis-cli ping to answer PONG", func() (bool, error) {
		out, code := dockerExit(t, "exec", redis, "redis-cli", "ping")
		return code == 0 && out == "PONG", nil
	})
	waitHealthy(t, redis, 30*time.Second)
	if out := testenv.Docker(t, "exec", redis, "redis-cli", "config", "get", "save"); strings.TrimSpace(strings.TrimPrefix(out, "save")) != "" {
		t.Errorf("CONFIG GET save = %q, want persistence off", out)
	}
	if out := testenv.Docker(t, "exec", redis, "redis-cli", "config", "get", "appendonly"); !strings.HasSuffix(out, "no") {
		t.Errorf("CONFIG GET appendonly = %q, want no", out)
	}
}
