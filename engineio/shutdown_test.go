package engineio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dialWSSmall opens a WebSocket session from a client whose receive
// buffer is small, so that the server's writes back up quickly once it
// stops reading.
func (e *env) dialWSSmall(rcvbuf int) (*wsClient, string) {
	e.t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", e.hs.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitLong))
	target := e.srv.Config().Path + "?EIO=4&transport=websocket"
	if _, err := io.WriteString(conn, upgradeRequest(e.hs.Listener.Addr().String(), target)); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		e.t.Fatalf("upgrade: %v %v", resp, err)
	}
	_ = conn.SetDeadline(time.Time{})
	c := &wsClient{t: e.t, conn: conn, br: br, resp: resp}
	f := c.readFrame()
	return c, checkOpen(e.t, string(f.payload), `[]`, e.srv.Config())
}

// shutdownAsync runs Shutdown in a goroutine and returns its result.
func shutdownAsync(srv *Server, timeout time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		ch <- srv.Shutdown(ctx)
	}()
	return ch
}

// Shutdown: handshakes are refused at once, every client gets what was
// queued for it and then the close, handlers are waited for.
func TestShutdown(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		base := goroutines()
		release := make(chan struct{})
		inClose := make(chan string, 8)
		e.h.onClose = func(s *Session, _ Reason) {
			inClose <- s.ID()
			<-release
		}

		waiting := e.openPolling(4, "")
		poll := e.pollAsync(pq(waiting))
		e.waitPolling(waiting)
		idle := e.openPolling(4, "")
		ws, wsid := e.openWS(4)
		for _, sid := range []string{idle, wsid} {
			s := e.srv.Session(sid)
			s.Cork() // held in the queue until the shutdown
			if err := s.Send(NewTextMessage([]byte("a")), NewTextMessage([]byte("b"))); err != nil {
				t.Fatal(err)
			}
		}

		first := shutdownAsync(e.srv, waitLong)
		second := shutdownAsync(e.srv, waitLong) // concurrent calls wait alike

		// The waiting poll gets the close packet; the idle client's next
		// poll gets what was queued, the one after it the close; the
		// WebSocket gets its frames, then the close frame.
		expect(t, recv(t, poll, waitShort, "the waiting poll"), 200, "1")
		expect(t, e.get(pq(idle)), 200, "4a\x1e4b")
		expect(t, e.get(pq(idle)), 200, "1")
		ws.expectText("4a")
		ws.expectText("4b")
		ws.expectClose(1000)

		// New sessions are refused, on both transports.
		expectError(t, e.get("EIO=4&transport=polling"), 503, 3, "Server shutting down")
		r := e.dialWSRaw("EIO=4&transport=websocket")
		body, _ := io.ReadAll(r.resp.Body)
		if r.resp.StatusCode != 503 || string(body) != "Server shutting down" || !r.resp.Close {
			t.Fatalf("upgrade during shutdown: %s %q %v", r.resp.Status, body, r.resp.Header)
		}

		// Shutdown waits for the OnClose calls to return.
		for range 3 {
			recv(t, inClose, waitShort, "an OnClose call")
		}
		select {
		case err := <-first:
			t.Fatalf("Shutdown returned %v while OnClose runs", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		for _, ch := range []<-chan error{first, second} {
			if err := recv(t, ch, waitLong, "Shutdown"); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}
		for _, sid := range []string{waiting, idle, wsid} {
			e.h.waitClosed(t, sid, ReasonForcedClose)
		}
		if n, c := e.srv.SessionCount(), e.srv.poller.Conns(); n != 0 || c != 0 {
			t.Fatalf("after Shutdown: %d sessions, %d connections", n, c)
		}
		// Closed now: every request is refused; Shutdown and Close again
		// are no-ops.
		expectError(t, e.get(pq(idle)), 503, 3, "Server shutting down")
		if err := e.srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
		e.client.CloseIdleConnections()
		if n := settleGoroutines(t, base+2, waitLong); n > base+2 {
			t.Fatalf("%d goroutines after Shutdown, %d before\n%s", n, base, dumpGoroutines())
		}
	})
}

