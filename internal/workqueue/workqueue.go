// Package workqueue is a work queue of string keys in the manner of
// client-go's: a key is processed by one worker at a time, a key added
// while queued is queued once, a key added while processing is queued again
// after it is done, and failed keys come back with exponential back-off.
package workqueue

import (
	"sync"
	"time"
)

// Queue holds keys waiting to be reconciled.
type Queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	queue      []string
	dirty      map[string]bool
	processing map[string]bool
	failures   map[string]int
	timers     map[string]pendingAdd
	shutdown   bool

	baseDelay, maxDelay time.Duration
}

// New returns a queue whose back-off starts at baseDelay and doubles up to
// maxDelay.
func New(baseDelay, maxDelay time.Duration) *Queue {
	q := &Queue{
		dirty:      map[string]bool{},
		processing: map[string]bool{},
		failures:   map[string]int{},
		timers:     map[string]pendingAdd{},
		baseDelay:  baseDelay,
		maxDelay:   maxDelay,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key now.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return // Done queues it again
	}
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

// AddAfter queues key after delay. An earlier pending AddAfter of the same
// key wins, so a short wait is never pushed back by a longer one.
func (q *Queue) AddAfter(key string, delay time.Duration) {
	if delay <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(delay)
	if p, ok := q.timers[key]; ok {
		if !p.at.After(at) {
			return
		}
		p.timer.Stop()
	}
	var timer *time.Timer
	timer = time.AfterFunc(delay, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if p, ok := q.timers[key]; ok && p.timer == timer {
			delete(q.timers, key)
		}
		q.addLocked(key)
	})
	q.timers[key] = pendingAdd{at: at, timer: timer}
}

// pendingAdd is a delayed Add not yet fired.
type pendingAdd struct {
	at    time.Time
	timer *time.Timer
}

// AddRateLimited queues key after its back-off, which doubles with each
// failure since the last Forget.
func (q *Queue) AddRateLimited(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	q.AddAfter(key, q.backoff(n))
}

func (q *Queue) backoff(failures int) time.Duration {
	d := q.baseDelay
	for i := 0; i < failures && d < q.maxDelay; i++ {
		d *= 2
	}
	return min(d, q.maxDelay)
}

// Forget clears key's failure count after a success.
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// Failures returns how often key failed since it was last forgotten.
func (q *Queue) Failures(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Get blocks until a key is ready and marks it processing; ok is false once
// the queue is shut down.
func (q *Queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key, q.queue = q.queue[0], q.queue[1:]
	delete(q.dirty, key)
	q.processing[key] = true
	return key, true
}

// Done marks key processed, queueing it again if it was added meanwhile.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] && !q.shutdown {
		q.queue = append(q.queue, key)
		q.cond.Signal()
	}
}

// Len is the number of keys waiting (not processing, not delayed).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown wakes every Get, which then returns ok=false, and stops timers.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for _, p := range q.timers {
		p.timer.Stop()
	}
	q.cond.Broadcast()
}
