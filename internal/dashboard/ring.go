package dashboard

import "time"

// Point is one sample of the time plots: per spec, the replicas that ran
// and were ready, and the request rate where it could be read.
type Point struct {
	Time  time.Time             `json:"t"`
	Specs map[string]SpecSample `json:"specs"`
}

// SpecSample is one spec's numbers in a Point.
type SpecSample struct {
	Replicas int32 `json:"replicas"`
	Ready    int32 `json:"ready"`
	// RequestRate is requests per second since the previous sample; nil
	// when the counters could not be read.
	RequestRate *float64 `json:"rps,omitempty"`
}

// ring keeps the last cap points, oldest first, in a fixed array: the
// plots' 15 minutes cost the same memory after a day as after a minute.
// It is not safe for concurrent use; the hub guards it.
type ring struct {
	buf   []Point
	start int
	n     int
}

func newRing(capacity int) *ring {
	return &ring{buf: make([]Point, max(capacity, 1))}
}

// add appends p, dropping the oldest point when full.
func (r *ring) add(p Point) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = p
		r.n++
		return
	}
	r.buf[r.start] = p
	r.start = (r.start + 1) % len(r.buf)
}

// since returns the points at or after t, oldest first, as a new slice.
func (r *ring) since(t time.Time) []Point {
	out := make([]Point, 0, r.n)
	for i := range r.n {
		p := r.buf[(r.start+i)%len(r.buf)]
		if !p.Time.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

func (r *ring) len() int { return r.n }
