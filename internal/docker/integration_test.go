package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestCreateListHealth creates a replica with everything a ContainerSpec
// can say, checks the Engine applied each setting, and follows its health
// through ListManaged from starting to healthy to unhealthy.
func TestCreateListHealth(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	netName := testNetwork(t, r)
	port := testenv.FreePort(t)
	name := testenv.Name(t, "docker")
	spec := engine.ContainerSpec{
		Name:                name,
		Image:               testImage,
		Env:                 []string{"GREETING=hi"},
		Labels:              testLabels(t),
		Network:             netName,
		Aliases:             []string{"dockertest-alias"},
		NanoCPUs:            500_000_000,
		CPUReservationNanos: 250_000_000,
		MemoryBytes:         64 << 20,
		MemoryReservation:   32 << 20,
		Health: &engine.HealthConfig{
			Test:          []string{"/testapp", "healthcheck"},
			Interval:      250 * time.Millisecond,
			Timeout:       time.Second,
			StartPeriod:   time.Second,
			StartInterval: 100 * time.Millisecond,
			Retries:       1,
		},
		StopTimeout: 1500 * time.Millisecond,
		StopSignal:  "SIGTERM",
		Publish:     &engine.PortBinding{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080},
		Hardened:    true,
		CapAdd:      []string{"NET_BIND_SERVICE"},
		User:        "65534:65534",
	}
	id := create(t, r, spec)

	inspect, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cfg, host := inspect.Config, inspect.HostConfig
	checks := []struct {
		what      string
		got, want any
	}{
		{"entrypoint (image's)", []string(cfg.Entrypoint), []string{"/testapp"}},
		{"cmd (image's)", []string(cfg.Cmd), []string{"serve"}},
		{"hostname", cfg.Hostname, name},
		{"env has GREETING", slices.Contains(cfg.Env, "GREETING=hi"), true},
		{"user", cfg.User, "65534:65534"},
		{"stop signal", cfg.StopSignal, "SIGTERM"},
		{"stop timeout rounded up", *cfg.StopTimeout, 2},
		{"health test", []string(cfg.Healthcheck.Test), []string{"CMD", "/testapp", "healthcheck"}},
		{"health interval", cfg.Healthcheck.Interval, 250 * time.Millisecond},
		{"health retries", cfg.Healthcheck.Retries, 1},
		{"nano cpus", host.NanoCPUs, int64(500_000_000)},
		{"cpu shares", host.CPUShares, int64(256)},
		{"memory", host.Memory, int64(64 << 20)},
		{"memory reservation", host.MemoryReservation, int64(32 << 20)},
		{"restart policy", string(host.RestartPolicy.Name), "no"},
		{"init", host.Init != nil && !*host.Init, true},
		{"security opt", host.SecurityOpt, []string{"no-new-privileges:true"}},
		{"cap drop", []string(host.CapDrop), []string{"ALL"}},
		{"cap add", []string(host.CapAdd), []string{"CAP_NET_BIND_SERVICE"}},
		{"log driver", host.LogConfig.Type, "json-file"},
		{"log max-size", host.LogConfig.Config["max-size"], "10m"},
		{"port binding", fmt.Sprint(host.PortBindings["8080/tcp"]), fmt.Sprintf("[{127.0.0.1 %d}]", port)},
		{"network alias", slices.Contains(inspect.NetworkSettings.Networks[netName].Aliases, "dockertest-alias"), true},
	}
	// API 1.41 has no StartInterval; on a newer Engine it must be passed on.
	wantStartInterval := time.Duration(0)
	if r.Capabilities().HealthStartInterval {
		wantStartInterval = 100 * time.Millisecond
	}
	checks = append(checks, struct {
		what      string
		got, want any
	}{"health start interval", cfg.Healthcheck.StartInterval, wantStartInterval})
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}

	c, ok := observed(t, r, id)
	if !ok {
		t.Fatalf("ListManaged does not show created container %s", name)
	}
	if c.State != engine.StateCreated || c.Health != engine.HealthNone || len(c.IPs) != 0 {
		t.Errorf("created container: got state %q health %q IPs %v, want created, no health, no IPs", c.State, c.Health, c.IPs)
	}

	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	c = waitHealth(t, r, id, engine.HealthHealthy)
	if c.Name != name || c.State != engine.StateRunning || c.Image != testImage {
		t.Errorf("got name %q state %q image %q, want %q running %q", c.Name, c.State, c.Image, name, testImage)
	}
	if c.Labels[testenv.LabelTest] != t.Name() {
		t.Errorf("labels %v lack %s=%s", c.Labels, testenv.LabelTest, t.Name())
	}
	if c.IPs[netName] == "" {
		t.Errorf("no IP on network %s: %v", netName, c.IPs)
	}
	if c.Created.IsZero() || time.Since(c.Created) > time.Minute {
		t.Errorf("created time %v is not recent", c.Created)
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("published port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from " + name; !strings.Contains(string(body), want) {
		t.Errorf("published port answered %q, want %q", body, want)
	}

	if p, err := r.LastProbe(ctx, id); err != nil || p.ExitCode != 0 || p.End.IsZero() {
		t.Errorf("LastProbe of a healthy container = %+v, %v; want exit 0", p, err)
	}

	// The app fails its health check while this file exists.
	if err := r.CopyFile(ctx, id, "/state/unhealthy", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, r, id, engine.HealthUnhealthy)
	if p, err := r.LastProbe(ctx, id); err != nil || p.ExitCode == 0 {
		t.Errorf("LastProbe of an unhealthy container = %+v, %v; want a failure", p, err)
	} else {
		t.Logf("last probe of the unhealthy container: exit %d, %q", p.ExitCode, p.Output)
	}
}

// TestCommandOverridesEntrypoint checks template.command's "overrides the
// image's entrypoint" (api/v1alpha1/types.go): were it appended to the ENTRYPOINT, testapp would
// get "/testapp" as its subcommand and exit 1.
func TestCommandOverridesEntrypoint(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	id := create(t, r, engine.ContainerSpec{Cmd: []string{"/testapp", "exit", "7", "done"}})
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "exit", func() (bool, error) {
		c, _ := observed(t, r, id)
		return c.State == engine.StateExited, fmt.Errorf("state %q", c.State)
	})
	inspect, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inspect.State.ExitCode != 7 {
		t.Errorf("exit code %d, want 7 from `testapp exit 7`", inspect.State.ExitCode)
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	id := create(t, r, engine.ContainerSpec{})

	if _, err := r.Exec(ctx, id, []string{"/testapp", "exit", "0", "x"}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("exec in a container that is not running: got %v, want ErrConflict", err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}

	res, err := r.Exec(ctx, id, []string{"/testapp", "exit", "3", "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	for _, want := range []string{"stdout: hello", "stderr: hello"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("output %q lacks %q", res.Output, want)
		}
	}

	res, err = r.Exec(ctx, id, []string{"/testapp", "exit", "0", "fine"})
	if err != nil || res.ExitCode != 0 {
		t.Errorf("got %+v, %v; want exit 0", res, err)
	}

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Exec(short, id, []string{"/testapp", "sleep", "30s"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("exec past its deadline: got %v, want DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("exec returned %s after its 500ms deadline, not cut short", elapsed)
	}

	if _, err := r.Exec(ctx, "dockertest-missing-"+randomSuffix(), []string{"/testapp"}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("exec in a missing container: got %v, want ErrNotFound", err)
	}
	// A stopped container: the start prober stops probing on this answer.
	if err := r.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Exec(ctx, id, []string{"/testapp", "exit", "0", "fine"}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("exec in a stopped container: got %v, want ErrConflict", err)
	}
}

func TestCopyFile(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	id := create(t, r, engine.ContainerSpec{})

	// Before start, into directories that do not exist yet, and into "/".
	if err := r.CopyFile(ctx, id, "/etc/scaler/nested/app.conf", []byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.CopyFile(ctx, id, "/top.txt", []byte("top\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	cat := func(path string) string {
		t.Helper()
		res, err := r.Exec(ctx, id, []string{"/testapp", "cat", path})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("cat %s: exit %d: %s", path, res.ExitCode, res.Output)
		}
		return res.Output
	}
	if got := cat("/etc/scaler/nested/app.conf"); got != "first\n" {
		t.Errorf("got %q, want %q", got, "first\n")
	}
	if got := cat("/top.txt"); got != "top\n" {
		t.Errorf("got %q, want %q", got, "top\n")
	}

	// While running, over the existing file.
	if err := r.CopyFile(ctx, id, "/etc/scaler/nested/app.conf", []byte("second\n")); err != nil {
		t.Fatal(err)
	}
	if got := cat("/etc/scaler/nested/app.conf"); got != "second\n" {
		t.Errorf("after overwrite got %q, want %q", got, "second\n")
	}

	if err := r.CopyFile(ctx, id, "relative/path", nil); err == nil {
		t.Error("relative path accepted")
	}
	if err := r.CopyFile(ctx, "dockertest-missing-"+randomSuffix(), "/a/b", []byte("x")); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("copy into a missing container: got %v, want ErrNotFound", err)
	}
}

// TestStop checks that the app gets SIGTERM and time to exit on its own,
// and that an app ignoring SIGTERM is killed once the grace period, rounded
// up to whole seconds, has passed.
func TestStop(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()

	health := &engine.HealthConfig{Test: []string{"/testapp", "healthcheck"}, Interval: 250 * time.Millisecond, Retries: 3}
	graceful := create(t, r, engine.ContainerSpec{Health: health})
	stubborn := create(t, r, engine.ContainerSpec{Cmd: []string{"/testapp", "ignore-term"}, Health: health})
	for _, id := range []string{graceful, stubborn} {
		if err := r.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Healthy means serving, which testapp does only once its SIGTERM
	// handling is in place; before, Go's default would exit on SIGTERM.
	waitHealth(t, r, graceful, engine.HealthHealthy)
	waitHealth(t, r, stubborn, engine.HealthHealthy)

	var wg sync.WaitGroup
	stop := func(id string, grace time.Duration, wantExit int, minElapsed, maxElapsed time.Duration) {
		defer wg.Done()
		start := time.Now()
		if err := r.StopContainer(ctx, id, grace); err != nil {
			t.Error(err)
			return
		}
		elapsed := time.Since(start)
		if elapsed < minElapsed || elapsed > maxElapsed {
			t.Errorf("stop with grace %s took %s, want between %s and %s", grace, elapsed, minElapsed, maxElapsed)
		}
		inspect, err := r.client.ContainerInspect(ctx, id)
		if err != nil {
			t.Error(err)
			return
		}
		if inspect.State.Running || inspect.State.ExitCode != wantExit {
			t.Errorf("after stop: running=%v exit=%d, want stopped with exit %d", inspect.State.Running, inspect.State.ExitCode, wantExit)
		}
	}
	wg.Add(2)
	// Exit code 0 proves SIGTERM was handled; under 9s proves no SIGKILL
	// after the 10s grace was needed.
	go stop(graceful, 10*time.Second, 0, 0, 9*time.Second)
	// 1.5s rounds up to 2s; then SIGKILL (exit 137).
	go stop(stubborn, 1500*time.Millisecond, 137, 1900*time.Millisecond, 8*time.Second)
	wg.Wait()

	if err := r.StopContainer(ctx, graceful, time.Second); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
}

// TestEvents follows one container through the events scalerd watches.
func TestEvents(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errc := r.Events(ctx)

	id := create(t, r, engine.ContainerSpec{Health: &engine.HealthConfig{
		Test: []string{"/testapp", "healthcheck"}, Interval: 250 * time.Millisecond, Retries: 3,
	}})
	expect := func(action string) engine.Event {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("event stream closed while waiting for %q: %v", action, <-errc)
				}
				if ev.ContainerID != id {
					continue // another test's container
				}
				if strings.HasPrefix(ev.Action, "exec_") {
					t.Errorf("got %q: exec events must be filtered out", ev.Action)
				}
				if ev.Action == action {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %q event for container %s", action, id)
			}
		}
	}

	if err := r.StartContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	ev := expect("start")
	if ev.Labels[testenv.LabelTest] != t.Name() {
		t.Errorf("start event labels %v lack %s=%s", ev.Labels, testenv.LabelTest, t.Name())
	}
	if _, ok := ev.Labels["name"]; ok {
		t.Errorf("event labels %v include the Engine's attributes", ev.Labels)
	}
	if time.Since(ev.Time) > time.Minute || ev.Time.After(time.Now().Add(time.Minute)) {
		t.Errorf("event time %v is not now", ev.Time)
	}
	expect("health_status: healthy")
	// An exec is not an event the controller hears of.
	if _, err := r.Exec(context.Background(), id, []string{"/testapp", "exit", "0", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := r.StopContainer(context.Background(), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	expect("die")
	expect("stop")
	if err := r.RemoveContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	expect("destroy")

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("after cancel the error channel gave %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error-channel value after cancel")
	}
	for range events {
		// drained: the channel must close
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	if err := r.RemoveContainer(ctx, "dockertest-missing-"+randomSuffix()); err != nil {
		t.Errorf("removing a missing container: %v", err)
	}
	id := create(t, r, engine.ContainerSpec{})
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("force-removing a running container: %v", err)
	}
	if _, ok := observed(t, r, id); ok {
		t.Error("removed container still listed")
	}
	if err := r.RemoveContainer(ctx, id); err != nil {
		t.Errorf("removing it again: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	name := testenv.Name(t, "docker")
	create(t, r, engine.ContainerSpec{Name: name})

	_, err := r.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: testImage, Labels: testLabels(t)})
	if !errors.Is(err, engine.ErrConflict) {
		t.Errorf("second create of %s: got %v, want ErrConflict", name, err)
	}

	missing := "scaler-docker-test-missing:" + randomSuffix()
	_, err = r.CreateContainer(ctx, engine.ContainerSpec{Name: testenv.Name(t, "docker"), Image: missing, Labels: testLabels(t)})
	if !errors.Is(err, engine.ErrNotFound) || !errors.Is(err, engine.ErrImageNotFound) {
		t.Errorf("create from a missing image: got %v, want ErrNotFound and ErrImageNotFound", err)
	}
	if err != nil && !strings.Contains(err.Error(), "make images") {
		t.Errorf("missing-image error %q does not say how to fix it", err)
	}
}

func TestEnsureNetworkIdempotent(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	name := testNetwork(t, r)

	// Reconcile workers of specs sharing a network call this at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.EnsureNetwork(context.Background(), name); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	nets := networksNamed(t, r, name)
	if len(nets) != 1 {
		t.Fatalf("%d networks named %s, want 1", len(nets), name)
	}
	if nets[0].Driver != "bridge" || nets[0].Labels["scaler.dev/managed-by"] != "scalerd" {
		t.Errorf("network driver %q labels %v, want a labelled bridge", nets[0].Driver, nets[0].Labels)
	}

	// A prefix of an existing network's name is a different network.
	prefix := name[:len(name)-2]
	if err := r.EnsureNetwork(context.Background(), prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.client.NetworkRemove(context.Background(), prefix) })
	if len(networksNamed(t, r, prefix)) != 1 {
		t.Errorf("network %s was not created next to %s", prefix, name)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	spinner := create(t, r, engine.ContainerSpec{
		Cmd:         []string{"/testapp", "spin"},
		NanoCPUs:    500_000_000,
		MemoryBytes: 64 << 20,
	})
	idle := create(t, r, engine.ContainerSpec{Cmd: []string{"/testapp", "sleep", "1h"}})
	for _, id := range []string{spinner, idle} {
		if err := r.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	busy, err := r.Stats(ctx, spinner)
	if err != nil {
		t.Fatal(err)
	}
	resting, err := r.Stats(ctx, idle)
	if err != nil {
		t.Fatal(err)
	}
	// A spinning goroutine capped at half a CPU: at most about 50 (100 is
	// one core), and clearly more than a sleeping process. The lower bound
	// stays loose because other tests may be using this host's two cores.
	if busy.CPUPercent > 65 || busy.CPUPercent < 1 || busy.CPUPercent <= resting.CPUPercent {
		t.Errorf("CPU spinning %.1f%%, sleeping %.1f%%; want about 50%% (the limit) and above the sleeper",
			busy.CPUPercent, resting.CPUPercent)
	}
	if busy.MemoryLimit != 64<<20 {
		t.Errorf("memory limit %d, want %d", busy.MemoryLimit, 64<<20)
	}
	if busy.MemoryBytes == 0 || busy.MemoryBytes >= busy.MemoryLimit {
		t.Errorf("memory %d, want above 0 and under the limit %d", busy.MemoryBytes, busy.MemoryLimit)
	}
	if _, err := r.Stats(ctx, "dockertest-missing-"+randomSuffix()); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("stats of a missing container: got %v, want ErrNotFound", err)
	}
}

// TestInstanceIsolation checks that two daemons on one Engine never see
// each other's containers, and that the instance label cannot be spoofed
// through a spec's labels.
func TestInstanceIsolation(t *testing.T) {
	t.Parallel()
	r := requireEngine(t)
	ctx := context.Background()
	other, err := New(ctx, testr.New(t), testInstance+"-other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	labels := testLabels(t)
	labels[v1alpha1.LabelInstance] = testInstance + "-other"
	id := create(t, r, engine.ContainerSpec{Labels: labels})
	if _, ok := observed(t, r, id); !ok {
		t.Error("the creating instance does not list its container")
	}
	if _, ok := observed(t, other, id); ok {
		t.Error("another instance lists the container")
	}
	inspect, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := inspect.Config.Labels[v1alpha1.LabelInstance]; got != testInstance {
		t.Errorf("instance label %q, want the creator's %q", got, testInstance)
	}

	for _, bad := range []string{"", "a=b", "two words"} {
		if _, err := New(ctx, testr.New(t), bad); err == nil {
			t.Errorf("New accepted instance %q", bad)
		}
	}
}
