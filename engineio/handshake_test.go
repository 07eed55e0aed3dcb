package engineio

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The open packet over polling, revision 4: protocol test suite
// "handshake / HTTP long-polling / successfully opens a session".
func TestHandshakePollingRev4(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 300 * time.Millisecond
	cfg.PingTimeout = 200 * time.Millisecond
	e := newEnv(t, cfg)

	rep := e.get("EIO=4&transport=polling")
	if rep.status != 200 {
		t.Fatalf("status %d", rep.status)
	}
	if ct := rep.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	if !strings.Contains(string(rep.body), `"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`) {
		t.Fatalf("open packet %s", rep.body)
	}
	if rep.header.Get("Content-Length") != itoa(len(rep.body)) {
		t.Fatalf("Content-Length %q for %d bytes", rep.header.Get("Content-Length"), len(rep.body))
	}
	// No cookie and no CORS by default.
	if c := rep.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("Set-Cookie %q without Config.Cookie", c)
	}
	for k := range rep.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Fatalf("CORS header %s without Config.CORS", k)
		}
	}
	if e.srv.SessionCount() != 1 || e.srv.Session(sid) == nil {
		t.Fatalf("session not registered")
	}
	s := e.srv.Session(sid)
	if s.Protocol() != 4 || s.Transport() != Polling || s.ID() != sid {
		t.Fatalf("session %d %s %s", s.Protocol(), s.Transport(), s.ID())
	}
	evs := e.h.sessionEvents(sid)
	if len(evs) != 1 || evs[0].kind != "open" {
		t.Fatalf("events %+v", evs)
	}
}

func TestHandshakeSIDsDistinct(t *testing.T) {
	e := newEnv(t, testConfig())
	seen := map[string]bool{}
	for range 50 {
		sid := e.openPolling(4, "")
		if seen[sid] {
			t.Fatalf("sid %s issued twice", sid)
		}
		seen[sid] = true
	}
	for range 20 {
		c, sid := e.openWS(4)
		c.close()
		if seen[sid] {
			t.Fatalf("sid %s issued twice", sid)
		}
		seen[sid] = true
	}
}

// Revision 3: the payload is "<length>:<packet>", with or without b64.
// Protocol test suite (v3 branch) "successfully opens a session".
func TestHandshakePollingRev3(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	for _, extra := range []string{"", "b64=1"} {
		q := "EIO=3&transport=polling"
		if extra != "" {
			q += "&" + extra
		}
		rep := e.get(q)
		if rep.status != 200 || rep.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
			t.Fatalf("%s: %v %q", q, rep, rep.header.Get("Content-Type"))
		}
		n, pkt, ok := strings.Cut(string(rep.body), ":")
		if !ok || n != itoa(len(pkt)) {
			t.Fatalf("payload %q", rep.body)
		}
		sid := checkOpen(t, pkt, `["websocket"]`, e.srv.Config())
		if s := e.srv.Session(sid); s == nil || s.Protocol() != 3 {
			t.Fatalf("session %v", s)
		}
	}
}

// Protocol test suite "handshake / WebSocket / successfully opens a
// session", both revisions.
func TestHandshakeWebSocket(t *testing.T) {
	for _, rev := range []int{4, 3} {
		t.Run("EIO"+itoa(rev), func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowEIO3 = true
			e := newEnv(t, cfg)
			c := e.dialWS("EIO=" + itoa(rev) + "&transport=websocket")
			h := c.resp.Header
			if h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade" ||
				h.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("101 headers %v", h)
			}
			if h.Get("Sec-WebSocket-Extensions") != "" {
				t.Fatalf("extension negotiated by default: %q", h.Get("Sec-WebSocket-Extensions"))
			}
			f := c.readFrame()
			if f.op != opText || !f.fin || f.rsv1 {
				t.Fatalf("open frame %v", f)
			}
			sid := checkOpen(t, string(f.payload), `[]`, e.srv.Config())
			s := e.srv.Session(sid)
			if s == nil || s.Transport() != WebSocket || s.Protocol() != rev {
				t.Fatalf("session %v", s)
			}
			// Protocol test suite "sends and receives a plain text packet".
			c.sendText("4hello")
			eventually(t, waitShort, "OnText", func() bool { return len(e.h.texts(sid)) == 1 })
			if got := e.h.texts(sid); got[0] != "hello" {
				t.Fatalf("OnText %q", got)
			}
			c.sendClose(1000)
			c.expectClose(1000)
			e.h.waitClosed(t, sid, ReasonTransportClose)
			e.waitGone(sid)
		})
	}
}

func TestHandshakeUpgradesList(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, `["websocket"]`},
		{"DisallowUpgrades", func(c *Config) { c.DisallowUpgrades = true }, `[]`},
		{"polling only", func(c *Config) { c.Transports = []string{Polling} }, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.cfg(&cfg)
			e := newEnv(t, cfg)
			rep := e.get("EIO=4&transport=polling")
			checkOpen(t, string(rep.body), tc.want, e.srv.Config())
		})
	}
}

