package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scaler-dev/scaler/internal/testenv"
)

// findChromium returns the browser the dashboard test drives. Without one
// the test skips on a developer's machine, and fails in CI (CI=true), where
// .ci/run installs Debian's chromium: a skipped browser test there would be
// a green CI that looked at nothing.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: apt-get install -y chromium to run the dashboard's browser test")
	return ""
}

// artifactsDir is where the screenshots go: $SCALER_ARTIFACTS/<test>
// when set, else <tmp>/scaler-artifacts/<test>, which each run overwrites
// and which outlives the test, so that a CI run's screenshots can be
// looked at after it.
func artifactsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("SCALER_ARTIFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "scaler-artifacts")
	}
	dir := filepath.Join(root, t.Name())
	_ = os.RemoveAll(dir) // an earlier run's failed.png must not mislead
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless chromium fit for a loaded 2-core machine run
// as root: no sandbox (root has none), no GPU, /tmp rather than a small
// /dev/shm.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser and must not carry a timeout (it
	// would stop the browser with it): bound it from outside instead.
	// Starting chromium on a loaded machine takes seconds.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not start within 2 minutes", path)
	}
	return ctx
}

// cdp runs one browser action within a time bound and returns its value.
func cdp[T any](t *testing.T, ctx context.Context, within time.Duration, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestDashboardInBrowser opens the dashboard of a real stack in chromium:
// it lists the replicas, shows a scale from 2 to 4 within 2 s with no
// reload, marks a replica whose health check fails, and sends the browser
// no secret of the specs.
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)
	s := upStack(t, 2)
	web := s.name("web")
	dir := artifactsDir(t)
	ctx := browser(t, chromium)
	// Traffic, so that the requests columns and plot have numbers; a
	// failed test stops it too.
	stop := sync.OnceValue(s.load())
	t.Cleanup(func() { stop() })

	screenshot := func(name string) {
		t.Helper()
		png := cdp(t, ctx, time.Minute, "screenshot "+name, chromedp.FullScreenshot(100))
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	// waitJS waits, polling in the page, until a JavaScript expression is
	// true there.
	waitJS := func(within time.Duration, what, expr string) {
		t.Helper()
		cdp(t, ctx, within+5*time.Second, what, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	}
	// A failed test leaves the page as it was, to see why. Cleanups run
	// last first: this one before the browser's stops it.
	t.Cleanup(func() {
		if t.Failed() {
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if png, err := chromedp.Run(c, chromedp.FullScreenshot(100)); err == nil {
				p := filepath.Join(dir, "failed.png")
				if os.WriteFile(p, png, 0o644) == nil {
					t.Logf("screenshot of the failure: %s", p)
				}
			}
		}
	})
	card := fmt.Sprintf(`document.querySelector('article[data-spec=%q]')`, web)
	appRows := card + `.querySelectorAll('tr.replica[data-role=app]')`

	cdp(t, ctx, 2*time.Minute, "opening the dashboard", chromedp.Navigate("http://"+s.metricsAddr+"/"))
	waitJS(60*time.Second, "the page to list web's 2 replicas, healthy and in the upstream",
		card+` !== null && Array.from(`+appRows+`).filter(r => r.dataset.health === 'healthy' && r.dataset.upstream === 'in').length === 2`)
	waitJS(60*time.Second, "the live connection", `document.getElementById('conn').classList.contains('live')`)
	// CPU and memory come from a `top` sample a few seconds after the page opens.
	waitJS(2*time.Minute, "CPU and memory bars", card+`.querySelectorAll('.bar').length >= 4`)
	screenshot("1-two-replicas")

	// A reload would lose this mark.
	cdp(t, ctx, 30*time.Second, "marking the page", chromedp.Evaluate[int](`window.scalerNoReload = 42`))
	if out, err := s.scalectl("scale", web, "--replicas", "4"); err != nil {
		t.Fatalf("scalectl scale: %v: %s", err, out)
	}
	scaled := time.Now()
	waitJS(10*time.Second, "the page to show 4 desired", card+`.dataset.desired === '4'`)
	if d := time.Since(scaled); d > 2*time.Second {
		t.Errorf("the scale to 4 showed %v after `scalectl scale` returned; want within 2 s (the page polls every %v)", d.Round(time.Millisecond), 500*time.Millisecond)
	} else {
		t.Logf("the scale to 4 showed %v after `scalectl scale` returned", d.Round(time.Millisecond))
	}
	waitJS(30*time.Second, "4 replica rows", appRows+`.length === 4`)
	t.Logf("4 replica rows showed %v after the scale", time.Since(scaled).Round(time.Millisecond))
	waitJS(120*time.Second, "4 replicas healthy and in the upstream",
		`Array.from(`+appRows+`).filter(r => r.dataset.health === 'healthy' && r.dataset.upstream === 'in').length === 4`)
	mark := cdp(t, ctx, 30*time.Second, "reading the mark", chromedp.Evaluate[int](`window.scalerNoReload || 0`))
	if mark != 42 {
		t.Errorf("the page was reloaded during the scale (mark %d)", mark)
	}
	waitJS(2*time.Minute, "CPU and memory bars of 4 replicas", card+`.querySelectorAll('.bar').length >= 8`)
	screenshot("2-four-replicas")

	// demoapp's /health answers 503 after SIGUSR1: the replica turns
	// unhealthy, leaves the upstream and is replaced; until then the page
	// must mark it.
	sick := web + "-2"
	testenv.Docker(t, "kill", "-s", "USR1", sick)
	row := fmt.Sprintf(`document.querySelector('tr.replica[data-name=%q]')`, sick)
	// Marked to the eye, too: the row has a background of its own.
	waitJS(90*time.Second, sick+" marked unhealthy", row+` !== null && `+row+`.classList.contains('unhealthy') && `+row+`.dataset.upstream !== 'in'`+
		` && getComputedStyle(`+row+`).backgroundColor !== 'rgba(0, 0, 0, 0)'`)
	screenshot("3-unhealthy")

	// Nothing of the templates' env or command reaches the browser: the
	// Redis password is in both (the redis spec's command, web's env).
	html := cdp(t, ctx, 30*time.Second, "reading the page", chromedp.OuterHTML("html"))
	resp, err := http.Get("http://" + s.metricsAddr + "/dashboard/state")
	if err != nil {
		t.Fatal(err)
	}
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for what, body := range map[string]string{"the page": html, "/dashboard/state": string(state)} {
		if strings.Contains(body, s.redisPassword) {
			t.Errorf("%s holds the Redis password", what)
		}
		if !strings.Contains(body, web) {
			t.Errorf("%s does not name %s; the check for secrets looked at nothing", what, web)
		}
	}
	res := stop()
	t.Logf("load during the test: %d requests, %d failed", res.Requests, res.Failures)
}
