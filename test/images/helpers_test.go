package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

const (
	demoappImage = "demoapp:dev"
	nginxImage   = "scaler-nginx:dev"
	redisImage   = "scaler-redis:dev"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

// imageConfig is the part of `docker image inspect` the tests check.
type imageConfig struct {
	User         string
	Cmd          []string
	Entrypoint   []string
	StopSignal   string
	WorkingDir   string
	ExposedPorts map[string]struct{}
	Labels       map[string]string
	Healthcheck  *struct {
		Test []string
	}
}

func inspectImage(t *testing.T, image string) imageConfig {
	t.Helper()
	var cfg imageConfig
	out := testenv.Docker(t, "image", "inspect", "--format", "{{json .Config}}", image)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("decoding the config of %s: %v\n%s", image, err, out)
	}
	return cfg
}

// run starts a detached container labelled for `make clean`, removed when
// the test ends, and returns its name.
func run(t *testing.T, prefix string, args ...string) string {
	t.Helper()
	name := testenv.Name(t, prefix)
	testenv.Cleanup(t, name)
	full := append([]string{"run", "--detach", "--name", name, "--label", testenv.LabelTest + "=" + t.Name()}, args...)
	testenv.Docker(t, full...)
	return name
}

// network creates a user-defined bridge network removed when the test ends.
// Registered before the containers on it, so its cleanup runs after theirs.
func network(t *testing.T) string {
	t.Helper()
	name := testenv.Name(t, "net")
	testenv.Cleanup(t, name)
	testenv.Docker(t, "network", "create", "--label", testenv.LabelTest+"="+t.Name(), name)
	return name
}

// dockerExit runs the docker CLI when a non-zero exit is an expected outcome,
// and returns its combined output and exit code.
func dockerExit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(string(out)), 0
	case errors.As(err, &exitErr):
		return strings.TrimSpace(string(out)), exitErr.ExitCode()
	default:
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}

func healthStatus(t *testing.T, container string) string {
	t.Helper()
	return testenv.Docker(t, "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", container)
}

func waitHealthy(t *testing.T, container string, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, container+" to turn healthy", func() (bool, error) {
		status := healthStatus(t, container)
		return status == "healthy", fmt.Errorf("health status %q", status)
	})
}

// httpGet GETs a URL on 127.0.0.1 and returns status, Content-Type and body.
func httpGet(port int, path string) (int, string, []byte, error) {
	resp, err := httpClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, err
}

// waitHTTP waits until GET path answers 200.
func waitHTTP(t *testing.T, port int, path string, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, fmt.Sprintf("GET 127.0.0.1:%d%s to answer 200", port, path), func() (bool, error) {
		status, _, body, err := httpGet(port, path)
		if err != nil {
			return false, err
		}
		return status == http.StatusOK, fmt.Errorf("status %d: %s", status, bytes.TrimSpace(body))
	})
}
