package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Compose is the tutorial's setup as a Target: docker-compose 1.x
// (`docker-compose`) with the compose file and nginx default.conf of
// testdata/compose, the same images and health check as scaler's spec.
// Every change is the command the tutorial gives for it, or the gentlest
// one where it gives none; nothing is added to help it.
type Compose struct {
	// Project is the compose project name (-p), unique per run.
	Project string
	// Port is nginx's published port on 127.0.0.1.
	Port int
	// HealthTimeout bounds the wait for replicas to turn healthy.
	HealthTimeout time.Duration
	// HealthCheck is the app's health check: BENCH_HEALTH_INTERVAL,
	// _TIMEOUT and _RETRIES, the compose file's own defaults when empty.
	HealthCheck HealthCheck

	file     string // the compose file
	conf     string // the copy of default.conf bind-mounted into nginx
	greeting string
	cpus     string
}

// HealthCheck is a Docker health check's timing.
type HealthCheck struct {
	Interval, Timeout string
	Retries           int
}

// env are the variables the compose file reads.
func (c *Compose) env() []string {
	env := append(os.Environ(),
		"BENCH_NGINX_PORT="+fmt.Sprint(c.Port),
		"BENCH_NGINX_CONF="+c.conf,
		"BENCH_GREETING="+c.greeting,
		"BENCH_APP_CPUS="+c.cpus,
		// compose gives up on an Engine call after 60 s by default, which a
		// 50-replica `up` on a loaded 2-core Engine exceeded; waiting is
		// all it needs.
		"COMPOSE_HTTP_TIMEOUT=600",
	)
	if h := c.HealthCheck; h != (HealthCheck{}) {
		env = append(env, "BENCH_HEALTH_INTERVAL="+h.Interval, "BENCH_HEALTH_TIMEOUT="+h.Timeout, fmt.Sprintf("BENCH_HEALTH_RETRIES=%d", h.Retries))
	}
	return env
}

// NewCompose prepares a project from testdata (the compose file and
// default.conf in dir testdata), with its nginx config copied into work so
// that the load-balancer change edits a copy. cpus is the app's CPU limit.
func NewCompose(testdata, work, project string, port int, cpus string) (*Compose, error) {
	conf, err := os.ReadFile(filepath.Join(testdata, "default.conf"))
	if err != nil {
		return nil, err
	}
	c := &Compose{Project: project, Port: port, HealthTimeout: 3 * time.Minute,
		file: filepath.Join(testdata, "docker-compose.yml"), conf: filepath.Join(work, "default.conf"),
		greeting: "v1", cpus: cpus}
	if err := os.WriteFile(c.conf, conf, 0o644); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return nil, errors.New("docker-compose (1.x) is not installed: apt-get install -y docker-compose")
	}
	return c, nil
}

// Name is the target's name in the report.
func (c *Compose) Name() string { return "compose" }

// URL is nginx's address.
func (c *Compose) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/", c.Port) }

// command is how the report spells a docker-compose call.
func (c *Compose) command(args ...string) string {
	return "docker-compose -p " + c.Project + " " + strings.Join(args, " ")
}

func (c *Compose) compose(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", c.Project, "-f", c.file}, args...)...)
	cmd.Env = c.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w\n%s", c.command(args...), err, out.String())
	}
	return out.String(), nil
}

// Down removes the project: containers, volumes and network.
func (c *Compose) Down(ctx context.Context) error {
	_, err := c.compose(ctx, "down", "-v", "-t", "2", "--remove-orphans")
	return err
}

// UpDependencies starts redis alone and waits for it to be healthy, so
// that a timed `up --scale` measures the app's replicas only.
func (c *Compose) UpDependencies(ctx context.Context) error {
	if _, err := c.compose(ctx, "up", "-d", "redis"); err != nil {
		return err
	}
	return c.waitHealthy(ctx, "redis", 1, nil)
}

// appContainer is one container of the app service.
type appContainer struct {
	ID, Name, Status string
}

// containers lists the project's containers of service, running or not.
func (c *Compose) containers(ctx context.Context, service string) ([]appContainer, error) {
	out, err := Docker(ctx, "ps", "-a", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+c.Project,
		"--filter", "label=com.docker.compose.service="+service,
		"--format", "{{.ID}}\t{{.Names}}\t{{.Status}}")
	if err != nil {
		return nil, err
	}
	var cs []appContainer
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.SplitN(line, "\t", 3); len(f) == 3 {
			cs = append(cs, appContainer{ID: f[0], Name: f[1], Status: f[2]})
		}
	}
	return cs, nil
}

