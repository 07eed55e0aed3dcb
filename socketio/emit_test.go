package socketio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestEmitJSONValues(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, s := connected(t, ts, dial, nil)
		err := s.Emit("e", 1, "s\"q", true, nil, 2.5, map[string]any{"a": 1}, []any{1, "x"}, chatMsg{"t", 1}, []string{"u"})
		if err != nil {
			t.Fatal(err)
		}
		expectText(t, c, `42["e",1,"s\"q",true,null,2.5,{"a":1},[1,"x"],{"text":"t","n":1},["u"]]`)
		if err := s.Emit("none"); err != nil {
			t.Fatal(err)
		}
		expectText(t, c, `42["none"]`)
		if err := s.Emit("bad", func() {}); err == nil {
			t.Fatal("unencodable argument accepted")
		}
	})
}

func TestEmitBinary(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, s := connected(t, ts, dial, nil)
		err := s.Emit("bin", []byte{1}, map[string]any{"x": []byte{2}, "y": []any{[]byte{3}, "s"}}, "after")
		if err != nil {
			t.Fatal(err)
		}
		expectText(t, c, `453-["bin",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1},"y":[{"_placeholder":true,"num":2},"s"]},"after"]`)
		expectBinary(t, c, []byte{1})
		expectBinary(t, c, []byte{2})
		expectBinary(t, c, []byte{3})

		// A broadcast with binary to a custom namespace.
		admin := ts.sockets("/admin")
		connect(t, c, "/admin", "")
		recv(t, admin)
		if err := ts.io.Of("/admin").Emit("b", []byte("xy")); err != nil {
			t.Fatal(err)
		}
		expectText(t, c, `451-/admin,["b",{"_placeholder":true,"num":0}]`)
		expectBinary(t, c, []byte("xy"))
	})
}

func TestEmitReservedEvents(t *testing.T) {
	ts := newTestServer(t, Config{})
	c, s := connected(t, ts, pollDial, nil)
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		errs := []error{
			s.Emit(name),
			s.Volatile().Emit(name),
			ts.io.Emit(name),
			ts.io.To("r").Emit(name),
			s.Broadcast().Emit(name),
		}
		_, err := s.EmitWithAck(context.Background(), name)
		errs = append(errs, err)
		_, err = ts.io.Timeout(time.Second).EmitWithAck(context.Background(), name)
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, ErrReservedEvent) {
				t.Errorf("%s (%d): %v", name, i, err)
			}
		}
	}
	// Nothing was sent.
	if err := s.Emit("marker"); err != nil {
		t.Fatal(err)
	}
	expectText(t, c, `42["marker"]`)
}

// waitingPoll starts a GET and returns a channel with its items.
func waitingPoll(c *pollClient) <-chan []item {
	ch := make(chan []item, 1)
	go func() {
		status, body, _ := c.get(c.url())
		if status != http.StatusOK {
			ch <- nil
			return
		}
		ch <- c.parse(body)
	}()
	return ch
}

func TestVolatilePolling(t *testing.T) {
	ts := newTestServer(t, Config{})
	socks := ts.sockets("/")
	c := ts.dialPolling("")
	connect(t, c, "/", "")
	s := recv(t, socks)

	// No GET pending: dropped, by the socket and by broadcasts.
	if err := s.Volatile().Emit("v", "dropped"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Volatile().Emit("v", "dropped too"); err != nil {
		t.Fatal(err)
	}
	if err := s.Emit("m", 1); err != nil {
		t.Fatal(err)
	}
	expectText(t, c, `42["m",1]`)

	// A GET pending: delivered. Emit until the poll is seen waiting; each
	// emit either completes the poll or is dropped, so the poll returns
	// exactly one.
	for _, emit := range []func(i int) error{
		func(i int) error { return s.Volatile().Emit("v", i) },
		func(i int) error { return ts.io.Volatile().Emit("v", i) },
	} {
		got := waitingPoll(c)
		var items []item
	loop:
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				t.Fatal(err)
			}
			select {
			case items = <-got:
				break loop
			case <-time.After(5 * time.Millisecond):
			}
			if i > 1000 {
				t.Fatal("volatile packet never delivered to a waiting poll")
			}
		}
		if len(items) != 1 || !strings.HasPrefix(items[0].text, `42["v",`) {
			t.Fatalf("poll got %v", items)
		}
		if err := s.Emit("m", 2); err != nil {
			t.Fatal(err)
		}
		expectText(t, c, `42["m",2]`)
	}
}