func TestHandshakeCookie(t *testing.T) {
	cfg := testConfig()
	cfg.Cookie = &Cookie{}
	e := newEnv(t, cfg)
	rep := e.get("EIO=4&transport=polling")
	sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	got := rep.header.Values("Set-Cookie")
	if want := "io=" + sid + "; Path=/; HttpOnly; SameSite=Lax"; len(got) != 1 || got[0] != want {
		t.Fatalf("Set-Cookie %q, want %q", got, want)
	}
	// Only on the handshake.
	if err := e.srv.Session(sid).SendText([]byte("x")); err != nil {
		t.Fatal(err)
	}
	rep = e.get(pq(sid))
	expect(t, rep, 200, "4x")
	if c := rep.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("Set-Cookie on a poll: %q", c)
	}

	cfg.Cookie = &Cookie{Name: "sticky", Path: "/app", SameSite: http.SameSiteStrictMode, NoHTTPOnly: true, Secure: true}
	e = newEnv(t, cfg)
	rep = e.get("EIO=4&transport=polling")
	sid = checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	if got, want := rep.header.Get("Set-Cookie"), "sticky="+sid+"; Path=/app; Secure; SameSite=Strict"; got != want {
		t.Fatalf("Set-Cookie %q, want %q", got, want)
	}
}

func TestCORSDisabledByDefault(t *testing.T) {
	e := newEnv(t, testConfig())
	rep := e.do("GET", "EIO=4&transport=polling", nil, map[string]string{"Origin": "https://app.example"})
	if rep.status != 200 {
		t.Fatalf("%v", rep)
	}
	for k := range rep.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Fatalf("CORS header %s: %q", k, rep.header.Get(k))
		}
	}
	// Without CORS an OPTIONS handshake is just a bad handshake method.
	// BAD-INPUTS row 3
	expectError(t, e.do("OPTIONS", "EIO=4&transport=polling", nil, map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
	}), 400, 2, "Bad handshake method")
	// And a cross-origin WebSocket handshake is accepted, as in the
	// reference (use AllowRequest or CORS to restrict it).
	c := e.dialWS("EIO=4&transport=websocket", "Origin: https://evil.example")
	f := c.readFrame()
	checkOpen(t, string(f.payload), `[]`, e.srv.Config())
}

// BAD-INPUTS row 8
func TestCORSAllowList(t *testing.T) {
	cfg := testConfig()
	cfg.CORS = &CORS{Origins: []string{"https://app.example"}, Credentials: true}
	e := newEnv(t, cfg)

	// Allowed origin: reflected, with Vary and credentials.
	rep := e.do("GET", "EIO=4&transport=polling", nil, map[string]string{"Origin": "https://app.example"})
	sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	h := rep.header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Vary") != "Origin" ||
		h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", h)
	}
	// POST on the session too.
	rep = e.do("POST", pq(sid), strings.NewReader("4hi"), map[string]string{"Origin": "https://app.example"})
	expect(t, rep, 200, "ok")
	if rep.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("POST CORS headers %v", rep.header)
	}

	// Another origin: no Allow-Origin (the browser blocks the response).
	rep = e.do("GET", "EIO=4&transport=polling", nil, map[string]string{"Origin": "https://evil.example"})
	if rep.header.Get("Access-Control-Allow-Origin") != "" || rep.header.Get("Vary") != "Origin" {
		t.Fatalf("CORS headers for a foreign origin %v", rep.header)
	}

	// Preflight.
	rep = e.do("OPTIONS", "EIO=4&transport=polling", nil, map[string]string{
		"Origin":                         "https://app.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type,x-token",
	})
	if rep.status != 204 || len(rep.body) != 0 {
		t.Fatalf("preflight %v", rep)
	}
	h = rep.header
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Methods":     "GET,HEAD,PUT,PATCH,POST,DELETE",
		"Access-Control-Allow-Headers":     "content-type,x-token",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := h.Get(k); got != want {
			t.Fatalf("preflight %s = %q, want %q", k, got, want)
		}
	}
	if v := h.Values("Vary"); strings.Join(v, ", ") != "Origin, Access-Control-Request-Headers" {
		t.Fatalf("preflight Vary %q", v)
	}
	if e.srv.SessionCount() != 2 {
		t.Fatalf("preflight created a session: %d", e.srv.SessionCount())
	}

	// WebSocket handshakes are checked against the same list.
	c := e.dialWSRaw("EIO=4&transport=websocket", "Origin: https://evil.example")
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != 403 || string(body) != "Forbidden" {
		t.Fatalf("foreign-origin upgrade: %s %q", c.resp.Status, body)
	}
	c.expectEOF()
	c = e.dialWS("EIO=4&transport=websocket", "Origin: https://app.example")
	checkOpen(t, string(c.readFrame().payload), `[]`, e.srv.Config())
	if e.srv.SessionCount() != 3 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