// Healthy counts the app containers that are up and healthy.
func (c *Compose) Healthy(ctx context.Context) (int, error) {
	cs, err := c.containers(ctx, "app")
	n := 0
	for _, ct := range cs {
		if strings.HasPrefix(ct.Status, "Up") && strings.Contains(ct.Status, "(healthy)") {
			n++
		}
	}
	return n, err
}

// waitHealthy waits until service has exactly n containers, all up and
// healthy, none of them in old (containers a recreate must replace).
func (c *Compose) waitHealthy(ctx context.Context, service string, n int, old map[string]bool) error {
	deadline := time.Now().Add(c.HealthTimeout)
	last := ""
	for {
		cs, err := c.containers(ctx, service)
		if err == nil {
			healthy := 0
			for _, ct := range cs {
				if strings.HasPrefix(ct.Status, "Up") && strings.Contains(ct.Status, "(healthy)") && !old[ct.ID] {
					healthy++
				}
			}
			if healthy == n && len(cs) == n {
				return nil
			}
			last = fmt.Sprintf("%d containers, %d healthy and new", len(cs), healthy)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d healthy replicas not reached within %s: %s", service, n, c.HealthTimeout, last)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reloadNginx is the gentlest way to change what nginx knows: a graceful
// reload, which also resolves app:5000 again.
func (c *Compose) reloadNginx(ctx context.Context) error {
	_, err := c.compose(ctx, "exec", "-T", "nginx", "nginx", "-s", "reload")
	return err
}

// Reset runs replicas app containers of version with nginx reloaded
// after them, so that nginx resolved every one: the tutorial's "first time
// scaling" state, from which each scenario starts.
func (c *Compose) Reset(ctx context.Context, replicas int, version string) error {
	old := map[string]bool{}
	if version != c.greeting {
		cs, err := c.containers(ctx, "app")
		if err != nil {
			return err
		}
		for _, ct := range cs {
			old[ct.ID] = true
		}
		c.greeting = version
	}
	if _, err := c.compose(ctx, "up", "-d", "--scale", fmt.Sprintf("app=%d", replicas)); err != nil {
		return err
	}
	if err := c.waitHealthy(ctx, "app", replicas, old); err != nil {
		return err
	}
	if err := WaitOK(c.URL(), 30*time.Second); err != nil {
		return err
	}
	if err := c.reloadNginx(ctx); err != nil {
		return err
	}
	return c.waitHosts(ctx, replicas)
}

// waitHosts asks nginx until n different replicas have answered, so a
// scenario starts with every replica in nginx's upstream.
func (c *Compose) waitHosts(ctx context.Context, n int) error {
	rec := StartLoad(ctx, c.URL(), LoadOptions{Rate: 100, Concurrency: 4, Timeout: 2 * time.Second})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if len(Hosts(rec.Samples(), rec.Started, time.Now())) >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = rec.Stop()
	if got := len(Hosts(rec.Samples(), rec.Started, time.Now())); got < n {
		return fmt.Errorf("after reloading nginx only %d of %d replicas answered", got, n)
	}
	return nil
}

// Scale is the tutorial's `make scale-up` / `make scale-down`.
func (c *Compose) Scale(ctx context.Context, replicas int) (Change, error) {
	args := []string{"up", "-d", "--scale", fmt.Sprintf("app=%d", replicas)}
	ch := Change{Commands: []string{c.command(args...)}, Requested: time.Now()}
	if _, err := c.compose(ctx, args...); err != nil {
		return ch, err
	}
	err := c.waitHealthy(ctx, "app", replicas, nil)
	if err == nil {
		ch.Converged = time.Now()
		ch.Note = "done: the command returned and every app container is healthy"
	}
	return ch, err
}

// RollingUpdate changes the app's environment and runs `up` again:
// compose has no rolling update; it stops and recreates every container
// whose configuration changed.
func (c *Compose) RollingUpdate(ctx context.Context, version string) (Change, error) {
	cs, err := c.containers(ctx, "app")
	if err != nil {
		return Change{}, err
	}
	old := map[string]bool{}
	for _, ct := range cs {
		old[ct.ID] = true
	}
	c.greeting = version
	args := []string{"up", "-d", "--scale", fmt.Sprintf("app=%d", len(cs))}
	ch := Change{Commands: []string{"BENCH_GREETING=" + version + " " + c.command(args...)}, Requested: time.Now()}
	if _, err := c.compose(ctx, args...); err != nil {
		return ch, err
	}
	if err := c.waitHealthy(ctx, "app", len(cs), old); err != nil {
		return ch, err
	}
	ch.Converged = time.Now()
	ch.Note = "done: every app container recreated and healthy"
	return ch, nil
}

// restartWait is how long Kill and Crash wait for Docker's restart
// policy to bring the replica back.
const restartWait = 20 * time.Second

// Kill kills app_2 with `docker kill -s KILL`. Docker takes that for an
// order, as it does `docker stop`: the restart policy does not restart it,
// and compose has nothing else that would.
func (c *Compose) Kill(ctx context.Context) (Change, error) {
	name := c.Project + "_app_2"
	return c.killAndWait(ctx, name, "docker kill -s KILL "+name, func() error {
		_, err := Docker(ctx, "kill", "-s", "KILL", name)
		return err
	})
}

// Crash kills app_2's process with SIGKILL from the host, which Docker
// sees as a crash: restart: unless-stopped restarts it, in place.
func (c *Compose) Crash(ctx context.Context) (Change, error) {
	name := c.Project + "_app_2"
	return c.killAndWait(ctx, name, "kill -KILL $(docker inspect -f '{{.State.Pid}}' "+name+")", func() error {
		return KillProcess(ctx, name)
	})
}

// killAndWait kills name with kill and waits, up to restartWait, for it
// to be running and healthy again.
func (c *Compose) killAndWait(ctx context.Context, name, command string, kill func() error) (Change, error) {
	out, err := Docker(ctx, "inspect", "-f", "{{.Config.Hostname}} {{.State.StartedAt}}", name)
	if err != nil {
		return Change{}, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return Change{}, fmt.Errorf("inspecting %s: %q", name, out)
	}
	ch := Change{Commands: []string{command}, Requested: time.Now(), Killed: f[0]}
	if err := kill(); err != nil {
		return ch, err
	}
	ch.KilledAt = time.Now()
	deadline := time.Now().Add(restartWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		out, err := Docker(ctx, "inspect", "-f", "{{.State.StartedAt}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name)
		if g := strings.Fields(out); err == nil && len(g) == 2 && g[0] != f[1] && g[1] == "healthy" {
			ch.Converged = time.Now()
			ch.Note = "done: Docker restarted the container (restart: unless-stopped) and it is healthy again"
			return ch, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	ch.Note = fmt.Sprintf("not done: Docker did not restart the container within %s", restartWait)
	return ch, nil
}

// ChangeLoadBalancer edits default.conf (least_conn off: nginx's default
// is round robin) and reloads nginx gracefully.
func (c *Compose) ChangeLoadBalancer(ctx context.Context) (Change, error) {
	conf, err := os.ReadFile(c.conf)
	if err != nil {
		return Change{}, err
	}
	edited := strings.Replace(string(conf), "    least_conn;", "    # round robin, nginx's default", 1)
	if edited == string(conf) {
		return Change{}, fmt.Errorf("%s has no least_conn line to change", c.conf)
	}
	reload := []string{"exec", "-T", "nginx", "nginx", "-s", "reload"}
	ch := Change{Commands: []string{"sed -i 's/least_conn;/# round robin/' default.conf", c.command(reload...)}, Requested: time.Now()}
	// In place, not by rename: a bind-mounted file is its inode, so the
	// container would keep seeing the old file after a rename.
	if err := os.WriteFile(c.conf, []byte(edited), 0o644); err != nil {
		return ch, err
	}
	if err := c.reloadNginx(ctx); err != nil {
		return ch, err
	}
	ch.Converged = time.Now()
	ch.Note = "done: nginx -s reload returned"
	return ch, nil
}

// KillProcess sends SIGKILL to container's main process, from the host.
func KillProcess(ctx context.Context, container string) error {
	out, err := Docker(ctx, "inspect", "-f", "{{.State.Pid}}", container)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s has no process to kill (pid %q)", container, out)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -KILL %d (%s): %w; the crash scenario needs the right to signal container processes (root)", pid, container, err)
	}
	return nil
}

// Docker runs the docker CLI and returns its trimmed output; an error
// carries what it printed on stderr.
func Docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(out.String()), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
