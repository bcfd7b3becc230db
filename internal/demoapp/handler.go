package demoapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// The header value is shared by every response: assigning the slice directly
// skips Header.Set's canonicalisation and allocation on the hot path.
var contentTypeJSON = []string{"application/json"}

// App serves demoapp's HTTP API. Everything about a response that does not
// change per request (message, served_by) is encoded once in New, so GET /
// only appends a number between two prebuilt byte slices.
type App struct {
	cfg     Config
	counter *breaker
	log     logr.Logger

	servedBy     []byte // {"hostname":...,"container_id":...,"instance":...}
	rootPrefix   []byte // {"message":...,"visits":
	rootSuffix   []byte // ,"served_by":{...}}\n
	rootDegraded []byte // the whole degraded response: visits null
	bufs         sync.Pool

	// failingHealth makes /health answer 503 while set; SIGUSR1 flips it
	// (see ToggleHealth), so that a replica can be made unhealthy from
	// outside without stopping it.
	failingHealth atomic.Bool

	// answers and degraded count the answers of GET / since the start, and
	// those of them served without Redis; /health reports both, so that a
	// controller sees a degraded replica that still answers 200.
	answers, degraded atomic.Int64
}

// ToggleHealth flips whether /health fails, and reports whether it fails
// now. It lets anyone watch a controller react to an unhealthy replica
// that still runs: `docker kill -s USR1 web-2` and back.
func (a *App) ToggleHealth() (failing bool) {
	for {
		old := a.failingHealth.Load()
		if a.failingHealth.CompareAndSwap(old, !old) {
			return !old
		}
	}
}

// New returns the app serving with counter as its store. The counter is
// wrapped in a breaker so that a failing store answers fast.
func New(cfg Config, counter Counter, log logr.Logger) *App {
	a := &App{cfg: cfg, counter: newBreaker(counter, breakerCooldown, log), log: log}
	a.servedBy = mustJSON(servedBy{Hostname: cfg.Hostname, ContainerID: cfg.ContainerID, Instance: cfg.InstanceName})
	message := mustJSON(cfg.Greeting)

	a.rootPrefix = append(append([]byte(`{"message":`), message...), `,"visits":`...)
	a.rootSuffix = append(append([]byte(`,"served_by":`), a.servedBy...), "}\n"...)
	a.rootDegraded = append(append([]byte(`{"message":`), message...), `,"visits":null,"degraded":true`...)
	a.rootDegraded = append(a.rootDegraded, a.rootSuffix...)
	a.bufs.New = func() any {
		b := make([]byte, 0, 512)
		return &b
	}
	return a
}

type servedBy struct {
	Hostname    string `json:"hostname"`
	ContainerID string `json:"container_id"`
	Instance    string `json:"instance"`
}

// ServeHTTP routes by exact path: five fixed routes need no pattern matching.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var handle func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case "/visits":
		// The one non-idempotent route: a proxy or a client that resends
		// it counts a visit twice, so a load that sends it shows whether
		// anything on the way resent a request.
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on /visits: use POST")
			return
		}
		a.serveRoot(w, r)
		return
	case "/":
		handle = a.serveRoot
	case "/health":
		handle = a.serveHealth
	case "/load-test":
		handle = a.serveLoadTest
	case "/slow":
		handle = a.serveSlow
	default:
		writeError(w, http.StatusNotFound, "no such path: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	handle(w, r)
}

// serveRoot counts a visit and answers with it; GET / and POST /visits
// share it, so both answer the same JSON, degraded (visits null) while the
// store is away.
func (a *App) serveRoot(w http.ResponseWriter, r *http.Request) {
	bp := a.bufs.Get().(*[]byte)
	body := (*bp)[:0]
	a.answers.Add(1)
	if visits, err := a.counter.CountVisit(r.Context()); err != nil {
		a.degraded.Add(1)
		body = append(body, a.rootDegraded...)
	} else {
		body = append(body, a.rootPrefix...)
		body = strconv.AppendInt(body, visits, 10)
		body = append(body, a.rootSuffix...)
	}
	w.Header()["Content-Type"] = contentTypeJSON
	_, _ = w.Write(body)
	*bp = body
	a.bufs.Put(bp)
}

// serveHealth answers 200 whenever the process can serve: a Redis outage
// degrades responses but must not take the replica out of the load balancer,
// or every replica would leave it at once.
func (a *App) serveHealth(w http.ResponseWriter, r *http.Request) {
	if a.failingHealth.Load() {
		writeError(w, http.StatusServiceUnavailable, "failing on purpose: SIGUSR1 turned health off; send it again to turn it back on")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 4*a.cfg.RedisTimeout)
	defer cancel()
	redis := "up"
	if err := a.counter.Ping(ctx); err != nil {
		redis = "down"
	}
	body := fmt.Appendf(nil, `{"status":"ok","redis":%q,"answers":%d,"degraded":%d}`+"\n", redis, a.answers.Load(), a.degraded.Load())
	w.Header()["Content-Type"] = contentTypeJSON
	_, _ = w.Write(body)
}

func (a *App) serveLoadTest(w http.ResponseWriter, r *http.Request) {
	iterations := a.cfg.LoadTestIterations
	if v := r.URL.Query().Get("iterations"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "iterations: "+strconv.Quote(v)+" is not a positive integer")
			return
		}
		iterations = min(n, a.cfg.MaxLoadTestIterations)
	}
	start := time.Now()
	result := burnCPU(iterations)
	elapsed := time.Since(start)

	body := append([]byte(`{"iterations":`), strconv.Itoa(iterations)...)
	body = append(body, `,"result":"`...)
	body = strconv.AppendUint(body, result, 16)
	body = append(body, `","elapsed_ms":`...)
	body = strconv.AppendFloat(body, float64(elapsed.Microseconds())/1000, 'f', 3, 64)
	body = append(body, `,"served_by":`...)
	body = append(body, a.servedBy...)
	body = append(body, "}\n"...)
	w.Header()["Content-Type"] = contentTypeJSON
	_, _ = w.Write(body)
}

// serveSlow holds a request open for ?ms= milliseconds, so that tests can
// have a request in flight while a replica is drained or stopped.
func (a *App) serveSlow(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("ms")
	ms, err := strconv.Atoi(v)
	if err != nil || ms < 0 {
		writeError(w, http.StatusBadRequest, "ms: "+strconv.Quote(v)+" is not a non-negative integer")
		return
	}
	sleep := min(time.Duration(ms)*time.Millisecond, a.cfg.MaxSlow)
	timer := time.NewTimer(sleep)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
		// The client left (or the server was closed): nobody reads an answer.
		return
	}
	body := append([]byte(`{"slept_ms":`), strconv.FormatInt(sleep.Milliseconds(), 10)...)
	body = append(body, `,"served_by":`...)
	body = append(body, a.servedBy...)
	body = append(body, "}\n"...)
	w.Header()["Content-Type"] = contentTypeJSON
	_, _ = w.Write(body)
}

// burnCPU runs a xorshift generator for n rounds. Its result is returned to
// the client, so the compiler cannot drop the loop.
func burnCPU(n int) uint64 {
	x := uint64(88172645463325252)
	var sum uint64
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sum += x
	}
	return sum
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	_, _ = w.Write(append(mustJSON(struct {
		Error string `json:"error"`
	}{msg}), '\n'))
}

// mustJSON encodes values whose encoding cannot fail (strings and structs of
// strings).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("demoapp: encoding " + err.Error())
	}
	return b
}