func TestCORSWildcard(t *testing.T) {
	cfg := testConfig()
	cfg.CORS = &CORS{Origins: []string{"*"}, Methods: []string{"GET", "POST"}, MaxAge: 600, ExposedHeaders: []string{"X-A"}}
	e := newEnv(t, cfg)
	rep := e.do("GET", "EIO=4&transport=polling", nil, map[string]string{"Origin": "https://any.example"})
	if rep.header.Get("Access-Control-Allow-Origin") != "*" || rep.header.Get("Access-Control-Expose-Headers") != "X-A" ||
		rep.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("headers %v", rep.header)
	}
	rep = e.do("OPTIONS", "EIO=4&transport=polling", nil, map[string]string{"Origin": "https://any.example"})
	if rep.status != 204 || rep.header.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		rep.header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight %v %v", rep, rep.header)
	}
}

func TestAllowRequest(t *testing.T) {
	cfg := testConfig()
	calls := 0
	cfg.AllowRequest = func(r *http.Request) error {
		calls++
		if r.URL.Query().Get("token") != "good" {
			return errors.New("Thou shall not pass")
		}
		return nil
	}
	e := newEnv(t, cfg)
	rep := e.get("EIO=4&transport=polling&token=bad")
	expectError(t, rep, 403, 4, "Thou shall not pass")
	c := e.dialWSRaw("EIO=4&transport=websocket&token=bad")
	body, _ := io.ReadAll(c.resp.Body)
	if c.resp.StatusCode != 403 || string(body) != "Thou shall not pass" {
		t.Fatalf("upgrade: %s %q", c.resp.Status, body)
	}
	if e.srv.SessionCount() != 0 {
		t.Fatalf("rejected handshakes opened sessions")
	}
	sid := e.openPolling(4, "token=good")
	n := calls
	// Not called for requests of an established session.
	e.srv.Session(sid).SendText([]byte("a"))
	expect(t, e.get(pq(sid)), 200, "4a")
	expect(t, e.post(pq(sid), "4b"), 200, "ok")
	if calls != n {
		t.Fatalf("AllowRequest called for a session request")
	}
}

func TestInitialPacket(t *testing.T) {
	cfg := testConfig()
	cfg.InitialPacket = []byte("welcome")
	e := newEnv(t, cfg)
	rep := e.get("EIO=4&transport=polling")
	open, rest, ok := strings.Cut(string(rep.body), "\x1e")
	if !ok || rest != "4welcome" {
		t.Fatalf("handshake payload %q", rep.body)
	}
	checkOpen(t, open, `["websocket"]`, e.srv.Config())

	c, _ := e.openWS(4)
	c.expectText("4welcome")
}

// What OnOpen sends follows the open packet in the handshake response.
func TestOnOpenSendFollowsOpen(t *testing.T) {
	h := newRecorder()
	h.onOpen = func(s *Session) { _ = s.SendText([]byte("first")); _ = s.SendBinary([]byte{1, 2}) }
	e := newEnvWith(t, testConfig(), h)
	rep := e.get("EIO=4&transport=polling")
	parts := strings.Split(string(rep.body), "\x1e")
	if len(parts) != 3 || parts[1] != "4first" || parts[2] != "bAQI=" {
		t.Fatalf("payload %q", rep.body)
	}
	c, _ := e.openWS(4)
	c.expectText("4first")
	c.expectBinary([]byte{1, 2})
}

func TestPathMount(t *testing.T) {
	cfg := testConfig()
	cfg.Path = "/socket.io"
	e := newEnv(t, cfg)
	if e.srv.Config().Path != "/socket.io/" {
		t.Fatalf("Path %q", e.srv.Config().Path)
	}
	rep := e.get("EIO=4&transport=polling")
	checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	// Requests outside the path are not the engine's.
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest("GET", "/other/?EIO=4&transport=polling", nil)
	e.srv.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Fatalf("outside the path: %d", rec.Code)
	}
}

func TestNewServerValidates(t *testing.T) {
	for _, cfg := range []Config{
		{Path: "engine.io"},
		{PingInterval: -1},
		{MaxHTTPBufferSize: -5},
		{Transports: []string{"webtransport"}},
	} {
		if _, err := NewServer(cfg, newRecorder()); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("NewServer(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := NewServer(Config{}, nil); err == nil {
		t.Fatal("nil handler accepted")
	}
	srv, err := NewServer(Config{}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.Config()
	if c.Path != "/engine.io/" || c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second ||
		c.UpgradeTimeout != 10*time.Second || c.MaxHTTPBufferSize != 1e6 || c.AllowEIO3 ||
		c.PerMessageDeflate != nil || c.CORS != nil || c.Cookie != nil || c.HTTPCompression.Threshold != 1024 {
		t.Fatalf("defaults %+v", c)
	}
}
