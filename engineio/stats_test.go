package engineio

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

// zeroStats is the snapshot of a server that has seen nothing.
func zeroStats() Stats {
	st := Stats{SessionsClosed: map[Reason]uint64{}, RequestErrors: map[ErrorCode]uint64{}}
	for _, r := range []Reason{ReasonTransportClose, ReasonTransportError, ReasonPingTimeout, ReasonForcedClose, ReasonParseError, ReasonWriteBufferFull} {
		st.SessionsClosed[r] = 0
	}
	for c := UnknownTransport; c <= UnsupportedProtocolVersion; c++ {
		st.RequestErrors[c] = 0
	}
	return st
}

// expectStats waits until the server's snapshot is want.
func expectStats(t *testing.T, e *env, want Stats) {
	t.Helper()
	deadline := time.Now().Add(waitShort)
	for {
		got := e.srv.Stats()
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats\n got %+v\nwant %+v", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestStats(t *testing.T) {
	h := newRecorder()
	h.onText = func(s *Session, data []byte) {
		if string(data) == "boom" {
			panic("boom")
		}
	}
	e := newEnvWith(t, testConfig(), h)
	want := zeroStats()
	expectStats(t, e, want)

	// A polling session: two messages in, two out (text and binary).
	sid := e.openPolling(4, "")
	want.PollingSessions, want.SessionsOpened = 1, 1
	expectStats(t, e, want)
	expect(t, e.post(pq(sid), "4hello\x1e4hi"), 200, "ok")
	want.MessagesReceived, want.BytesReceived = 2, 7
	expectStats(t, e, want)
	s := e.srv.Session(sid)
	_ = s.SendText([]byte("abc"))
	_ = s.SendBinary([]byte{1, 2})
	expectStats(t, e, want) // queued is not sent
	expect(t, e.get(pq(sid)), 200, "4abc\x1ebAQI=")
	want.MessagesSent, want.BytesSent = 2, 5
	expectStats(t, e, want)

	// No poll is waiting: a volatile message is dropped.
	if s.SendVolatile(NewTextMessage([]byte("v"))) {
		t.Fatal("volatile message taken")
	}
	want.VolatileDropped = 1
	expectStats(t, e, want)

	// The upgrade moves the session to the WebSocket gauge.
	c := e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	c.sendText("5")
	want.PollingSessions, want.WebSocketSessions, want.Upgrades = 0, 1, 1
	expectStats(t, e, want)
	_ = s.SendText([]byte("xyz"))
	c.expectText("4xyz")
	want.MessagesSent, want.BytesSent = 3, 8
	expectStats(t, e, want)

	// A session opened on WebSocket whose handler panics.
	c2, sid2 := e.openWS(4)
	want.WebSocketSessions, want.SessionsOpened = 2, 2
	expectStats(t, e, want)
	c2.sendText("4boom")
	c2.expectClose(1005)
	e.h.waitClosed(t, sid2, ReasonTransportError)
	want.WebSocketSessions = 1
	want.MessagesReceived, want.BytesReceived = 3, 11
	want.HandlerPanics = 1
	want.SessionsClosed[ReasonTransportError] = 1
	expectStats(t, e, want)

	c.sendClose(1000)
	c.expectClose(1000)
	e.h.waitClosed(t, sid, ReasonTransportClose)
	want.WebSocketSessions = 0
	want.SessionsClosed[ReasonTransportClose] = 1
	expectStats(t, e, want)

	// Refused requests, by code.
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	expectError(t, e.get("EIO=4&transport=abc"), 400, 0, "Transport unknown")
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=abc"), 400, "Transport unknown")
	want.RequestErrors[UnknownSID] = 1
	want.RequestErrors[UnknownTransport] = 2
	expectStats(t, e, want)
	if got := e.srv.Stats(); got.Sessions() != 0 {
		t.Fatalf("Sessions() = %d", got.Sessions())
	}
}

// A close reason the counters do not list is counted as "other".
func TestStatsOtherReason(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	e.srv.Session(sid).fail(Reason("made up"), nil)
	e.h.waitClosed(t, sid, Reason("made up"))
	want := zeroStats()
	want.SessionsOpened = 1
	want.SessionsClosed[reasonOther] = 1
	expectStats(t, e, want)
}

// The counters of a message sent to many sessions from many goroutines
// add up, and the gauges come back to zero.
func TestStatsConcurrent(t *testing.T) {
	e := newEnv(t, testConfig())
	const n = 8
	clients := make([]*wsClient, n)
	sessions := make([]*Session, n)
	for i := range clients {
		var sid string
		clients[i], sid = e.openWS(4)
		sessions[i] = e.srv.Session(sid)
	}
	msg := NewTextMessage([]byte("0123456789"))
	const rounds = 50
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for _, s := range sessions {
					_ = s.Send(msg)
				}
				_ = e.srv.Stats()
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		for range 4 * rounds {
			c.expectText("40123456789")
		}
	}
	want := zeroStats()
	want.WebSocketSessions, want.SessionsOpened = n, n
	want.MessagesSent, want.BytesSent = n*4*rounds, n*4*rounds*10
	expectStats(t, e, want)
	for _, c := range clients {
		c.sendClose(1000)
		c.expectClose(1000)
	}
	want.WebSocketSessions = 0
	want.SessionsClosed[ReasonTransportClose] = n
	expectStats(t, e, want)
}
