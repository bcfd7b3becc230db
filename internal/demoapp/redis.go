package demoapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
)

// Redis keys, as in the tutorial: one global counter and one per instance, so
// that `redis-cli mget requests:*` shows how the load was spread.
const (
	visitsKey         = "visits"
	requestsKeyPrefix = "requests:"
)

// errCounterClosed is what a visit waiting on a closed RedisCounter gets.
var errCounterClosed = errors.New("redis counter closed")

// RedisCounter is the Counter backed by a Redis server.
//
// Visits are group-committed: the visits that arrive while a round trip to
// Redis is in flight are counted together by the next one, as one pipeline
// of INCRBY visits N and INCRBY requests:<instance> N. Each visit still gets
// its own number (the batch's share of the range INCRBY returns), but under
// load Redis sees one round trip per batch instead of one per request, which
// is what lets a replica serve well over 10k req/s on two cores. With no
// concurrency a batch is a single visit and this is a plain pipeline.
type RedisCounter struct {
	client      *redis.Client
	requestsKey string

	mu      sync.Mutex
	pending *visitBatch // visits waiting for the next round trip

	wake chan struct{} // capacity 1: "pending may be non-empty"
	stop chan struct{}
	done chan struct{}
}

// visitBatch is the visits counted by one round trip. size is final once the
// flusher has taken the batch; visits and err are set before done closes.
type visitBatch struct {
	size   int64
	done   chan struct{}
	visits int64 // the visits counter after this batch
	err    error
}

// NewRedisCounter counts the visits of instance in the Redis server at addr,
// authenticating with password unless it is empty. It connects lazily: the
// pool dials on first use, so demoapp starts (and serves degraded) even
// when Redis is not up yet. Close stops it.
func NewRedisCounter(addr, password, instance string, timeout time.Duration) *RedisCounter {
	client := redis.NewClient(&redis.Options{
		Addr:     addr,
		Password: password,
		// Every wait is bounded by timeout, and nothing is retried: a retry
		// would multiply the latency a down Redis adds to a request, and the
		// breaker retries on the next request anyway.
		DialTimeout:   timeout,
		DialerRetries: 1,
		ReadTimeout:   timeout,
		WriteTimeout:  timeout,
		PoolTimeout:   timeout,
		MaxRetries:    -1,
		// CLIENT SETINFO is noise in Redis logs and one more round trip per dial.
		DisableIdentity: true,
	})
	c := &RedisCounter{
		client:      client,
		requestsKey: requestsKeyPrefix + instance,
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	go c.flushLoop()
	return c
}

// CountVisit joins the pending batch and waits for its round trip.
func (c *RedisCounter) CountVisit(ctx context.Context) (int64, error) {
	c.mu.Lock()
	b := c.pending
	if b == nil {
		b = &visitBatch{done: make(chan struct{})}
		c.pending = b
	}
	b.size++
	seq := b.size
	c.mu.Unlock()

	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is already due; it will take this batch
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, errCounterClosed
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.visits - b.size + seq, nil
}

// flushLoop runs one round trip at a time: while it is in flight, the next
// batch grows.
func (c *RedisCounter) flushLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			c.mu.Lock()
			b := c.pending
			c.pending = nil
			c.mu.Unlock()
			if b != nil {
				b.err = errCounterClosed
				close(b.done)
			}
			return
		case <-c.wake:
		}
		c.mu.Lock()
		b := c.pending
		c.pending = nil
		c.mu.Unlock()
		if b == nil {
			continue
		}
		b.visits, b.err = c.incrBy(b.size)
		close(b.done)
	}
}

// incrBy pipelines both increments, so a batch costs one round trip.
func (c *RedisCounter) incrBy(n int64) (int64, error) {
	ctx := context.Background() // bounded by the client's read and write timeouts
	pipe := c.client.Pipeline()
	visits := pipe.IncrBy(ctx, visitsKey, n)
	pipe.IncrBy(ctx, c.requestsKey, n)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redis incrby: %w", err)
	}
	return visits.Val(), nil
}

// Ping checks that Redis answers.
func (c *RedisCounter) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Close stops counting (a visit still waiting fails) and releases the
// connection pool.
func (c *RedisCounter) Close() error {
	close(c.stop)
	<-c.done
	return c.client.Close()
}

// redisLogger sends go-redis's own log lines (one per failed dial) to the
// app's logger at V(1): the breaker already logs an outage once, and a
// line per request would flood the container log under load.
type redisLogger struct{ log logr.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.V(1).Info("go-redis", "message", fmt.Sprintf(format, v...))
}
