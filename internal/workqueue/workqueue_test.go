package workqueue

import (
	"testing"
	"time"
)

func TestAddDeduplicatesQueuedKeys(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if got := q.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
}

func TestKeyAddedWhileProcessingIsQueuedAfterDone(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	q.Add("a")
	key, _ := q.Get()
	q.Add("a")
	if q.Len() != 0 {
		t.Fatal("a key being processed must not be handed to a second worker")
	}
	q.Done(key)
	if q.Len() != 1 {
		t.Fatal("a key added during processing must be queued again after Done")
	}
}

func TestAddAfterKeepsTheEarliestDeadline(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	q.AddAfter("a", time.Hour)
	q.AddAfter("a", 10*time.Millisecond)
	done := make(chan string)
	go func() { k, _ := q.Get(); done <- k }()
	select {
	case k := <-done:
		if k != "a" {
			t.Fatalf("got %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the shorter AddAfter did not fire; the hour-long one replaced it")
	}
	q.ShutDown()
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	q := New(10*time.Millisecond, 50*time.Millisecond)
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, w := range want {
		if got := q.backoff(i); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	q.AddRateLimited("a")
	q.AddRateLimited("a")
	if q.Failures("a") != 2 {
		t.Fatalf("Failures = %d, want 2", q.Failures("a"))
	}
	q.Forget("a")
	if q.Failures("a") != 0 {
		t.Fatal("Forget must reset the failure count")
	}
}

func TestShutDownReleasesGet(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	done := make(chan bool)
	go func() { _, ok := q.Get(); done <- ok }()
	q.ShutDown()
	if ok := <-done; ok {
		t.Fatal("Get after ShutDown must report ok=false")
	}
}
