package redisstreams_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

// counter broadcasts "n" events numbered from 0 from one node to every
// socket, one at a time, until stopped; on request it sends a "marker"
// event (with the number of the next "n") before the next number.
type counter struct {
	node *sioNode
	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex
	errs       []error // the result of each numbered broadcast
	wantMarker bool
	marker     int // the number the marker preceded (-1: none sent)
}

func startCounter(n *sioNode) *counter {
	c := &counter{node: n, stop: make(chan struct{}), done: make(chan struct{}), marker: -1}
	go c.run()
	return c
}

func (c *counter) run() {
	defer close(c.done)
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for i := 0; ; i++ {
		select {
		case <-c.stop:
			return
		case <-pace.C:
		}
		c.mu.Lock()
		marker := c.wantMarker
		c.mu.Unlock()
		if marker && c.node.srv.Emit("marker", i) == nil {
			c.mu.Lock()
			c.wantMarker, c.marker = false, i
			c.mu.Unlock()
		}
		err := c.node.srv.Emit("n", i)
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
	}
}

func (c *counter) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func (c *counter) sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.errs)
}

// firstFailure returns the first number at or after from whose broadcast
// failed, or -1.
func (c *counter) firstFailure(from int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; i < len(c.errs); i++ {
		if c.errs[i] != nil {
			return i
		}
	}
	return -1
}

func (c *counter) requestMarker() {
	c.mu.Lock()
	c.wantMarker = true
	c.mu.Unlock()
}

func (c *counter) markerAt() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marker
}

// seen is what a client got from a counter: the numbers, in order, and
// the markers (the number each preceded), in order.
type seen struct {
	numbers []int
	markers []int
	end     bool
}

func seenBy(c *wsClient) seen {
	var s seen
	for _, p := range c.received() {
		if p.Type != sio.Event {
			continue
		}
		name, args, err := p.Args()
		if err != nil {
			continue
		}
		if name == "end" {
			s.end = true
			continue
		}
		if len(args) == 0 {
			continue
		}
		v, err := strconv.Atoi(string(args[0]))
		if err != nil {
			continue
		}
		switch name {
		case "n":
			s.numbers = append(s.numbers, v)
		case "marker":
			s.markers = append(s.markers, v)
		}
	}
	return s
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis dies under traffic and comes back empty on the same port: the
// servers deliver locally meanwhile, fail their cluster requests in time,
// then reconnect by themselves; what is broadcast once they have is
// delivered everywhere, once and in order; closing them leaves no
// goroutine behind.
func TestRedisRestartUnderTraffic(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *socketio.RecoveryConfig
	}{
		{"plain", nil},
		{"recovery", &socketio.RecoveryConfig{MaxDisconnectionDuration: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) { testRedisRestart(t, tc.rec) })
	}
}

