package engineio

import (
	"testing"
	"time"
)

const (
	hbInterval = 200 * time.Millisecond
	hbTimeout  = 300 * time.Millisecond
	hbTick     = 10 * time.Millisecond   // at least the wheel tick (interval/20)
	hbSlack    = 1500 * time.Millisecond // generous: shared, loaded CI machines
)

func heartbeatConfig() Config {
	cfg := testConfig()
	cfg.PingInterval = hbInterval
	cfg.PingTimeout = hbTimeout
	cfg.AllowEIO3 = true
	return cfg
}

func checkElapsed(t testing.TB, what string, d, min, max time.Duration) {
	t.Helper()
	if d < min || d > max {
		t.Fatalf("%s after %v, want between %v and %v", what, d, min, max)
	}
}

// Protocol test suite "heartbeat / HTTP long-polling / sends ping/pong
// packets": the server pings at PingInterval and a pong keeps the session.
func TestHeartbeatPollingRev4(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	start := time.Now()
	sid := e.openPolling(4, "")
	for i := range 4 {
		rep := e.get(pq(sid))
		checkElapsed(t, "ping", time.Since(start), hbInterval-hbTick, hbInterval+hbSlack)
		expect(t, rep, 200, "2")
		start = time.Now() // the next ping is due PingInterval after the pong
		expect(t, e.post(pq(sid), "3"), 200, "ok")
		_ = i
	}
	// Alive well past interval+timeout thanks to the pongs.
	if e.srv.Session(sid) == nil {
		t.Fatal("session closed although it answered every ping")
	}
	if _, closed := e.h.closeEvent(sid); closed {
		t.Fatal("OnClose")
	}
}

// BAD-INPUTS row 24; protocol test suite "closes the session upon ping
// timeout".
func TestHeartbeatPollingRev4Timeout(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	start := time.Now()
	sid := e.openPolling(4, "")
	e.h.waitClosed(t, sid, ReasonPingTimeout)
	checkElapsed(t, "ping timeout", time.Since(start), hbInterval+hbTimeout-hbTick, hbInterval+hbTimeout+hbSlack)
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
}

// A poll waiting when the ping times out gets the close packet.
func TestHeartbeatPollingTimeoutReleasesPoll(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	start := time.Now()
	sid := e.openPolling(4, "")
	expect(t, e.get(pq(sid)), 200, "2")
	rep := e.get(pq(sid))
	expect(t, rep, 200, "1")
	checkElapsed(t, "close packet", time.Since(start), hbInterval+hbTimeout-hbTick, hbInterval+hbTimeout+hbSlack)
	e.h.waitClosed(t, sid, ReasonPingTimeout)
}

// Protocol test suite "heartbeat / WebSocket", revision 4.
func TestHeartbeatWebSocketRev4(t *testing.T) {
	forEachWebSocketMode(t, heartbeatConfig(), func(t *testing.T, e *env) {
		start := time.Now()
		c, sid := e.openWS(4)
		for range 3 {
			c.expectText("2")
			checkElapsed(t, "ping", time.Since(start), hbInterval-hbTick, hbInterval+hbSlack)
			start = time.Now()
			c.sendText("3")
		}
		// No pong: the server closes the WebSocket.
		c.expectText("2")
		c.expectClose(1005)
		checkElapsed(t, "close", time.Since(start), hbInterval+hbTimeout-hbTick, hbInterval+hbTimeout+hbSlack)
		e.h.waitClosed(t, sid, ReasonPingTimeout)
		e.waitGone(sid)
	})
}

// Revision 3: the client pings, the server answers; silence for
// PingInterval+PingTimeout closes the session.
func TestHeartbeatRev3(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		e := newEnv(t, heartbeatConfig())
		sid := e.openPolling(3, "")
		var start time.Time
		for range 3 {
			time.Sleep(hbInterval / 4)
			start = time.Now() // the deadline moves when the ping is read
			expect(t, e.post(pq3(sid), "1:2"), 200, "ok")
			expect(t, e.get(pq3(sid)), 200, "1:3")
		}
		e.h.waitClosed(t, sid, ReasonPingTimeout)
		checkElapsed(t, "ping timeout", time.Since(start), hbInterval+hbTimeout-hbTick, hbInterval+hbTimeout+hbSlack)
		expectError(t, e.post(pq3(sid), "1:2"), 400, 1, "Session ID unknown")
	})
	forEachWebSocketMode(t, heartbeatConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(3)
		var start time.Time
		for range 3 {
			time.Sleep(hbInterval / 4)
			start = time.Now()
			c.sendText("2")
			c.expectText("3")
		}
		// The server never pings in revision 3.
		c.expectClose(1005)
		checkElapsed(t, "ping timeout", time.Since(start), hbInterval+hbTimeout-hbTick, hbInterval+hbTimeout+hbSlack)
		e.h.waitClosed(t, sid, ReasonPingTimeout)
	})
}

