// Package engineproxy is a unix-socket proxy in front of the Docker Engine
// that a test can tell to stop answering (Hang), answer again (Resume) or
// drop every connection (Cut), to produce on the real Engine the faults a
// real dockerd shows only by accident: a hung daemon, a broken event
// stream. scalerd is pointed at it with DOCKER_HOST.
package engineproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Proxy forwards every connection on its socket to the Engine's socket,
// bytes as they come, so that it is transparent to HTTP, streams and
// hijacked exec connections alike.
type Proxy struct {
	path   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	gate   chan struct{} // non-nil while hung: bytes wait for it to close
	conns  map[net.Conn]struct{}
	closed chan struct{}
	wg     sync.WaitGroup
}

// Start listens on a socket in a new private directory and forwards to the
// Engine that DOCKER_HOST names (a unix socket), else /var/run/docker.sock.
// The proxy stops with the test.
func Start(t testing.TB) *Proxy {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if !strings.HasPrefix(h, "unix://") {
			t.Fatalf("engineproxy: DOCKER_HOST %s is not a unix socket; the proxy forwards to one", h)
		}
		target = strings.TrimPrefix(h, "unix://")
	}
	// A short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "scaler-proxy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &Proxy{path: filepath.Join(dir, "engine.sock"), target: target, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.ln, err = net.Listen("unix", p.path)
	if err != nil {
		t.Fatalf("engineproxy: %v", err)
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Host is the DOCKER_HOST value that reaches the Engine through the proxy.
func (p *Proxy) Host() string { return "unix://" + p.path }

// Hang makes the proxy stop passing bytes, both ways, on every connection,
// open or new: to its clients the Engine accepts connections and requests
// but never answers, as a wedged dockerd does.
func (p *Proxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

// Resume passes bytes again, those held while hung first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// Cut closes every open connection, as an Engine restart does; new ones
// are served.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return
	default:
	}
	close(p.closed)
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	engine, err := net.Dial("unix", p.target)
	if err != nil {
		return
	}
	if !p.track(engine) {
		return
	}
	defer p.untrack(engine)
	done := make(chan struct{}, 2)
	go func() { p.pipe(engine, client); done <- struct{}{} }()
	go func() { p.pipe(client, engine); done <- struct{}{} }()
	<-done
	<-done
}

// pipe copies src to dst, holding each chunk while the proxy hangs, and
// passes on a half-close (an exec's end of stdin).
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
					return
				}
			}
			dst.Close()
			return
		}
	}
}

// wait returns once the proxy is not hung, or false when it closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate == nil {
		return true
	}
	select {
	case <-gate:
		return true
	case <-p.closed:
		return false
	}
}
