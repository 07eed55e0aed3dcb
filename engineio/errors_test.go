package engineio

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// expectUpgradeError checks the reply to a WebSocket upgrade request that
// was refused: status, text body, and the connection closed.
func expectUpgradeError(t testing.TB, c *wsClient, status int, message string) {
	t.Helper()
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != status || string(body) != message {
		t.Fatalf("upgrade reply %s %q, want %d %q", c.resp.Status, body, status, message)
	}
	if ct := c.resp.Header.Get("Content-Type"); ct != "text/html" {
		t.Fatalf("Content-Type %q", ct)
	}
	if !c.resp.Close {
		t.Fatalf("no Connection: close")
	}
	c.expectEOF()
}

// BAD-INPUTS row 1
func TestErrorUnknownTransport(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	for _, q := range []string{
		"EIO=4&transport=__proto__",
		"EIO=4&transport=constructor",
		"EIO=4&transport=abc",
		"EIO=4",
		"EIO=3",
		"EIO=4&transport=webtransport",
		"EIO=4&transport=Polling",
		"EIO=4&transport=__proto__&sid=x",
	} {
		expectError(t, e.get(q), 400, 0, "Transport unknown")
		expectUpgradeError(t, e.dialWSRaw(q), 400, "Transport unknown")
	}
	// A disabled transport is unknown too.
	cfg.Transports = []string{Polling}
	e = newEnv(t, cfg)
	expectError(t, e.get("EIO=4&transport=websocket"), 400, 0, "Transport unknown")
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket"), 400, "Transport unknown")
	if e.srv.SessionCount() != 0 {
		t.Fatal("a session was opened")
	}
}

// BAD-INPUTS row 2
func TestErrorUnsupportedProtocol(t *testing.T) {
	e := newEnv(t, testConfig()) // AllowEIO3 off
	for _, q := range []string{
		"transport=polling",
		"EIO=abc&transport=polling",
		"EIO=3&transport=polling",
		"EIO=5&transport=polling",
		"EIO=&transport=polling",
	} {
		expectError(t, e.get(q), 400, 5, "Unsupported protocol version")
	}
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=3&transport=websocket"} {
		expectUpgradeError(t, e.dialWSRaw(q), 400, "Unsupported protocol version")
	}
	if e.srv.SessionCount() != 0 {
		t.Fatal("a session was opened")
	}
	// With AllowEIO3 a missing or invalid EIO means revision 3.
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e = newEnv(t, cfg)
	for _, q := range []string{"transport=polling", "EIO=abc&transport=polling"} {
		rep := e.get(q)
		if rep.status != 200 || !strings.Contains(string(rep.body), ":0{") {
			t.Fatalf("%s: %v", q, rep)
		}
	}
}

// BAD-INPUTS row 3
func TestErrorBadHandshakeMethod(t *testing.T) {
	e := newEnv(t, testConfig())
	for _, m := range []string{"POST", "PUT", "OPTIONS", "DELETE", "PATCH"} {
		expectError(t, e.do(m, "EIO=4&transport=polling", strings.NewReader("4x"), nil), 400, 2, "Bad handshake method")
	}
	if e.srv.SessionCount() != 0 {
		t.Fatal("a session was opened")
	}
}

// BAD-INPUTS row 4
func TestErrorWebSocketHandshakeWithoutUpgrade(t *testing.T) {
	e := newEnv(t, testConfig())
	expectError(t, e.get("EIO=4&transport=websocket"), 400, 3, "Bad request")
	// Upgrade header present but Connection without the upgrade token.
	conn, _, resp := e.rawHTTP("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" +
		"Sec-WebSocket-Key: " + testWSKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
	defer conn.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	if resp.StatusCode != 400 || string(body) != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("%s %q", resp.Status, body)
	}
	if e.srv.SessionCount() != 0 {
		t.Fatal("a session was opened")
	}
}

// BAD-INPUTS row 5: a WebSocket request for a polling session without the
// upgrade headers must not be served as a poll (it would take the queued
// packets).
func TestErrorTransportMismatch(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)
	if err := s.SendText([]byte("queued")); err != nil {
		t.Fatal(err)
	}
	expectError(t, e.get("EIO=4&transport=websocket&sid="+sid), 400, 3, "Bad request")
	expectError(t, e.post("EIO=4&transport=websocket&sid="+sid, "4x"), 400, 3, "Bad request")
	// The packet is still there for the real poll, and the session lives.
	expect(t, e.get(pq(sid)), 200, "4queued")
	if len(e.h.texts(sid)) != 0 {
		t.Fatalf("the mismatched POST was delivered: %q", e.h.texts(sid))
	}
}

// BAD-INPUTS row 6
func TestErrorUnknownSID(t *testing.T) {
	e := newEnv(t, testConfig())
	closedSID := e.openPolling(4, "")
	expect(t, e.post(pq(closedSID), "1"), 200, "ok")
	e.waitGone(closedSID)
	for _, sid := range []string{"AAAAAAAAAAAAAAAAAAAA", "__proto__", "constructor", "", closedSID, "hasOwnProperty"} {
		expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
		expectError(t, e.post(pq(sid), "4x"), 400, 1, "Session ID unknown")
		expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket&sid="+sid), 400, "Session ID unknown")
	}
	if e.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

// BAD-INPUTS row 7: Go's HTTP server already refuses such header values on
// the wire, so the check is exercised on the handler directly.
func TestErrorInvalidOrigin(t *testing.T) {
	e := newEnv(t, testConfig())
	for _, origin := range []string{"http://engine.io/\n", "http://a\x7f", "\x00", "http://a\rb"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
		req.Header["Origin"] = []string{origin}
		e.srv.ServeHTTP(rec, req)
		if rec.Code != 400 || rec.Body.String() != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("origin %q: %d %q", origin, rec.Code, rec.Body)
		}
	}
	// A tab is a valid header character.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
	req.Header["Origin"] = []string{"http://a\tb"}
	e.srv.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("tab in origin: %d %q", rec.Code, rec.Body)
	}
	// Over the wire the process answers 400 and survives.
	conn, _, resp := e.rawHTTP("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a\x7f\r\n\r\n")
	conn.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e.openPolling(4, "")
}

