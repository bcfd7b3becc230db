package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/go-logr/logr/testr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// Set by TestMain: the throwaway image holding testdata/testapp, or why the
// integration tests cannot run.
var (
	testImage string
	setupErr  error
)

// testInstance is the scalerd instance of this test binary's Runtimes: no
// daemon running beside the tests sees their containers, nor they its.
var testInstance = "dockertest-" + randomSuffix()

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tag, cleanup, err := buildTestImage()
	testImage, setupErr = tag, err
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// buildTestImage compiles testapp statically and builds a FROM scratch image
// of it under a unique tag, with the Engine's classic builder (no buildx is
// needed, and Engine 20.10 has it).
func buildTestImage() (string, func(), error) {
	dir, err := os.MkdirTemp("", "scaler-docker-test-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "testapp")
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/testapp")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gobuild.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build testapp: %w\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", nil, err
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		return "", nil, fmt.Errorf("cannot reach the Docker Engine at %s (these tests need one; -short skips them): %w", cli.DaemonHost(), err)
	}

	dockerfile := "FROM scratch\n" +
		"COPY testapp /testapp\n" +
		"LABEL " + testenv.LabelTest + "=internal-docker\n" +
		`ENTRYPOINT ["/testapp"]` + "\n" +
		`CMD ["serve"]` + "\n"
	var buildCtx bytes.Buffer
	tw := tar.NewWriter(&buildCtx)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testapp", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}

	tag := "scaler-docker-test:" + randomSuffix()
	resp, err := cli.ImageBuild(ctx, &buildCtx, build.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", nil, fmt.Errorf("build test image: %w", err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return "", nil, fmt.Errorf("build test image: %w", err)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			fmt.Fprintf(os.Stderr, "remove test image %s: %v\n", tag, err)
		}
		_ = cli.Close()
	}
	return tag, cleanup, nil
}

// requireEngine returns a Runtime on the local Engine, skipping in -short
// mode and failing (not skipping) when the Engine is missing otherwise: a
// silent skip would let a broken adapter pass.
func requireEngine(t *testing.T) *Runtime {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the Docker Engine")
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	r, err := New(context.Background(), testr.New(t), testInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testLabels make a container managed (so ListManaged and Events see it)
// and findable as this test's.
func testLabels(t *testing.T) map[string]string {
	return map[string]string{
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		v1alpha1.LabelSpec:      "dockertest",
		testenv.LabelTest:       t.Name(),
	}
}

// create creates a container from spec (name, image and labels filled in
// when empty) and removes it when the test ends.
func create(t *testing.T, r *Runtime, spec engine.ContainerSpec) string {
	t.Helper()
	if spec.Name == "" {
		spec.Name = testenv.Name(t, "docker")
	}
	if spec.Image == "" {
		spec.Image = testImage
	}
	if spec.Labels == nil {
		spec.Labels = testLabels(t)
	}
	id, err := r.CreateContainer(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.RemoveContainer(context.Background(), id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return id
}

// testNetwork ensures a fresh network and removes it when the test ends
// (after the containers, which t.Cleanup removes first: it runs in reverse).
func testNetwork(t *testing.T, r *Runtime) string {
	t.Helper()
	name := testenv.Name(t, "docker-net")
	if err := r.EnsureNetwork(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.client.NetworkRemove(context.Background(), name); err != nil {
			t.Errorf("cleanup network: %v", err)
		}
	})
	return name
}

func networksNamed(t *testing.T, r *Runtime, name string) []network.Summary {
	t.Helper()
	all, err := r.client.NetworkList(context.Background(), network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []network.Summary
	for _, n := range all {
		if n.Name == name {
			out = append(out, n)
		}
	}
	return out
}

// observed returns the container with that ID as ListManaged reports it.
func observed(t *testing.T, r *Runtime, id string) (engine.Container, bool) {
	t.Helper()
	list, err := r.ListManaged(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == id {
			return c, true
		}
	}
	return engine.Container{}, false
}

func waitHealth(t *testing.T, r *Runtime, id, health string) engine.Container {
	t.Helper()
	var c engine.Container
	testenv.WaitFor(t, 20*time.Second, "health "+health, func() (bool, error) {
		var ok bool
		c, ok = observed(t, r, id)
		return ok && c.Health == health, fmt.Errorf("observed %+v", c)
	})
	return c
}
