package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"sort"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

// Capacity is a scale-up under a steady load through the load balancer,
// side by side for scaler and the tutorial's compose setup: how many
// replicas could serve, and how many did answer, over time (issue 16).
type Capacity struct {
	From     int           `json:"from"`
	To       int           `json:"to"`
	Settings string        `json:"settings"`
	Scaler   *CapacitySide `json:"scaler,omitempty"`
	Compose  *CapacitySide `json:"compose,omitempty"`
	// Plot is the PNG of both curves, relative to BENCHMARKS.md.
	Plot string `json:"plot,omitempty"`
}

// CapacitySide is one target's curves, in seconds from the request to
// scale.
type CapacitySide struct {
	// Ready is the replicas that could serve: in scaler's upstream, or
	// healthy for compose (whose nginx may still not know them).
	Ready []CurvePoint `json:"ready"`
	// Answering is the replicas that answered a request through the load
	// balancer in each half second.
	Answering []CurvePoint    `json:"answering"`
	Load      loadgen.Summary `json:"load"`
	Command   string          `json:"command"`
	Error     string          `json:"error,omitempty"`
}

// CurvePoint is a count at a time.
type CurvePoint struct {
	Seconds float64 `json:"s"`
	N       int     `json:"n"`
}

// AnsweringCurve counts, per half second from since, the distinct replicas
// that answered requests sent then.
func AnsweringCurve(samples []loadgen.Sample, since, until time.Time) []CurvePoint {
	const step = 500 * time.Millisecond
	var out []CurvePoint
	for at := since; at.Before(until); at = at.Add(step) {
		out = append(out, CurvePoint{Seconds: at.Add(step).Sub(since).Seconds(), N: len(Hosts(samples, at, at.Add(step)))})
	}
	return out
}

// Reached is the first time the curve reached n, or -1.
func Reached(curve []CurvePoint, n int) float64 {
	for _, p := range curve {
		if p.N >= n {
			return p.Seconds
		}
	}
	return -1
}

// capacityColors are the plot's lines: scaler ready, scaler answering,
// compose ready, compose answering.
var capacityColors = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0xff, 0x7f, 0x0e, 0xff},
}

// PlotCapacity draws both sides' curves into a PNG at path: replicas
// (0..To) against seconds, with a legend. Plain image/png and a bitmap
// font: no plotting library for four lines.
func PlotCapacity(path string, c *Capacity) error {
	const w, h, left, right, top, bottom = 760, 380, 50, 20, 20, 60
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	type line struct {
		label string
		curve []CurvePoint
	}
	var lines []line
	maxS := 1.0
	for _, side := range []struct {
		name string
		s    *CapacitySide
	}{{"scaler", c.Scaler}, {"compose", c.Compose}} {
		if side.s == nil {
			lines = append(lines, line{}, line{})
			continue
		}
		ready := "in the upstream"
		if side.name == "compose" {
			ready = "healthy"
		}
		lines = append(lines, line{side.name + ": " + ready, side.s.Ready}, line{side.name + ": answering", side.s.Answering})
		for _, p := range append(side.s.Ready, side.s.Answering...) {
			maxS = max(maxS, p.Seconds)
		}
	}
	maxN := max(c.To, 1)
	x := func(s float64) int { return left + int(s/maxS*float64(w-left-right)) }
	y := func(n int) int { return h - bottom - int(float64(n)/float64(maxN)*float64(h-top-bottom)) }
	grey, black := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}, color.RGBA{0, 0, 0, 0xff}
	for n := 0; n <= maxN; n += max(1, maxN/4) {
		hline(img, left, w-right, y(n), grey)
		text(img, 8, y(n)+4, fmt.Sprint(n), black)
	}
	stepS := niceStep(maxS)
	for s := 0.0; s <= maxS; s += stepS {
		vline(img, x(s), top, h-bottom, grey)
		text(img, x(s)-6, h-bottom+16, fmt.Sprintf("%gs", s), black)
	}
	hline(img, left, w-right, h-bottom, black)
	vline(img, left, top, h-bottom, black)
	for i, l := range lines {
		if l.curve == nil {
			continue
		}
		pts := append([]CurvePoint(nil), l.curve...)
		sort.Slice(pts, func(a, b int) bool { return pts[a].Seconds < pts[b].Seconds })
		if len(pts) == 0 {
			continue
		}
		px, py := x(0), y(pts[0].N)
		for _, p := range pts {
			nx, ny := x(p.Seconds), y(p.N)
			// Steps: a count holds until it changes.
			hline(img, px, nx, py, capacityColors[i])
			vline(img, nx, py, ny, capacityColors[i])
			px, py = nx, ny
		}
		lx, ly := left+10+(i%2)*300, h-bottom+32+(i/2)*14
		hline(img, lx, lx+20, ly-4, capacityColors[i])
		hline(img, lx, lx+20, ly-3, capacityColors[i])
		text(img, lx+26, ly, l.label, black)
	}
	text(img, left+4, top-6, fmt.Sprintf("replicas, scale %d -> %d under load", c.From, c.To), black)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func niceStep(maxS float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 20, 30, 60} {
		if maxS/s <= 10 {
			return s
		}
	}
	return 120
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for py := r.Min.Y; py < r.Max.Y; py++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			img.SetRGBA(px, py, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	for px := x0; px <= x1; px++ {
		img.SetRGBA(px, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for py := y0; py <= y1; py++ {
		img.SetRGBA(x, py, c)
	}
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
