package controllers

import "sync"

// maxParallelCalls bounds the goroutines one reconcile pass runs at once for
// Engine calls (creates, starts, stops and removes), the same number the
// Docker adapter lets into the Engine at once. Without it a pass over
// 30,000 replicas started 60,000 goroutines, which then all waited for the
// adapter's slots anyway.
const maxParallelCalls = 32

// limiter runs functions concurrently, at most n at a time; Go blocks while
// n run.
type limiter struct {
	sem chan struct{}
	wg  sync.WaitGroup
}

func newLimiter(n int) *limiter { return &limiter{sem: make(chan struct{}, n)} }

// Go runs f once fewer than n functions run.
func (l *limiter) Go(f func()) {
	l.sem <- struct{}{}
	l.wg.Add(1)
	go func() {
		defer func() {
			<-l.sem
			l.wg.Done()
		}()
		f()
	}()
}

// Wait returns once every function passed to Go has returned.
func (l *limiter) Wait() { l.wg.Wait() }
