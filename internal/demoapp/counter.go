package demoapp

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// ErrCounterUnavailable is returned without calling the store while the
// breaker is open after a failure: a Redis outage then costs requests
// nothing instead of a timeout each.
var ErrCounterUnavailable = errors.New("visit counter unavailable")

// Counter is the app's view of its store. The Redis implementation is the
// real one; tests use an in-memory fake.
type Counter interface {
	// CountVisit increments the global visits counter and this instance's
	// requests:<instance> counter in one round trip, and returns the number
	// of this visit.
	CountVisit(ctx context.Context) (visits int64, err error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// breakerCooldown is how long a failed store is left alone before requests
// try it again. Short, so that recovery is seen within a second.
const breakerCooldown = 500 * time.Millisecond

// breaker wraps a Counter so that after a failure calls fail fast for a
// cool-down period, then go through again. It logs only transitions, so a
// Redis outage under load yields two log lines, not one per request.
type breaker struct {
	next     Counter
	cooldown time.Duration
	now      func() time.Time
	log      logr.Logger

	openUntil atomic.Int64 // unix nanoseconds; zero when closed
	down      atomic.Bool
}

func newBreaker(next Counter, cooldown time.Duration, log logr.Logger) *breaker {
	return &breaker{next: next, cooldown: cooldown, now: time.Now, log: log}
}

func (b *breaker) CountVisit(ctx context.Context) (int64, error) {
	if b.isOpen() {
		return 0, ErrCounterUnavailable
	}
	visits, err := b.next.CountVisit(ctx)
	b.record(ctx, err)
	return visits, err
}

func (b *breaker) Ping(ctx context.Context) error {
	if b.isOpen() {
		return ErrCounterUnavailable
	}
	err := b.next.Ping(ctx)
	b.record(ctx, err)
	return err
}

func (b *breaker) isOpen() bool {
	until := b.openUntil.Load()
	return until != 0 && b.now().UnixNano() < until
}

// record updates the breaker with the outcome of a call made with ctx. A
// call whose own context ended (the client went away) says nothing about
// the store: counting it would degrade every other request for a cool-down.
func (b *breaker) record(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	if err == nil {
		if b.openUntil.Load() != 0 {
			b.openUntil.Store(0)
		}
		if b.down.CompareAndSwap(true, false) {
			b.log.Info("redis is back: counting visits again")
		}
		return
	}
	b.openUntil.Store(b.now().Add(b.cooldown).UnixNano())
	if b.down.CompareAndSwap(false, true) {
		b.log.Error(err, "redis unavailable: serving degraded responses", "retryEvery", b.cooldown.String())
	}
}
