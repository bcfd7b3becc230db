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
	// healthy holds, until they are destroyed, the containers that were
	// ever reported healthy (by an event or a start probe), whether or not
	// a reconcile saw them so: crash-loop back-off forgives the death of a
	// replica that had been ready, and under a slow Engine one can turn
	// healthy and be killed while its spec's reconcile is busy creating.
	healthy map[string]bool
}

// maxHealthy bounds healthy should destroy events be lost; forgetting
// costs at most one death counted as a crash (see crashloop.go).
const maxHealthy = 4096

type seenState struct {
	exited bool
	health string // HealthHealthy, HealthUnhealthy, HealthStarting or ""
	at     time.Time
}

func newEventView() *eventView {
	return &eventView{byID: map[string]seenState{}, healthy: map[string]bool{}}
}

// noteHealthy remembers that container id was healthy once.
func (v *eventView) noteHealthy(id string) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.healthy) >= maxHealthy {
		v.healthy = map[string]bool{}
	}
	v.healthy[id] = true
}

// wasHealthy reports whether container id was ever reported healthy.
func (v *eventView) wasHealthy(id string) bool {
	if v == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.healthy[id]
}

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
		delete(v.healthy, ev.ContainerID)
		return
	case strings.HasPrefix(ev.Action, "health_status:"):
		switch h := strings.TrimSpace(strings.TrimPrefix(ev.Action, "health_status:")); h {
		case HealthHealthy, HealthUnhealthy, HealthStarting:
			s.health = h
			if h == HealthHealthy {
				if len(v.healthy) >= maxHealthy {
					v.healthy = map[string]bool{}
				}
				v.healthy[ev.ContainerID] = true
			}
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