func testRedisRestart(t *testing.T, rec *socketio.RecoveryConfig) {
	rs := redistest.StartServer(t)
	baseline := runtime.NumGoroutine()
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr(), DialTimeout: 300 * time.Millisecond,
		DialerRetries: 1, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	defer rdb.Close()
	opts := redisstreams.Options{StreamName: "restart", ChannelPrefix: "restart", SessionKeyPrefix: "restart:session:",
		RequestTimeout: time.Second}
	A := newSioNode(t, "A", rdb, opts, rec)
	B := newSioNode(t, "B", rdb, opts, rec)
	redistest.WaitServerCount(t, A.adapter(), 2)
	redistest.WaitServerCount(t, B.adapter(), 2)
	var clients, onA, onB []*wsClient
	for _, spec := range []struct {
		n    *sioNode
		name string
	}{{A, "a1"}, {A, "a2"}, {B, "b1"}, {B, "b2"}} {
		c := dialWS(t, spec.n, spec.name)
		c.connect("")
		spec.n.connection(t)
		clients = append(clients, c)
		if spec.n == A {
			onA = append(onA, c)
		} else {
			onB = append(onB, c)
		}
	}
	count := startCounter(A)
	defer count.halt()
	ctx := context.Background()

	waitFor(t, waitLong, "numbers on every client", func() bool {
		for _, c := range clients {
			if len(seenBy(c).numbers) < 20 {
				return false
			}
		}
		return true
	})

	// Redis goes away.
	rs.Stop()
	killed := count.sent()
	waitFor(t, waitLong, "a broadcast to fail", func() bool { return count.firstFailure(killed) >= 0 })
	failed := count.firstFailure(killed)
	for _, n := range []*sioNode{A, B} {
		start := time.Now()
		if _, err := n.adapter().ServerCount(ctx); err == nil {
			t.Errorf("%s: serverCount while Redis is down: no error", n.name)
		}
		if _, err := n.srv.FetchSockets(ctx); !errors.Is(err, adapter.ErrTimeout) {
			t.Errorf("%s: fetchSockets while Redis is down: %v", n.name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: cluster requests took %v while Redis is down", n.name, d)
		}
	}
	// Local delivery goes on.
	waitFor(t, waitLong, "numbers on A while Redis is down", func() bool {
		for _, c := range onA {
			s := seenBy(c)
			if len(s.numbers) == 0 || s.numbers[len(s.numbers)-1] < failed+20 {
				return false
			}
		}
		return true
	})

	// Redis is back, empty, on the same port.
	rs.Start()
	restarted := time.Now()
	redistest.WaitServerCount(t, A.adapter(), 2)
	redistest.WaitServerCount(t, B.adapter(), 2)
	count.requestMarker()
	waitFor(t, 10*time.Second, "the marker on B", func() bool {
		for _, c := range onB {
			if len(seenBy(c).markers) == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("B receives again %v after the restart", time.Since(restarted).Round(time.Millisecond))
	marker := count.markerAt()
	waitFor(t, waitLong, "more numbers", func() bool { return count.sent() >= marker+100 })
	count.halt()
	total := count.sent()
	if err := A.srv.Emit("end"); err != nil {
		t.Fatalf("end: %v", err)
	}
	deadline := time.Now().Add(waitLong)
	for _, c := range clients {
		for !seenBy(c).end {
			if time.Now().After(deadline) {
				s := seenBy(c)
				t.Fatalf("%s: no end; %d numbers (last %v), markers %v", c.name, len(s.numbers), s.numbers[max(0, len(s.numbers)-3):], s.markers)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Every number after the marker was broadcast without error.
	if f := count.firstFailure(marker); f >= 0 {
		t.Fatalf("broadcast %d, after the marker (%d), failed", f, marker)
	}
	// On A, every number, once, in order.
	for _, c := range onA {
		s := seenBy(c)
		if len(s.numbers) != total {
			t.Errorf("%s: %d numbers, want %d", c.name, len(s.numbers), total)
		}
		for i, v := range s.numbers {
			if v != i {
				t.Fatalf("%s: number %d at %d: %v", c.name, v, i, s.numbers)
			}
		}
	}
	// On B, numbers in order, none twice; from the marker on, all of them.
	for _, c := range onB {
		s := seenBy(c)
		if s.markers[0] != marker {
			t.Errorf("%s: first marker before %d, want %d", c.name, s.markers[0], marker)
		}
		from := -1
		for i, v := range s.numbers {
			if i > 0 && v <= s.numbers[i-1] {
				t.Fatalf("%s: %d after %d", c.name, v, s.numbers[i-1])
			}
			if v == marker {
				from = i
			}
		}
		if from < 0 {
			t.Fatalf("%s: number %d (after the marker) missing: %v", c.name, marker, s.numbers)
		}
		if got, want := len(s.numbers)-from, total-marker; got != want {
			t.Errorf("%s: %d numbers from the marker on, want %d", c.name, got, want)
		}
		t.Logf("%s: %d of %d numbers (lost while Redis was away: %d)", c.name, len(s.numbers), total, total-len(s.numbers))
	}
	for _, n := range []*sioNode{A, B} {
		n.checkNoPanic(t)
		if len(n.logs.matching("XREAD failed; retrying")) == 0 {
			t.Errorf("%s: its stream reader did not see the outage: %q", n.name, n.logs.matching(""))
		}
	}

	// Closing leaves nothing running.
	for _, c := range clients {
		c.cut()
	}
	A.close()
	B.close()
	_ = rdb.Close()
	deadline = time.Now().Add(waitLong)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after closing, %d before:\n%s", runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
