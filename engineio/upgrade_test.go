package engineio

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func upgradeQuery(sid string) string { return "EIO=4&transport=websocket&sid=" + sid }

// Protocol test suite "upgrade / successfully upgrades from HTTP
// long-polling to WebSocket".
func TestUpgrade(t *testing.T) {
	h := newRecorder()
	h.echo = true
	forEachWebSocketModeWith(t, testConfig(), h, func(t *testing.T, e *env) {
		sid := e.openPolling(4, "")
		c := e.dialWS(upgradeQuery(sid))
		c.sendText("2probe")
		c.expectText("3probe")
		// The next poll is released with a noop.
		start := time.Now()
		expect(t, e.get(pq(sid)), 200, "6")
		if d := time.Since(start); d > time.Second { // noops every 100 ms; slack for loaded machines
			t.Fatalf("noop after %v", d)
		}
		if s := e.srv.Session(sid); s.Transport() != Polling {
			t.Fatal("upgraded before the upgrade packet")
		}
		c.sendText("5")
		c.sendText("4hello")
		c.expectText("4hello")
		if s := e.srv.Session(sid); s.Transport() != WebSocket {
			t.Fatalf("transport %s", s.Transport())
		}
		// Server to client over the new transport.
		e.srv.Session(sid).SendText([]byte("ws"))
		c.expectText("4ws")
		c.sendClose(1000)
		c.expectClose(1000)
		e.h.waitClosed(t, sid, ReasonTransportClose)
	})
}

// BAD-INPUTS row 26: a poll waiting when the probe arrives is released at
// once, and new polls during the upgrade within about 100 ms.
func TestUpgradeReleasesPoll(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	poll := e.pollAsync(pq(sid))
	e.waitPolling(sid)
	c := e.dialWS(upgradeQuery(sid))
	start := time.Now()
	c.sendText("2probe")
	c.expectText("3probe")
	expect(t, recv(t, poll, waitShort, "the waiting poll"), 200, "6")
	d := time.Since(start)
	t.Logf("waiting poll released %v after the probe was sent", d)
	if d > time.Second { // at once in fact; slack for loaded machines
		t.Fatalf("waiting poll released after %v", d)
	}
	for range 3 {
		start = time.Now()
		expect(t, e.get(pq(sid)), 200, "6")
		d := time.Since(start)
		t.Logf("poll during the upgrade released after %v", d)
		if d > time.Second { // noops every 100 ms; slack for loaded machines
			t.Fatalf("poll during upgrade released after %v", d)
		}
	}
	c.sendText("5")
	c.expectNoFrame(50 * time.Millisecond) // no stray noop on the WebSocket
	expectError(t, e.get(pq(sid)), 400, 3, "Bad request")
}

// BAD-INPUTS row 25; protocol test suite "ignores HTTP requests with same
// sid after upgrade" and "ignores WebSocket connection with same sid after
// upgrade".
func TestUpgradeAfterUpgrade(t *testing.T) {
	h := newRecorder()
	h.echo = true
	forEachWebSocketModeWith(t, testConfig(), h, func(t *testing.T, e *env) {
		sid := e.openPolling(4, "")
		c := e.dialWS(upgradeQuery(sid))
		c.sendText("2probe")
		c.expectText("3probe")
		c.sendText("5")
		eventually(t, waitShort, "the upgrade", func() bool { return e.srv.Session(sid).Transport() == WebSocket })

		expectError(t, e.get(pq(sid)), 400, 3, "Bad request")
		expectError(t, e.post(pq(sid), "4x"), 400, 3, "Bad request")

		second := e.dialWS(upgradeQuery(sid))
		second.expectClose(1005)
		// The established WebSocket keeps working.
		c.sendText("4hello")
		c.expectText("4hello")
		if got := e.h.texts(sid); len(got) != 1 {
			t.Fatalf("texts %q", got)
		}
	})
}

// A second probe while one is under way is closed; the first continues.
func TestUpgradeSecondProbe(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	c := e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	second := e.dialWS(upgradeQuery(sid))
	second.expectClose(1005)
	c.sendText("5")
	e.srv.Session(sid).SendText([]byte("x"))
	c.expectText("4x")
}

