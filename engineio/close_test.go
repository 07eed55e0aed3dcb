package engineio

import (
	"errors"
	"io"
	"testing"
)

// Protocol test suite "close / HTTP long-polling / forcefully closes the
// session": a close packet from the client releases the waiting poll with
// a noop.
func TestCloseFromClientPolling(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	poll := e.pollAsync(pq(sid))
	e.waitPolling(sid)
	expect(t, e.post(pq(sid), "1"), 200, "ok")
	expect(t, recv(t, poll, waitShort, "the poll"), 200, "6")
	e.h.waitClosed(t, sid, ReasonTransportClose)
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")

	// Revision 3 too.
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e = newEnv(t, cfg)
	sid = e.openPolling(3, "")
	poll = e.pollAsync(pq3(sid))
	e.waitPolling(sid)
	expect(t, e.post(pq3(sid), "1:1"), 200, "ok")
	expect(t, recv(t, poll, waitShort, "the poll"), 200, "1:6")
	e.h.waitClosed(t, sid, ReasonTransportClose)
	expectError(t, e.get(pq3(sid)), 400, 1, "Session ID unknown")

	// With no poll waiting, nothing is left behind.
	sid = e.openPolling(3, "")
	expect(t, e.post(pq3(sid), "6:4hello1:1"), 200, "ok")
	e.h.waitClosed(t, sid, ReasonTransportClose)
	if got := e.h.texts(sid); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("texts %q", got)
	}
	expectError(t, e.get(pq3(sid)), 400, 1, "Session ID unknown")
}

// Protocol test suite "close / WebSocket / forcefully closes the session".
func TestCloseFromClientWebSocket(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		// A close packet.
		c, sid := e.openWS(4)
		c.sendText("1")
		c.expectClose(1005)
		e.h.waitClosed(t, sid, ReasonTransportClose)
		e.waitGone(sid)

		// A close frame: answered with the same code.
		c, sid = e.openWS(4)
		c.sendText("4bye")
		c.write(maskedFrame(0x80|opClose, closePayload(4000, "done")))
		c.expectClose(4000)
		ev := e.h.waitClosed(t, sid, ReasonTransportClose)
		if got := e.h.texts(sid); len(got) != 1 || got[0] != "bye" {
			t.Fatalf("texts %q", got)
		}
		t.Logf("close error: %v", ev.err)

		// An empty close frame.
		c, sid = e.openWS(4)
		c.write(maskedFrame(0x80|opClose, nil))
		c.expectClose(1005)
		e.h.waitClosed(t, sid, ReasonTransportClose)

		// The TCP connection dropped.
		c, sid = e.openWS(4)
		c.close()
		e.h.waitClosed(t, sid, ReasonTransportClose)
		e.waitGone(sid)

		// Frames after the close frame are ignored.
		c, sid = e.openWS(4)
		c.write(append(maskedFrame(0x80|opClose, closePayload(1000, "")), maskedFrame(0x80|opText, []byte("4late"))...))
		c.expectClose(1000)
		e.h.waitClosed(t, sid, ReasonTransportClose)
		if got := e.h.texts(sid); len(got) != 0 {
			t.Fatalf("message after the close frame delivered: %q", got)
		}
	})
}

// Protocol test suite "closes the session upon invalid packet format".
func TestCloseParseError(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		for _, bad := range []string{"abc", "", "7", "bA==="} {
			c, sid := e.openWS(4)
			c.sendText(bad)
			c.expectClose(1005)
			e.h.waitClosed(t, sid, ReasonParseError)
			e.waitGone(sid)
		}
	})
}

