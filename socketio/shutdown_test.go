package socketio

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func shutdownAsync(srv *Server, timeout time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		ch <- srv.Shutdown(ctx)
	}()
	return ch
}

func settle(t *testing.T, limit int) int {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	n := runtime.NumGoroutine()
	for n > limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// Shutdown: every socket is disconnected with "server shutting down" and
// its handlers run; each client gets what was emitted before, then its
// connection closes, with no DISCONNECT packet (socket.io-client then
// reconnects, as with the reference's io.close()); new connections are
// refused; Shutdown returns once the disconnect handlers have returned.
func TestShutdown(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		base := runtime.NumGoroutine()
		ts := newTestServer(t, Config{})
		release := make(chan struct{})
		reasons := make(chan Reason, 4)
		socks := make(chan *Socket, 4)
		handler := func(s *Socket) {
			s.OnDisconnect(func(r Reason) {
				reasons <- r
				<-release
			})
			socks <- s
		}
		ts.io.OnConnection(handler)
		ts.io.Of("/custom").OnConnection(handler)
		c := dial(ts)
		connect(t, c, "/", "")
		connect(t, c, "/custom", "")
		main, custom := recv(t, socks), recv(t, socks)
		if err := main.Emit("last", 1); err != nil {
			t.Fatal(err)
		}
		if err := ts.io.Of("/custom").Emit("last", 2); err != nil {
			t.Fatal(err)
		}

		done := shutdownAsync(ts.io, waitLong)
		for range 2 {
			if r := recv(t, reasons); r != ReasonServerShuttingDown {
				t.Fatalf("reason %q", r)
			}
		}
		if err := main.Emit("late"); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("Emit during Shutdown: %v", err)
		}
		got := c.expectClosed()
		var texts []string
		for _, it := range got {
			texts = append(texts, it.text)
		}
		if strings.Join(texts, " ") != `42["last",1] 42/custom,["last",2]` {
			t.Fatalf("before the close: %q", texts)
		}

		// Refused while shutting down.
		resp, err := ts.hc.Get(ts.base + "?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("handshake during Shutdown: %s", resp.Status)
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while OnDisconnect runs", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := recv(t, done); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if main.Connected() || custom.Connected() || len(ts.io.Sockets()) != 0 || ts.io.Engine().SessionCount() != 0 {
			t.Fatal("something left after Shutdown")
		}
		if err := ts.io.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		ts.close()
		if n := settle(t, base+2); n > base+2 {
			t.Fatalf("%d goroutines after Shutdown, %d before", n, base)
		}
	})
}

// A client connecting to a namespace while the server shuts down is not
// connected: its connection closes with the others.
func TestShutdownRefusesNamespaces(t *testing.T) {
	ts := newTestServer(t, Config{})
	connected := make(chan *Socket, 1)
	ts.io.Of("/late").OnConnection(func(s *Socket) { connected <- s })
	c := ts.dialWS("")
	connect(t, c, "/", "")
	ts.io.stop() // the first step of Shutdown: the engine still serves
	c.send("40/late,")
	time.Sleep(50 * time.Millisecond)
	if err := recv(t, shutdownAsync(ts.io, waitLong)); err != nil {
		t.Fatal(err)
	}
	for _, it := range c.expectClosed() {
		if strings.HasPrefix(it.text, "40/late") || strings.HasPrefix(it.text, "44/late") {
			t.Fatalf("answered during Shutdown: %v", it)
		}
	}
	select {
	case <-connected:
		t.Fatal("connection handler ran during Shutdown")
	default:
	}
}

func (ts *testServer) connectedWS(t *testing.T, setup func(*Socket)) (tclient, *Socket) {
	return connected(t, ts, func(ts *testServer) tclient { return ts.dialWS("") }, setup)
}

// When the context ends first, everything is closed at once and Shutdown
// returns the context's error.
func TestShutdownContextEnds(t *testing.T) {
	ts := newTestServer(t, Config{})
	block := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(block) })
	c, s := ts.connectedWS(t, func(s *Socket) {
		s.OnDisconnect(func(Reason) { <-block })
	})
	start := time.Now()
	err := recv(t, shutdownAsync(ts.io, 200*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	c.expectClosed()
	if s.Connected() {
		t.Fatal("socket still connected")
	}
	once.Do(func() { close(block) })
}

// A client that does not read what it is sent is disconnected once more
// than MaxWriteBuffer bytes are held for it; its sockets see "write buffer
// full". Polling: a client that stops polling.
func TestWriteBufferFullReason(t *testing.T) {
	ts := newTestServer(t, Config{MaxWriteBuffer: 64 << 10})
	reasons := make(chan Reason, 1)
	_, s := connected(t, ts, pollDial, func(s *Socket) {
		s.OnDisconnect(func(r Reason) { reasons <- r })
	})
	big := strings.Repeat("z", 4<<10)
	for i := 0; s.Emit("big", big) == nil; i++ {
		if i > 100 {
			t.Fatal("never disconnected")
		}
	}
	if r := recv(t, reasons); r != ReasonWriteBufferFull {
		t.Fatalf("reason %q", r)
	}
}

// A client can make itself a slow consumer at will: its disconnection is
// logged at Debug level only, on both transports.
func TestWriteBufferFullLogsAtDebugOnly(t *testing.T) {
	for _, ws := range []bool{false, true} {
		h := &levelRecorder{}
		ts := newLogServer(t, h, false)
		reasons := make(chan Reason, 1)
		socks := ts.sockets("/")
		if ws {
			// Joins "/" and then reads nothing, with a small receive buffer.
			c, err := dialRawWS(ts.hs.Listener.Addr().String(), ts.io.Engine().Config().Path+"?EIO=4&transport=websocket", 4<<10)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.conn.Close() })
		} else {
			connect(t, ts.dialPolling(""), "/", "") // and polls no more
		}
		s := recv(t, socks)
		s.OnDisconnect(func(r Reason) { reasons <- r })
		big := strings.Repeat("z", 64<<10)
		for i := 0; s.Emit("big", big) == nil; i++ {
			if i > 1000 {
				t.Fatal("never disconnected")
			}
		}
		if r := recv(t, reasons); r != ReasonWriteBufferFull {
			t.Fatalf("reason %q", r)
		}
		if above, debugs := h.result(); len(above) > 0 || debugs == 0 {
			t.Fatalf("websocket %v: logged above Debug: %q (%d at Debug)", ws, above, debugs)
		}
	}
}