// BAD-INPUTS row 26: "4hello" before "2probe" closes only the probe. (An
// upgrade packet without the probe upgrades, as in the reference.)
func TestUpgradeBadProbe(t *testing.T) {
	for _, first := range []string{"4hello", "2", "2prob", "3probe", "abc", "1"} {
		e := newEnv(t, testConfig())
		sid := e.openPolling(4, "")
		c := e.dialWS(upgradeQuery(sid))
		c.sendText(first)
		c.expectEOF()
		if len(e.h.texts(sid)) != 0 {
			t.Fatalf("%q delivered from a probe", first)
		}
		// The polling session continues, and may try again.
		e.srv.Session(sid).SendText([]byte("still"))
		expect(t, e.get(pq(sid)), 200, "4still")
		expect(t, e.post(pq(sid), "4hi"), 200, "ok")
		c = e.dialWS(upgradeQuery(sid))
		c.sendText("2probe")
		c.expectText("3probe")
		c.sendText("5")
		c.sendText("4ws")
		eventually(t, waitShort, "messages", func() bool { return len(e.h.texts(sid)) == 2 })
		if _, closed := e.h.closeEvent(sid); closed {
			t.Fatal("session closed")
		}
	}
}

// BAD-INPUTS row 26: a probe that never completes is closed after
// UpgradeTimeout; the session stays on polling.
func TestUpgradeTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.UpgradeTimeout = 200 * time.Millisecond
	e := newEnv(t, cfg)
	for _, probe := range []bool{false, true} {
		sid := e.openPolling(4, "")
		c := e.dialWS(upgradeQuery(sid))
		start := time.Now()
		if probe {
			c.sendText("2probe")
			c.expectText("3probe")
		}
		c.expectEOF()
		checkElapsed(t, "probe closed", time.Since(start), 150*time.Millisecond, 2*time.Second)
		s := e.srv.Session(sid)
		if s == nil || s.Transport() != Polling {
			t.Fatal("session gone or upgraded")
		}
		// No more noops: a poll waits again.
		poll := e.pollAsync(pq(sid))
		e.waitPolling(sid)
		time.Sleep(150 * time.Millisecond)
		s.SendText([]byte("after"))
		expect(t, recv(t, poll, waitShort, "the poll"), 200, "4after")
	}
}

// A client that drops its probe leaves the session on polling.
func TestUpgradeProbeDropped(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	c := e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	c.close()
	eventually(t, waitShort, "the probe to be forgotten", func() bool {
		s := e.srv.Session(sid)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.probe == nil && !s.upgrading
	})
	e.srv.Session(sid).SendText([]byte("x"))
	expect(t, e.get(pq(sid)), 200, "4x")
	// And it can upgrade later.
	c = e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	c.sendText("5")
	e.srv.Session(sid).SendText([]byte("y"))
	c.expectText("4y")
}

// Close during an upgrade: the queue is still delivered on the WebSocket,
// then the session closes (socketio/engine.io#284).
func TestUpgradeCloseWhileUpgrading(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	c := e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	s := e.srv.Session(sid)
	s.SendText([]byte("last"))
	s.Close()
	c.sendText("5")
	c.expectText("4last")
	c.expectClose(1000)
	e.h.waitClosed(t, sid, ReasonForcedClose)
}

// Upgrades are refused when disabled: the WebSocket is closed, the
// session continues.
func TestUpgradeDisallowed(t *testing.T) {
	cfg := testConfig()
	cfg.DisallowUpgrades = true
	e := newEnv(t, cfg)
	rep := e.get("EIO=4&transport=polling")
	sid := checkOpen(t, string(rep.body), `[]`, e.srv.Config())
	c := e.dialWS(upgradeQuery(sid))
	c.expectClose(1005)
	e.srv.Session(sid).SendText([]byte("x"))
	expect(t, e.get(pq(sid)), 200, "4x")
}