// BAD-INPUTS row 23: pings from a revision 4 client (also "2probe" on the
// established transport) and pongs from a revision 3 client close the
// session; an unsolicited pong in revision 4 is harmless.
func TestHeartbeatWrongDirection(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	for _, tc := range []struct {
		rev  int
		body string
	}{{4, "2"}, {4, "2probe"}, {4, "4ok\x1e2"}, {3, "1:3"}, {3, "6:3probe"}} {
		sid := e.openPolling(tc.rev, "")
		q := pq(sid)
		if tc.rev == 3 {
			q = pq3(sid)
		}
		e.post(q, tc.body)
		ev := e.h.waitClosed(t, sid, ReasonTransportError)
		if ev.err == nil || ev.err.Error() != "engineio: invalid heartbeat direction" {
			t.Fatalf("error %v", ev.err)
		}
		expectError(t, e.get(q), 400, 1, "Session ID unknown")
	}
	for _, tc := range []struct {
		rev  int
		text string
	}{{4, "2"}, {4, "2probe"}, {3, "3"}} {
		c, sid := e.openWS(tc.rev)
		c.sendText(tc.text)
		c.expectClose(1005)
		e.h.waitClosed(t, sid, ReasonTransportError)
	}

	// Unsolicited pongs.
	cfg := testConfig()
	e = newEnv(t, cfg)
	sid := e.openPolling(4, "")
	expect(t, e.post(pq(sid), "3\x1e3"), 200, "ok")
	e.srv.Session(sid).SendText([]byte("alive"))
	expect(t, e.get(pq(sid)), 200, "4alive")
	c, sid2 := e.openWS(4)
	c.sendText("3")
	c.sendText("4x")
	eventually(t, waitShort, "message after pong", func() bool { return len(e.h.texts(sid2)) == 1 })
	if e.srv.SessionCount() != 2 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

// Noop, open and upgrade packets on an established transport are
// ignored, as in the reference.
func TestIgnoredPackets(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	expect(t, e.post(pq(sid), "6\x1e5\x1e0\x1e4after"), 200, "ok")
	eventually(t, waitShort, "message", func() bool { return len(e.h.texts(sid)) == 1 })
	if e.srv.Session(sid) == nil {
		t.Fatal("session closed")
	}
}

// BAD-INPUTS row 14: sessions opened and then abandoned (no poll, no
// pong) are all reaped by the ping timeout.
func TestHeartbeatReapsAbandonedSessions(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	const n = 200
	for i := range n {
		if i%2 == 0 {
			e.openPolling(4, "")
		} else {
			c, _ := e.openWS(4)
			defer c.close() // stays connected, never answers
		}
	}
	if e.srv.SessionCount() != n {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
	eventually(t, hbInterval+hbTimeout+5*time.Second, "every session reaped", func() bool { return e.srv.SessionCount() == 0 })
	eventually(t, waitShort, "every OnClose", func() bool { return e.h.closes.Load() == n })
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	for sid, evs := range e.h.events {
		if last := evs[len(evs)-1]; last.kind != "close" || last.reason != ReasonPingTimeout {
			t.Fatalf("%s: %+v", sid, last)
		}
	}
}

// A blocking-mode client that stopped reading (its socket full) must not
// hold up the heartbeats of other sessions when it times out.
func TestHeartbeatStuckClientDoesNotStallOthers(t *testing.T) {
	cfg := heartbeatConfig()
	cfg.BlockingWebSocket = true
	cfg.MaxWriteBuffer = 64 << 20 // the write stays blocked; the heartbeat reaps it
	e := newEnv(t, cfg)
	stuck, stuckSID := e.openWS(4)
	defer stuck.close()
	s := e.srv.Session(stuckSID)
	big := NewBinaryMessage(make([]byte, 1<<20))
	for range 32 {
		if s.Send(big) != nil {
			break
		}
	}
	healthy, sid := e.openWS(4)
	start := time.Now()
	for time.Since(start) < 4*(hbInterval+hbTimeout) {
		f, err := healthy.readFrameErr(hbInterval + hbTimeout + hbSlack)
		if err != nil {
			t.Fatalf("healthy session: no ping after %v: %v", time.Since(start), err)
		}
		if string(f.payload) != "2" {
			t.Fatalf("frame %v", f)
		}
		healthy.sendText("3")
	}
	e.h.waitClosed(t, stuckSID, ReasonPingTimeout)
	if _, closed := e.h.closeEvent(sid); closed {
		t.Fatal("healthy session closed")
	}
}

// A closed session leaves nothing armed on the heartbeat wheel, even when
// a ping follows the close packet in the same payload.
func TestHeartbeatNothingArmedAfterClose(t *testing.T) {
	e := newEnv(t, heartbeatConfig())
	armed := func(s *Session) bool {
		e.srv.wheel.mu.Lock()
		defer e.srv.wheel.mu.Unlock()
		return s.hb.next != nil
	}
	for _, body := range []string{"1:11:2", "1:2"} {
		sid := e.openPolling(3, "")
		s := e.srv.Session(sid)
		if !armed(s) {
			t.Fatal("open session not armed")
		}
		expect(t, e.post(pq3(sid), body), 200, "ok")
		if body == "1:2" {
			s.Close()
			expect(t, e.post(pq3(sid), "1:2"), 200, "ok") // while closing
			expect(t, e.get(pq3(sid)), 200, "1:3")        // the first ping's pong
			expect(t, e.get(pq3(sid)), 200, "1:1")        // then the close packet
		}
		e.waitGone(sid)
		if armed(s) {
			t.Fatalf("%q: closed session still armed on the wheel", body)
		}
	}
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)
	expect(t, e.post(pq(sid), "1\x1e3"), 200, "ok")
	e.waitGone(sid)
	if armed(s) {
		t.Fatal("revision 4: closed session still armed")
	}
}