// BAD-INPUTS row 22
func TestErrorBadMethodOnSession(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS"} {
		expectError(t, e.do(m, pq(sid), strings.NewReader("4x"), nil), 400, 3, "Bad request")
	}
	// The session is unaffected.
	expect(t, e.post(pq(sid), "4still"), 200, "ok")
	eventually(t, waitShort, "delivery", func() bool { return len(e.h.texts(sid)) == 1 })
}

// BAD-INPUTS row 27: the protocol revision is pinned per session.
func TestErrorRevisionMismatch(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	sid := e.openPolling(4, "")
	expectError(t, e.get(pq3(sid)), 400, 3, "Bad request")
	expectError(t, e.get("transport=polling&sid="+sid), 400, 3, "Bad request")
	expectUpgradeError(t, e.dialWSRaw("EIO=3&transport=websocket&sid="+sid), 400, "Bad request")
	sid3 := e.openPolling(3, "")
	expectError(t, e.get(pq(sid3)), 400, 3, "Bad request")
	// Both sessions are unaffected.
	e.srv.Session(sid).SendText([]byte("a"))
	expect(t, e.get(pq(sid)), 200, "4a")
	e.srv.Session(sid3).SendText([]byte("b"))
	expect(t, e.get(pq3(sid3)), 200, "2:4b")
}

// BAD-INPUTS row 11
func TestErrorBadUpgradeHeaders(t *testing.T) {
	e := newEnv(t, testConfig())
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket", "-Sec-WebSocket-Key"), 400, "Bad request")
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket", "-Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ="), 400, "Bad request")
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket", "-Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), 400, "Bad request")
	// Without Upgrade it is not an upgrade request at all.
	c := e.dialWSRaw("EIO=4&transport=websocket", "-Upgrade")
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != 400 || string(body) != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("%s %q", c.resp.Status, body)
	}

	// 2,001 headers: no crash, the key is still found.
	many := make([]string, 0, 2001)
	for i := range 2001 {
		many = append(many, "X-Filler-"+itoa(i)+": v")
	}
	c = e.dialWSRaw("EIO=4&transport=websocket", append(many, "-Sec-WebSocket-Key")...)
	expectUpgradeError(t, c, 400, "Bad request")
	c = e.dialWS("EIO=4&transport=websocket", many...)
	checkOpen(t, string(c.readFrame().payload), `[]`, e.srv.Config())

	// An upgrade for an existing session with a bad key is refused and
	// leaves the session alone.
	sid := e.openPolling(4, "")
	expectUpgradeError(t, e.dialWSRaw("EIO=4&transport=websocket&sid="+sid, "-Sec-WebSocket-Key"), 400, "Bad request")
	e.srv.Session(sid).SendText([]byte("alive"))
	expect(t, e.get(pq(sid)), 200, "4alive")
}

// BAD-INPUTS row 13
func TestErrorLongSubprotocolHeader(t *testing.T) {
	e := newEnv(t, testConfig())
	start := time.Now()
	c := e.dialWS("EIO=4&transport=websocket", "Sec-WebSocket-Protocol: a"+strings.Repeat(" ", 50000)+",b")
	checkOpen(t, string(c.readFrame().payload), `[]`, e.srv.Config())
	if c.resp.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Fatalf("subprotocol selected: %q", c.resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("handshake took %v", d)
	}
}

// BAD-INPUTS row 10: upgrades on paths that are not the engine's are not
// taken over.
func TestErrorUpgradeOutsidePath(t *testing.T) {
	srv, err := NewServer(testConfig(), newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv) // the engine answers every path
	defer hs.Close()
	e := &env{t: t, srv: srv, hs: hs}
	conn, _, resp := e.rawHTTP("GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0) // reset
	}
	conn.Close()
	c := e.dialWSRaw("EIO=4&transport=websocket", "-Upgrade", "Upgrade: h2c")
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != 400 || string(body) != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("%s %q", c.resp.Status, body)
	}
	if srv.SessionCount() != 0 {
		t.Fatal("a session was opened")
	}
}

// The server's own replies carry the exact reference bodies.
func TestErrorBodies(t *testing.T) {
	for code, msg := range map[ErrorCode]string{
		UnknownTransport:           "Transport unknown",
		UnknownSID:                 "Session ID unknown",
		BadHandshakeMethod:         "Bad handshake method",
		BadRequest:                 "Bad request",
		Forbidden:                  "Forbidden",
		UnsupportedProtocolVersion: "Unsupported protocol version",
	} {
		rec := httptest.NewRecorder()
		writeRequestError(rec, &RequestError{Code: code})
		status := http.StatusBadRequest
		if code == Forbidden {
			status = http.StatusForbidden
		}
		want := `{"code":` + itoa(int(code)) + `,"message":"` + msg + `"}`
		if rec.Code != status || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("code %d: %d %q %v", code, rec.Code, rec.Body, rec.Header())
		}
		if code.String() != msg {
			t.Fatalf("String %q", code.String())
		}
	}
	rec := httptest.NewRecorder()
	writeRequestError(rec, &RequestError{Code: Forbidden, Message: `quote " and \ back`})
	if rec.Body.String() != `{"code":4,"message":"quote \" and \\ back"}` {
		t.Fatalf("%q", rec.Body)
	}
}
