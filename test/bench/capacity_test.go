package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

func TestCapacityCurvesAndPlot(t *testing.T) {
	t0 := time.Unix(1000, 0)
	sample := func(ms int, host string) loadgen.Sample {
		return loadgen.Sample{Start: t0.Add(time.Duration(ms) * time.Millisecond), Host: host}
	}
	samples := []loadgen.Sample{sample(100, "web-1"), sample(200, "web-1"), sample(600, "web-1"), sample(700, "web-2"), sample(1200, "web-3"),
		{Start: t0.Add(1300 * time.Millisecond), Host: "web-4", Kind: "timeout"}}
	got := AnsweringCurve(samples, t0, t0.Add(1500*time.Millisecond))
	want := []CurvePoint{{0.5, 1}, {1, 2}, {1.5, 1}}
	if len(got) != len(want) {
		t.Fatalf("AnsweringCurve = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("AnsweringCurve = %v, want %v (a failed request answers nothing)", got, want)
		}
	}
	if s := Reached(got, 2); s != 1 {
		t.Errorf("Reached(2) = %v, want 1", s)
	}
	if s := Reached(got, 3); s != -1 {
		t.Errorf("Reached(3) = %v, want -1", s)
	}

	c := &Capacity{From: 1, To: 20, Settings: "test",
		Scaler:  &CapacitySide{Ready: []CurvePoint{{0.1, 1}, {1.2, 5}, {4, 20}}, Answering: got, Command: "save", Load: loadgen.Summary{Requests: 10}},
		Compose: &CapacitySide{Ready: []CurvePoint{{0.1, 1}, {9, 20}}, Answering: []CurvePoint{{0.5, 1}, {9, 1}}, Command: "up"}}
	path := filepath.Join(t.TempDir(), "capacity.png")
	if err := PlotCapacity(path, c); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the plot is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("plot of %v", b)
	}
	c.Plot = "docs/capacity.png"
	md := (&Report{Capacity: c}).Markdown()
	for _, w := range []string{"#### 6. Capacity while scaling 1 → 20", "| scaler (`save`) | 10 | 0 | 1.2 s / 4.0 s / 4.0 s |", "| compose (`up`) |", "never", "![replicas ready and answering"} {
		if !strings.Contains(md, w) {
			t.Errorf("report lacks %q:\n%s", w, md)
		}
	}
}