func TestVolatileWebSocket(t *testing.T) {
	ts := newTestServer(t, Config{})
	c, s := connected(t, ts, func(ts *testServer) tclient { return ts.dialWS("") }, nil)
	// An idle WebSocket takes volatile packets at once.
	for i := range 3 {
		if err := s.Volatile().Emit("v", i); err != nil {
			t.Fatal(err)
		}
		expectText(t, c, fmt.Sprintf(`42["v",%d]`, i))
	}
}

func TestCompressFlag(t *testing.T) {
	ts := newTestServer(t, Config{})
	socks := ts.sockets("/")
	c := ts.dialPollingRev("4", "", http.Header{"Accept-Encoding": {"gzip"}})
	connect(t, c, "/", "")
	s := recv(t, socks)
	big := strings.Repeat("x", 4096)
	want := `42["big","` + big + `"]`

	cases := []struct {
		name string
		emit func() error
		enc  string
	}{
		{"socket default", func() error { return s.Emit("big", big) }, "gzip"},
		{"socket Compress(false)", func() error { return s.Compress(false).Emit("big", big) }, ""},
		{"broadcast default", func() error { return ts.io.Emit("big", big) }, "gzip"},
		{"broadcast Compress(false)", func() error { return ts.io.Compress(false).Emit("big", big) }, ""},
	}
	for _, tc := range cases {
		if err := tc.emit(); err != nil {
			t.Fatal(err)
		}
		expectText(t, c, want)
		if c.lastEncoding != tc.enc {
			t.Errorf("%s: Content-Encoding %q, want %q", tc.name, c.lastEncoding, tc.enc)
		}
	}
}

// A broadcast is encoded once for all its recipients: the bytes allocated
// by one Emit to many polling clients (whose packets only get queued) stay
// near one copy of the payload, where encoding per recipient would cost
// one copy each.
func TestBroadcastEncodedOnce(t *testing.T) {
	ts := newTestServer(t, Config{})
	const n = 20
	socks := ts.sockets("/")
	clients := make([]*pollClient, n)
	for i := range clients {
		clients[i] = ts.dialPolling("")
		connect(t, clients[i], "/", "")
		recv(t, socks)
	}
	payload := strings.Repeat("p", 100_000)
	measure := func() uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := ts.io.Emit("big", payload); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	measure() // warm up
	alloc := measure()
	t.Logf("allocated %d bytes for a %d-byte payload", alloc, len(payload))
	if limit := uint64(6 * len(payload)); alloc > limit {
		t.Fatalf("broadcast to %d sockets allocated %d bytes, more than %d (encoded per recipient?)", n, alloc, limit)
	}
	want := `42["big","` + payload + `"]`
	for _, c := range clients {
		expectText(t, c, want)
		expectText(t, c, want)
	}
}

// The same holds with acknowledgements: one namespace-wide ack id, so one
// encoding.
func TestBroadcastWithAckEncodedOnce(t *testing.T) {
	ts := newTestServer(t, Config{})
	const n = 20
	socks := ts.sockets("/")
	clients := make([]*pollClient, n)
	for i := range clients {
		clients[i] = ts.dialPolling("")
		connect(t, clients[i], "/", "")
		recv(t, socks)
	}
	payload := strings.Repeat("p", 100_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _ = ts.io.Timeout(time.Millisecond).EmitWithAck(context.Background(), "big", payload)
	runtime.ReadMemStats(&after)
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(6*len(payload)); alloc > limit {
		t.Fatalf("broadcast with ack allocated %d bytes, more than %d", alloc, limit)
	}
	first := expectMatch(t, clients[0], `42\d+\["big","p+"\]`)
	for _, c := range clients[1:] {
		expectText(t, c, first)
	}
}