// Revision 3 upgrade.
func TestUpgradeRev3(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	h := newRecorder()
	h.echo = true
	e := newEnvWith(t, cfg, h)
	sid := e.openPolling(3, "")
	c := e.dialWS("EIO=3&transport=websocket&sid=" + sid)
	c.sendText("2probe")
	c.expectText("3probe")
	expect(t, e.get(pq3(sid)), 200, "1:6")
	c.sendText("5")
	c.sendText("4hello")
	c.expectText("4hello")
	c.sendText("2")
	c.expectText("3")
	e.srv.Session(sid).SendBinary([]byte{1})
	c.expectBinary([]byte{4, 1})
}

// Delivery guarantee across the upgrade (BAD-INPUTS section 6): messages
// sent continuously by the server while the client upgrades arrive
// exactly once and in order, part over polling, the rest over the
// WebSocket. Messages from the client keep their order too.
func TestUpgradeNoLossNoDuplicates(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		for round := range 3 {
			upgradeUnderLoad(t, e, round)
		}
	})
}

func upgradeUnderLoad(t *testing.T, e *env, round int) {
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)

	// The server sends m0, m1, ... until told to stop.
	var stop atomic.Bool
	sent := make(chan int, 1)
	go func() {
		i := 0
		for !stop.Load() {
			if err := s.SendText([]byte("m" + strconv.Itoa(i))); err != nil {
				break
			}
			i++
			if i%4 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		sent <- i
	}()

	var got []string
	add := func(pkt string) {
		switch {
		case strings.HasPrefix(pkt, "4"):
			got = append(got, pkt[1:])
		case pkt == "6":
		default:
			t.Errorf("unexpected packet %q", pkt)
		}
	}
	// The client polls while it probes, as engine.io-client does.
	var pollMu sync.Mutex
	paused := false
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for {
			pollMu.Lock()
			p := paused
			pollMu.Unlock()
			if p {
				return
			}
			rep, err := e.doErr(t.Context(), "GET", pq(sid), nil, nil)
			if err != nil || rep.status != 200 {
				t.Errorf("poll: %v %v", rep, err)
				return
			}
			pollMu.Lock()
			for _, pkt := range strings.Split(string(rep.body), "\x1e") {
				add(pkt)
			}
			pollMu.Unlock()
		}
	}()
	// Client messages over polling, then over the WebSocket.
	for i := range 10 {
		expect(t, e.post(pq(sid), fmt.Sprintf("4c%d", i)), 200, "ok")
	}
	time.Sleep(time.Duration(5+round*10) * time.Millisecond)
	c := e.dialWS(upgradeQuery(sid))
	c.sendText("2probe")
	c.expectText("3probe")
	// Pause polling: wait for the poll in flight (a noop releases it).
	pollMu.Lock()
	paused = true
	pollMu.Unlock()
	recv(t, pollDone, waitLong, "polling to pause")
	c.sendText("5")
	for i := 10; i < 20; i++ {
		c.sendText(fmt.Sprintf("4c%d", i))
	}
	// Read some messages over the WebSocket, then stop the sender.
	for range 50 {
		f := c.readFrame()
		add(string(f.payload))
	}
	stop.Store(true)
	n := recv(t, sent, waitLong, "the sender")
	for len(got) < n {
		f := c.readFrame()
		add(string(f.payload))
	}
	if len(got) != n {
		t.Fatalf("received %d messages, sent %d", len(got), n)
	}
	for i, m := range got {
		if m != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d is %q (lost, duplicated or reordered); %d sent", i, m, n)
		}
	}
	c.expectNoFrame(20 * time.Millisecond)
	eventually(t, waitShort, "client messages", func() bool { return len(e.h.texts(sid)) == 20 })
	for i, m := range e.h.texts(sid) {
		if m != fmt.Sprintf("c%d", i) {
			t.Fatalf("client message %d is %q", i, m)
		}
	}
	t.Logf("round %d: %d messages across the upgrade", round, n)
	c.close()
	e.h.waitClosed(t, sid, ReasonTransportClose)
}
