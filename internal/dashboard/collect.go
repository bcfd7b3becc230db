package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// readTimeout bounds one reading of the state: a hung Engine shows as an
// error on the page instead of a page that stops moving.
const readTimeout = 5 * time.Second

// usage is the last CPU, memory and requests sample, with the request
// rates computed from it and the sample before.
type usage struct {
	mu      sync.Mutex
	at      time.Time
	reports map[string]controlapi.TopReport
	rates   map[string]*float64
	// counts are the previous sample's requests:<replica> counters.
	counts map[string]map[string]int64
}

// collect runs while at least one browser watches: it reads the state
// every Interval and sends it when it changed, samples usage every
// UsageInterval, and adds a plot point every PointInterval.
func (d *Dashboard) collect(ctx context.Context) {
	d.running.Add(2)
	defer d.running.Add(-1)
	u := &usage{}
	go func() {
		defer d.running.Add(-1)
		d.sampleUsage(ctx, u)
	}()
	tick := time.NewTicker(d.opts.Interval)
	defer tick.Stop()
	lastPoint := time.Time{}
	for {
		st := d.read(ctx, u)
		if ctx.Err() != nil {
			return
		}
		if msg, err := sseMessage("state", st); err == nil {
			d.hub.publishState(msg)
		}
		if now := time.Now(); now.Sub(lastPoint) >= d.opts.PointInterval-d.opts.Interval/2 {
			lastPoint = now
			p := point(now, st)
			if msg, err := sseMessage("point", p); err == nil {
				d.hub.publishPoint(p, msg)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// read builds the page's state; u may be nil (no usage yet).
func (d *Dashboard) read(ctx context.Context, u *usage) State {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	st := State{Specs: []SpecView{}, Events: []EventView{}}
	specs, err := d.src.List(ctx)
	if err != nil {
		st.Error = fmt.Sprintf("listing specs: %v", err)
		return st
	}
	events, err := d.src.Events(ctx, "")
	if err != nil {
		st.Error = fmt.Sprintf("reading events: %v", err)
	}
	bySpec := map[string][]v1alpha1.Event{}
	for _, e := range events {
		bySpec[e.Spec] = append(bySpec[e.Spec], e)
	}
	var reports map[string]controlapi.TopReport
	var rates map[string]*float64
	if u != nil {
		u.mu.Lock()
		reports, rates, st.UsageTime = u.reports, u.rates, u.at
		u.mu.Unlock()
	}
	for _, s := range specs {
		reps, err := d.src.Replicas(ctx, s.Metadata.Name)
		if err != nil && st.Error == "" {
			st.Error = fmt.Sprintf("listing replicas of %s: %v", s.Metadata.Name, err)
		}
		v := specView(s, reps, bySpec[s.Metadata.Name])
		if rep, ok := reports[s.Metadata.Name]; ok {
			addUsage(&v, rep, rates[s.Metadata.Name])
		}
		st.Specs = append(st.Specs, v)
	}
	st.Events = latestEvents(events)
	return st
}

// sampleUsage samples CPU, memory and requests, as `scalectl top` does,
// pausing UsageInterval between two samples.
func (d *Dashboard) sampleUsage(ctx context.Context, u *usage) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reports, err := d.src.Top(sctx, "", controlapi.TopOptions{})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.opts.Log.V(1).Info("sampling usage for the dashboard", "error", err.Error())
		} else {
			u.update(time.Now(), reports)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.opts.UsageInterval):
		}
	}
}

// update keeps a sample, and computes each spec's request rate from the
// counters of the replicas in this sample and the one before. A replica
// new since then is left out of that rate: its counter may go on from a
// predecessor of the same name.
func (u *usage) update(now time.Time, reports []controlapi.TopReport) {
	u.mu.Lock()
	defer u.mu.Unlock()
	dt := now.Sub(u.at).Seconds()
	byName := make(map[string]controlapi.TopReport, len(reports))
	rates := map[string]*float64{}
	counts := map[string]map[string]int64{}
	for _, r := range reports {
		byName[r.Spec] = r
		if r.RequestsUnknown != "" {
			continue
		}
		cur := map[string]int64{}
		for _, rep := range r.Replicas {
			if rep.Requests != nil {
				cur[rep.Name] = *rep.Requests
			}
		}
		counts[r.Spec] = cur
		prev, ok := u.counts[r.Spec]
		if !ok || dt <= 0 {
			continue
		}
		var served int64
		for name, n := range cur {
			if p, ok := prev[name]; ok && n >= p {
				served += n - p
			}
		}
		rate := float64(served) / dt
		rates[r.Spec] = &rate
	}
	u.at, u.reports, u.rates, u.counts = now, byName, rates, counts
}

// point is a plot point of a state.
func point(now time.Time, st State) Point {
	p := Point{Time: now.UTC().Truncate(time.Millisecond), Specs: make(map[string]SpecSample, len(st.Specs))}
	for _, s := range st.Specs {
		p.Specs[s.Name] = SpecSample{Replicas: s.Replicas, Ready: s.Ready, RequestRate: s.RequestRate}
	}
	return p
}

// sseMessage encodes one server-sent event.
func sseMessage(event string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(b)+len(event)+16)
	msg = append(msg, "event: "...)
	msg = append(msg, event...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, b...)
	return append(msg, "\n\n"...), nil
}