// What a WebSocket client has not taken yet at the shutdown (held by the
// poller or by a blocked write) reaches it before the close frame.
func TestShutdownDeliversHeldFrames(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteBuffer = 64 << 20
	forEachWebSocketMode(t, cfg, func(t *testing.T, e *env) {
		c, sid := e.dialWSSmall(4 << 10)
		s := e.srv.Session(sid)
		held := func() int { // held, once the kernel refuses more
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ws.Buffered() == 0 {
				return 0
			}
			return s.heldLocked()
		}
		payload := strings.Repeat("x", 16<<10)
		// Send until the kernel's buffers are full and the connection
		// holds a good part of what was sent.
		stuck := func() bool {
			if held() < 256<<10 {
				return false
			}
			time.Sleep(20 * time.Millisecond) // not a write about to complete
			return held() >= 256<<10
		}
		n := 0
		for ; !stuck(); n++ {
			if n == 3000 {
				t.Fatalf("%d messages sent and only %d bytes held", n, held())
			}
			if err := s.SendText([]byte(fmt.Sprintf("%04d%s", n, payload))); err != nil {
				t.Fatalf("send %d: %v", n, err)
			}
			if n%16 == 15 {
				time.Sleep(time.Millisecond) // let a blocking-mode flush start
			}
		}
		t.Logf("%d messages sent, %d bytes held", n, held())
		done := shutdownAsync(e.srv, waitLong)
		time.Sleep(50 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v before the client read", err)
		default:
		}
		for i := range n {
			f := c.readFrame()
			if f.op != opText || !strings.HasPrefix(string(f.payload), fmt.Sprintf("4%04d", i)) || len(f.payload) != 5+len(payload) {
				t.Fatalf("frame %d: op %d, %d bytes, %.8q", i, f.op, len(f.payload), f.payload)
			}
		}
		c.expectClose(1000)
		if err := recv(t, done, waitLong, "Shutdown"); err != nil {
			t.Fatal(err)
		}
		e.h.waitClosed(t, sid, ReasonForcedClose)
	})
}

// When the context ends first, everything is closed at once and Shutdown
// returns the context's error; the handler still running finishes later.
func TestShutdownContextEnds(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		release := make(chan struct{})
		var once sync.Once
		defer once.Do(func() { close(release) })
		e.h.onText = func(s *Session, data []byte) {
			if string(data) == "block" {
				<-release
			}
		}
		busy, busySID := e.openWS(4)
		busy.sendText("4block")
		eventually(t, waitShort, "the handler running", func() bool { return len(e.h.texts(busySID)) == 1 })
		// A client that does not read, with frames held for it.
		stuck, stuckSID := e.dialWSSmall(4 << 10)
		s := e.srv.Session(stuckSID)
		for i := 0; i < 256 && s.SendText([]byte(strings.Repeat("y", 8<<10))) == nil; i++ {
		}
		poller := e.openPolling(4, "")

		start := time.Now()
		err := recv(t, shutdownAsync(e.srv, 300*time.Millisecond), waitLong, "Shutdown")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the context's error", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Shutdown took %v after its context ended", d)
		}
		busy.expectClose(1000)
		e.h.waitClosed(t, poller, ReasonForcedClose)
		e.h.waitClosed(t, stuckSID, ReasonForcedClose)
		// The stuck client's connection is gone: reading drains what the
		// kernel holds, then ends.
		for {
			if _, err := stuck.readFrameErr(waitShort); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the stuck client's connection is still open")
				}
				break
			}
		}
		once.Do(func() { close(release) })
		e.h.waitClosed(t, busySID, ReasonForcedClose)
		expectError(t, e.get("EIO=4&transport=polling"), 503, 3, "Server shutting down")
	})
}

