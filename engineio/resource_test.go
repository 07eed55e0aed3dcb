package engineio

import (
	"context"
	"github.com/go-sio/sio/internal/gopool"
	"strings"
	"testing"
	"time"
)

const resourceClients = 200

// warmUp starts what lives for the server's lifetime (the poller, pooled
// HTTP connections) so that it is part of the baseline.
func warmUp(t *testing.T, e *env) int {
	t.Helper()
	c, sid := e.openWS(4)
	c.sendClose(1000)
	c.expectClose(1000)
	e.waitGone(sid)
	psid := e.openPolling(4, "")
	expect(t, e.post(pq(psid), "1"), 200, "ok")
	e.waitGone(psid)
	e.client.CloseIdleConnections()
	// Pooled goroutines that served the warm-up exit once idle.
	time.Sleep(gopool.IdleTimeout + 100*time.Millisecond)
	return settleGoroutines(t, 0, 200*time.Millisecond)
}

func checkBaseline(t *testing.T, e *env, base int) {
	t.Helper()
	eventually(t, waitLong, "SessionCount 0", func() bool { return e.srv.SessionCount() == 0 })
	e.client.CloseIdleConnections()
	if n := settleGoroutines(t, base+3, 5*time.Second); n > base+3 {
		t.Fatalf("%d goroutines, baseline %d\n%s", n, base, dumpGoroutines())
	}
}

// After many clients come and go over every transport and every way of
// leaving, no session and no goroutine is left behind.
func TestResourcesReturnToBaseline(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	forEachWebSocketMode(t, cfg, func(t *testing.T, e *env) {
		base := warmUp(t, e)
		for i := range resourceClients {
			c, sid := e.openWS(4)
			c.sendText("4hi")
			switch i % 4 {
			case 0: // close frame
				c.sendClose(1000)
				c.expectClose(1000)
			case 1: // close packet
				c.sendText("1")
				c.expectClose(1005)
			case 2: // TCP drop
				c.close()
			case 3: // the server closes
				eventually(t, waitShort, "message", func() bool { return len(e.h.texts(sid)) == 1 })
				e.srv.Session(sid).Close()
				c.expectClose(1000)
			}
			c.close()

			sid = e.openPolling(4, "")
			expect(t, e.post(pq(sid), "4hi"), 200, "ok")
			switch i % 4 {
			case 0: // close packet
				expect(t, e.post(pq(sid), "1"), 200, "ok")
			case 1: // upgrade, then drop
				c := e.dialWS(upgradeQuery(sid))
				c.sendText("2probe")
				c.expectText("3probe")
				c.sendText("5")
				c.close()
			case 2: // parse error
				e.post(pq(sid), "x")
			case 3: // aborted poll while a probe is open
				probe := e.dialWS(upgradeQuery(sid))
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() { defer close(done); _, _ = e.doErr(ctx, "GET", pq(sid), nil, nil) }()
				e.waitPolling(sid)
				cancel()
				<-done
				probe.expectEOF()
			}
		}
		checkBaseline(t, e, base)
		if n := e.h.messages.Load(); n < 2*resourceClients {
			t.Fatalf("%d messages", n)
		}
	})
}

// An idle session on the event poller holds no goroutine: with 200 idle
// WebSocket sessions the goroutine count stays near the baseline (the
// blocking fallback needs one per connection).
func TestIdleWebSocketHoldsNoGoroutine(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		base := warmUp(t, e)
		clients := make([]*wsClient, 0, resourceClients)
		for range resourceClients {
			c, _ := e.openWS(4)
			clients = append(clients, c)
		}
		// Every session did some work and is idle again.
		for _, c := range clients {
			c.sendText("4x")
		}
		eventually(t, waitLong, "messages", func() bool { return e.h.messages.Load() == resourceClients })
		e.srv.Sessions(func(s *Session) bool { s.SendText([]byte("y")); return true })
		for _, c := range clients {
			c.expectText("4y")
		}
		if e.srv.SessionCount() != resourceClients {
			t.Fatalf("SessionCount %d", e.srv.SessionCount())
		}
		n := settleGoroutines(t, base+10, 2*time.Second)
		t.Logf("%d goroutines with %d idle WebSocket sessions (baseline %d, blocking=%v)",
			n, resourceClients, base, e.srv.Config().BlockingWebSocket)
		if e.srv.Config().BlockingWebSocket {
			if n < base+resourceClients {
				t.Fatalf("blocking mode with %d goroutines", n)
			}
		} else if n > base+10 {
			t.Fatalf("%d goroutines for %d idle sessions, baseline %d\n%s", n, resourceClients, base,
				firstLines(dumpGoroutines(), 80))
		}
		for _, c := range clients {
			c.close()
		}
		checkBaseline(t, e, base)
	})
}

// Idle polling sessions hold no goroutine either (only a waiting GET has
// its request goroutine).
func TestIdlePollingHoldsNoGoroutine(t *testing.T) {
	e := newEnv(t, testConfig())
	base := warmUp(t, e)
	sids := make([]string, 0, resourceClients)
	for range resourceClients {
		sids = append(sids, e.openPolling(4, ""))
	}
	e.client.CloseIdleConnections()
	if n := settleGoroutines(t, base+3, 2*time.Second); n > base+3 {
		t.Fatalf("%d goroutines for %d idle polling sessions, baseline %d", n, resourceClients, base)
	}
	for _, sid := range sids {
		e.srv.Session(sid).Close()
	}
	// Closing sessions wait for a poll to deliver the close packet.
	for _, sid := range sids {
		expect(t, e.get(pq(sid)), 200, "1")
	}
	checkBaseline(t, e, base)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
