package controllers

import (
	"strings"
	"sync"
	"time"
)

// eventViewTTL bounds how long an event outranks the Engine's list. The
// list catches up within tens or hundreds of milliseconds; the margin
// covers a busy Engine.
const eventViewTTL = 5 * time.Second

// eventView remembers what the Engine's events said of each container in
// the last few seconds, to be laid over a container list.
//
// The Engine sends an event the moment a container dies or its health
// changes, but its container list can go on showing the old state for a
// few hundred milliseconds (measured: a "die" while the list still says
// running). A reconcile started by the event would then see nothing to do
// and the dead replica would stay in the upstream until a later look. Laid
// over the list, the view lets that first reconcile act.
//
// Only changes that are safe to believe early are kept: a death (a
// replica's container is never started again after it dies; scalerd sets
// no restart policy) and a health verdict, which the Engine reports only
// on a change. A start is left to the list, which alone knows whether the
// container has a health check and an address.
type eventView struct {
	mu   sync.Mutex
	byID map[string]seenState
}

type seenState struct {
	exited bool
	health string // HealthHealthy, HealthUnhealthy, HealthStarting or ""
	at     time.Time
}

func newEventView() *eventView { return &eventView{byID: map[string]seenState{}} }

// record takes in one event, received at now.
func (v *eventView) record(ev Event, now time.Time) {
	if v == nil || ev.ContainerID == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.byID[ev.ContainerID]
	switch {
	case ev.Action == "die":
		s.exited, s.health = true, ""
	case ev.Action == "destroy":
		delete(v.byID, ev.ContainerID)
		return
	case strings.HasPrefix(ev.Action, "health_status:"):
		switch h := strings.TrimSpace(strings.TrimPrefix(ev.Action, "health_status:")); h {
		case HealthHealthy, HealthUnhealthy, HealthStarting:
			s.health = h
		default:
			return
		}
	default:
		return
	}
	s.at = now
	v.byID[ev.ContainerID] = s
	// Drop what has expired, so that the map stays as small as the
	// recent events.
	for id, old := range v.byID {
		if now.Sub(old.at) > eventViewTTL {
			delete(v.byID, id)
		}
	}
}

// forget drops everything: after the event stream broke, events may have
// been missed and only the list is to be trusted.
func (v *eventView) forget() {
	if v == nil {
		return
	}
	v.mu.Lock()
	v.byID = map[string]seenState{}
	v.mu.Unlock()
}

// overlay corrects cs in place with the events of the last eventViewTTL.
func (v *eventView) overlay(cs []Container, now time.Time) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.byID) == 0 {
		return
	}
	for i := range cs {
		s, ok := v.byID[cs[i].ID]
		if !ok || now.Sub(s.at) > eventViewTTL {
			continue
		}
		c := &cs[i]
		switch {
		case s.exited:
			if c.State == StateRunning || c.State == StateCreated {
				// As the list shows a stopped container: no health,
				// no address.
				c.State, c.Health, c.IPs = StateExited, HealthNone, nil
			}
		case s.health != "" && c.State == StateRunning:
			c.Health = s.health
		}
	}
}
