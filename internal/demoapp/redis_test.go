package demoapp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipelineOnlyRedis speaks just enough RESP for RedisCounter, and answers
// increments only in pairs: a client that waited for the first reply before
// sending the second increment (two round trips) would time out against it.
type pipelineOnlyRedis struct {
	ln         net.Listener
	replyDelay time.Duration
	mu         sync.Mutex
	counts     map[string]int64
	roundTrips int
}

func startPipelineOnlyRedis(t *testing.T, replyDelay time.Duration) *pipelineOnlyRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pipelineOnlyRedis{ln: ln, replyDelay: replyDelay, counts: map[string]int64{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *pipelineOnlyRedis) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	type incr struct {
		key string
		by  int64
	}
	var pending []incr
	for {
		args, err := readRESPArray(r)
		if err != nil {
			return
		}
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			// As a Redis 5 would: the client falls back to RESP2.
			fmt.Fprint(conn, "-ERR unknown command 'HELLO'\r\n")
			continue
		case "INCR":
			pending = append(pending, incr{args[1], 1})
		case "INCRBY":
			by, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				return
			}
			pending = append(pending, incr{args[1], by})
		default:
			fmt.Fprint(conn, "+OK\r\n")
			continue
		}
		if len(pending) < 2 {
			continue
		}
		time.Sleep(s.replyDelay)
		s.mu.Lock()
		var reply strings.Builder
		for _, in := range pending {
			s.counts[in.key] += in.by
			fmt.Fprintf(&reply, ":%d\r\n", s.counts[in.key])
		}
		s.roundTrips++
		s.mu.Unlock()
		pending = pending[:0]
		io.WriteString(conn, reply.String())
	}
}

func readRESPArray(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, n)
	for range n {
		if _, err := r.ReadString('\n'); err != nil { // $<len>
			return nil, err
		}
		arg, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		args = append(args, strings.TrimSuffix(arg, "\r\n"))
	}
	return args, nil
}

func TestRedisCounterPipelinesBothIncrs(t *testing.T) {
	srv := startPipelineOnlyRedis(t, 0)
	c := NewRedisCounter(srv.ln.Addr().String(), "", "web-1", 500*time.Millisecond)
	defer c.Close()

	for want := int64(1); want <= 3; want++ {
		got, err := c.CountVisit(context.Background())
		if err != nil {
			t.Fatalf("CountVisit: %v (both increments must go in one round trip)", err)
		}
		if got != want {
			t.Errorf("CountVisit = %d, want %d", got, want)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.counts["visits"] != 3 || srv.counts["requests:web-1"] != 3 {
		t.Errorf("server counters = %v, want visits and requests:web-1 at 3", srv.counts)
	}
}

// Concurrent visits share round trips, and each still gets its own number.
func TestRedisCounterBatchesConcurrentVisits(t *testing.T) {
	srv := startPipelineOnlyRedis(t, 20*time.Millisecond)
	c := NewRedisCounter(srv.ln.Addr().String(), "", "web-1", time.Second)
	defer c.Close()

	const visits = 200
	got := make([]int64, visits)
	errs := make([]error, visits)
	var wg sync.WaitGroup
	for i := range visits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = c.CountVisit(context.Background())
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, v := range got {
		if errs[i] != nil {
			t.Fatalf("CountVisit: %v", errs[i])
		}
		if v < 1 || v > visits || seen[v] {
			t.Errorf("visit number %d is out of 1..%d or given twice", v, visits)
		}
		seen[v] = true
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.counts["visits"] != visits || srv.counts["requests:web-1"] != visits {
		t.Errorf("server counters = %v, want both at %d", srv.counts, visits)
	}
	if srv.roundTrips > visits/10 {
		t.Errorf("%d round trips for %d concurrent visits: not batched", srv.roundTrips, visits)
	}
	t.Logf("%d visits in %d round trips", visits, srv.roundTrips)
}

// A Redis that accepts connections but never answers must cost a request no
// more than the configured timeouts.
func TestRedisCounterDoesNotHangOnSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	c := NewRedisCounter(ln.Addr().String(), "", "web-1", 200*time.Millisecond)
	defer c.Close()
	start := time.Now()
	if _, err := c.CountVisit(context.Background()); err == nil {
		t.Fatal("CountVisit against a silent server succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("CountVisit took %s against a silent server, want about 200ms", took)
	}
}

func TestRedisCounterFailsFastWhenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	c := NewRedisCounter(addr, "", "web-1", 200*time.Millisecond)
	defer c.Close()
	start := time.Now()
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Ping took %s against a closed port", took)
	}
}

// authRedis answers like a Redis started with --requirepass: every command
// but AUTH (and HELLO, refused as by Redis 5, so that the client falls back
// to AUTH) gets NOAUTH until the connection authenticated with password.
type authRedis struct {
	ln       net.Listener
	password string
	mu       sync.Mutex
	visits   int64
	authOK   int
	authBad  int
}

func startAuthRedis(t *testing.T, password string) *authRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &authRedis{ln: ln, password: password}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *authRedis) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	authed := false
	for {
		args, err := readRESPArray(r)
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(args[0]); {
		case cmd == "HELLO":
			fmt.Fprint(conn, "-ERR unknown command 'HELLO'\r\n")
		case cmd == "AUTH":
			s.mu.Lock()
			// AUTH password, or AUTH default password (Redis 6 ACL form).
			if args[len(args)-1] == s.password && len(args) <= 3 {
				authed = true
				s.authOK++
				fmt.Fprint(conn, "+OK\r\n")
			} else {
				s.authBad++
				fmt.Fprint(conn, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
			}
			s.mu.Unlock()
		case !authed:
			fmt.Fprint(conn, "-NOAUTH Authentication required.\r\n")
		case cmd == "INCRBY":
			by, _ := strconv.ParseInt(args[2], 10, 64)
			s.mu.Lock()
			if args[1] == "visits" {
				s.visits += by
			}
			fmt.Fprintf(conn, ":%d\r\n", s.visits)
			s.mu.Unlock()
		case cmd == "PING":
			fmt.Fprint(conn, "+PONG\r\n")
		default:
			fmt.Fprint(conn, "+OK\r\n")
		}
	}
}

// With REDIS_PASSWORD, demoapp authenticates before counting; without it,
// or with a wrong one, a Redis that requires a password refuses it and the
// visit fails (the handler then answers degraded).
func TestRedisCounterAuthenticatesWithPassword(t *testing.T) {
	srv := startAuthRedis(t, "s3cret")

	c := NewRedisCounter(srv.ln.Addr().String(), "s3cret", "web-1", time.Second)
	defer c.Close()
	for want := int64(1); want <= 2; want++ {
		got, err := c.CountVisit(context.Background())
		if err != nil || got != want {
			t.Fatalf("CountVisit with the password = %d, %v; want %d", got, err, want)
		}
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping with the password: %v", err)
	}

	for _, password := range []string{"", "wrong"} {
		bad := NewRedisCounter(srv.ln.Addr().String(), password, "web-2", time.Second)
		if _, err := bad.CountVisit(context.Background()); err == nil {
			t.Errorf("CountVisit with password %q succeeded against a Redis that requires another", password)
		}
		if err := bad.Ping(context.Background()); err == nil {
			t.Errorf("Ping with password %q succeeded against a Redis that requires another", password)
		}
		bad.Close()
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.authOK == 0 || srv.visits != 2 {
		t.Errorf("server saw %d good AUTHs and %d visits, want at least 1 and 2", srv.authOK, srv.visits)
	}
}
