package dashboard

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errTooManyClients is what one browser more than MaxClients gets.
var errTooManyClients = errors.New("too many dashboard clients")

// clientBuffer is how many messages may wait for a slow browser before it
// is dropped; it reconnects by itself (EventSource) and gets the whole
// state again, so dropping loses nothing but costs nothing to the others.
const clientBuffer = 32

// client is one connected browser.
type client struct {
	ch chan []byte
	// dropped is closed when the hub gave up on a browser too slow to read.
	dropped chan struct{}
}

// hub holds the connected browsers, starts the collector with the first
// and stops it with the last, and keeps the latest state and the plot
// points for the next browser to connect.
type hub struct {
	opts    Options
	collect func(ctx context.Context)

	mu    sync.Mutex
	subs  map[*client]struct{}
	stop  context.CancelFunc // non-nil while the collector runs
	state []byte             // the last state message sent
	ring  *ring
}

func newHub(opts Options, collect func(ctx context.Context)) *hub {
	return &hub{opts: opts, collect: collect, subs: map[*client]struct{}{},
		ring: newRing(int(opts.Window / opts.PointInterval))}
}

// join adds a browser and returns it with what it must be sent first: the
// plot points so far and the latest state, if any.
func (h *hub) join() (*client, []Point, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.opts.MaxClients {
		return nil, nil, nil, errTooManyClients
	}
	c := &client{ch: make(chan []byte, clientBuffer), dropped: make(chan struct{})}
	h.subs[c] = struct{}{}
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop = cancel
		h.state = nil // stale: the collector sends a fresh one at once
		go h.collect(ctx)
	}
	return c, h.ring.since(time.Now().Add(-h.opts.Window)), h.state, nil
}

// leave removes a browser, and stops the collector after the last.
func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, c)
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// publishState sends a state message to every browser, unless it is the
// same as the last one sent.
func (h *hub) publishState(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if string(msg) == string(h.state) {
		return
	}
	h.state = msg
	h.sendLocked(msg)
}

// publishPoint keeps a plot point and sends it to every browser.
func (h *hub) publishPoint(p Point, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring.add(p)
	h.sendLocked(msg)
}

func (h *hub) sendLocked(msg []byte) {
	for c := range h.subs {
		select {
		case c.ch <- msg:
		default:
			delete(h.subs, c)
			close(c.dropped)
		}
	}
}

func (h *hub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) collecting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stop != nil
}

func (h *hub) points() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ring.len()
}