// Session.Close: queued packets first, then the close.
func TestCloseFromServer(t *testing.T) {
	t.Run("polling waiting", func(t *testing.T) {
		e := newEnv(t, testConfig())
		sid := e.openPolling(4, "")
		poll := e.pollAsync(pq(sid))
		e.waitPolling(sid)
		s := e.srv.Session(sid)
		if err := s.Send(NewTextMessage([]byte("a")), NewTextMessage([]byte("b"))); err != nil {
			t.Fatal(err)
		}
		// The poll may have been released by the first Send already.
		rep := recv(t, poll, waitShort, "the poll")
		if string(rep.body) != "4a\x1e4b" {
			t.Fatalf("poll %v", rep)
		}
		poll = e.pollAsync(pq(sid))
		e.waitPolling(sid)
		s.Close()
		if err := s.SendText([]byte("late")); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
		expect(t, recv(t, poll, waitShort, "the poll"), 200, "1")
		e.h.waitClosed(t, sid, ReasonForcedClose)
		expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	})
	t.Run("polling idle", func(t *testing.T) {
		e := newEnv(t, testConfig())
		sid := e.openPolling(4, "")
		s := e.srv.Session(sid)
		s.SendText([]byte("last"))
		s.Close()
		s.Close() // idempotent
		// The next poll gets what was queued, the one after it the close
		// packet (as the reference does: the client handles the packets
		// before it sees the close).
		expect(t, e.get(pq(sid)), 200, "4last")
		expect(t, e.get(pq(sid)), 200, "1")
		e.h.waitClosed(t, sid, ReasonForcedClose)
		expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	})
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(4)
		s := e.srv.Session(sid)
		s.SendText([]byte("last"))
		s.Close()
		c.expectText("4last")
		c.expectClose(1000)
		e.h.waitClosed(t, sid, ReasonForcedClose)
		if err := s.SendText([]byte("x")); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
	})
}

// Server.Close closes every session with "forced close" and refuses what
// comes after with 503.
func TestServerClose(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		waiting := e.openPolling(4, "")
		idle := e.openPolling(4, "")
		poll := e.pollAsync(pq(waiting))
		e.waitPolling(waiting)
		c, wsid := e.openWS(4)
		// A probe in progress.
		probeSID := e.openPolling(4, "")
		probe := e.dialWS("EIO=4&transport=websocket&sid=" + probeSID)
		probe.sendText("2probe")
		probe.expectText("3probe")

		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
		expect(t, recv(t, poll, waitShort, "the poll"), 200, "1")
		c.expectClose(1000)
		probe.expectEOF()
		for _, sid := range []string{waiting, idle, wsid, probeSID} {
			e.h.waitClosed(t, sid, ReasonForcedClose)
		}
		if n := e.srv.SessionCount(); n != 0 {
			t.Fatalf("SessionCount %d", n)
		}
		expectError(t, e.get("EIO=4&transport=polling"), 503, 3, "Server shutting down")
		expectError(t, e.get(pq(idle)), 503, 3, "Server shutting down")
		r := e.dialWSRaw("EIO=4&transport=websocket")
		body, _ := io.ReadAll(r.resp.Body)
		if r.resp.StatusCode != 503 || string(body) != "Server shutting down" {
			t.Fatalf("upgrade after Close: %s %q", r.resp.Status, body)
		}
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// A handler that panics closes its session, not the process.
func TestHandlerPanic(t *testing.T) {
	h := newRecorder()
	h.onText = func(s *Session, data []byte) {
		if string(data) == "boom" {
			panic("boom")
		}
	}
	e := newEnvWith(t, testConfig(), h)
	sid := e.openPolling(4, "")
	expect(t, e.post(pq(sid), "4boom"), 200, "ok")
	ev := e.h.waitClosed(t, sid, ReasonTransportError)
	if ev.err == nil {
		t.Fatal("no error")
	}
	c, sid := e.openWS(4)
	c.sendText("4boom")
	c.expectClose(1005)
	e.h.waitClosed(t, sid, ReasonTransportError)

	h2 := newRecorder()
	h2.onOpen = func(s *Session) { panic("open") }
	e = newEnvWith(t, testConfig(), h2)
	// The session is closed before its handshake is answered.
	expectError(t, e.get("EIO=4&transport=polling"), 400, 1, "Session ID unknown")
	eventually(t, waitShort, "close", func() bool { return e.h2closes(h2) == 1 })
	if e.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
	c, _ = e.dialWS("EIO=4&transport=websocket"), ""
	c.expectClose(1005)
	eventually(t, waitShort, "close", func() bool { return e.h2closes(h2) == 2 })
}

func (e *env) h2closes(h *recorder) int64 { return h.closes.Load() }