// Handshakes racing Shutdown: each is refused, or opens a session that the
// shutdown closes; Shutdown returns once they are all gone.
func TestShutdownRacingHandshakes(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if w%2 == 0 {
						rep, err := e.doErr(context.Background(), "GET", "EIO=4&transport=polling", nil, nil)
						if err != nil || rep.status == 503 {
							continue
						}
						if rep.status != 200 {
							t.Errorf("handshake: %v", rep)
							return
						}
						// Poll as a client does: the shutdown answers with
						// the close packet.
						sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
						if rep, err := e.doErr(context.Background(), "GET", pq(sid), nil, nil); err == nil && string(rep.body) != "1" {
							t.Errorf("poll: %v", rep)
						}
						continue
					}
					conn, err := net.Dial("tcp", e.hs.Listener.Addr().String())
					if err != nil {
						continue
					}
					_ = conn.SetDeadline(time.Now().Add(waitLong))
					_, _ = io.WriteString(conn, upgradeRequest(e.hs.Listener.Addr().String(), e.srv.Config().Path+"?EIO=4&transport=websocket"))
					if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil &&
						resp.StatusCode != 101 && resp.StatusCode != 503 {
						t.Errorf("upgrade: %s", resp.Status)
					}
					conn.Close()
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		err := recv(t, shutdownAsync(e.srv, waitLong), waitLong+time.Second, "Shutdown")
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := e.srv.SessionCount(); n != 0 {
			t.Fatalf("%d sessions after Shutdown", n)
		}
		e.h.mu.Lock()
		opened := int64(len(e.h.events))
		e.h.mu.Unlock()
		if closed := e.h.closes.Load(); opened != closed {
			t.Fatalf("%d sessions opened, %d closed", opened, closed)
		}
	})
}

// A polling client that stops polling, with more than MaxWriteBuffer bytes
// sent to it, is closed with "write buffer full"; what was accepted stays
// under the bound.
func TestPollingWriteBufferFull(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteBuffer = 64 << 10
	e := newEnv(t, cfg)
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)
	msg := NewTextMessage(make([]byte, 1000))
	accepted := 0
	for s.Send(msg) == nil {
		accepted++
		if accepted > 1000 {
			t.Fatal("never closed")
		}
	}
	if got := accepted * msgBytes([]*Message{msg}); got > cfg.MaxWriteBuffer {
		t.Fatalf("%d bytes accepted, bound %d", got, cfg.MaxWriteBuffer)
	}
	ev := e.h.waitClosed(t, sid, ReasonWriteBufferFull)
	if !errors.Is(ev.err, ErrWriteBufferFull) {
		t.Fatalf("close error %v", ev.err)
	}
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	// A client that polls is never closed, whatever it is sent.
	sid = e.openPolling(4, "")
	s = e.srv.Session(sid)
	for range 10 {
		for range 50 {
			if err := s.Send(msg); err != nil {
				t.Fatal(err)
			}
		}
		if rep := e.get(pq(sid)); rep.status != 200 || len(rep.body) < 50*1000 {
			t.Fatalf("poll: %d, %d bytes", rep.status, len(rep.body))
		}
	}
}

// A WebSocket client that stops reading: volatile messages are dropped
// first, then the session closes with "write buffer full", in both modes.
func TestWebSocketWriteBufferFull(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteBuffer = 256 << 10
	forEachWebSocketMode(t, cfg, func(t *testing.T, e *env) {
		healthy, hsid := e.openWS(4)
		_, sid := e.dialWSSmall(4 << 10)
		s := e.srv.Session(sid)
		chunk := NewTextMessage(make([]byte, 8<<10))
		volatileDropped := false
		deadline := time.Now().Add(waitLong)
		for i := 0; ; i++ {
			if time.Now().After(deadline) {
				t.Fatal("the session never closed")
			}
			if !s.SendVolatile(NewTextMessage([]byte("v"))) {
				s.mu.Lock()
				open := s.state == stateOpen
				s.mu.Unlock()
				volatileDropped = volatileDropped || open
			}
			if s.Send(chunk) != nil {
				break
			}
		}
		if !volatileDropped {
			t.Fatal("no volatile message dropped before the close")
		}
		e.h.waitClosed(t, sid, ReasonWriteBufferFull)
		// The other client was not affected.
		if err := e.srv.Session(hsid).SendText([]byte("fine")); err != nil {
			t.Fatal(err)
		}
		healthy.expectText("4fine")
	})
}
