package engineio

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test-wide timing: generous enough for -race on a small machine.
const (
	waitShort = 2 * time.Second
	waitLong  = 10 * time.Second
)

// ---------------------------------------------------------------------------
// Recording handler

type event struct {
	kind   string // "open", "text", "binary", "close"
	data   []byte
	reason Reason
	err    error
}

// recorder is a Handler that records every event per session. With echo
// set it sends each message back, as the protocol test suite's server does.
type recorder struct {
	echo    bool
	onOpen  func(*Session)
	onText  func(*Session, []byte)
	onClose func(*Session, Reason)

	mu         sync.Mutex
	events     map[string][]event
	sessions   map[string]*Session
	messages   atomic.Int64
	closes     atomic.Int64
	afterClose atomic.Int64 // calls for a session after its OnClose
}

func newRecorder() *recorder {
	return &recorder{events: map[string][]event{}, sessions: map[string]*Session{}}
}

func (r *recorder) add(s *Session, ev event) {
	r.mu.Lock()
	evs := r.events[s.ID()]
	if n := len(evs); n > 0 && evs[n-1].kind == "close" {
		r.afterClose.Add(1) // OnClose must be the last call
	}
	r.events[s.ID()] = append(evs, ev)
	r.mu.Unlock()
}

func (r *recorder) OnOpen(s *Session) {
	r.mu.Lock()
	r.sessions[s.ID()] = s
	r.mu.Unlock()
	r.add(s, event{kind: "open"})
	if r.onOpen != nil {
		r.onOpen(s)
	}
}

func (r *recorder) OnText(s *Session, data []byte) {
	r.messages.Add(1)
	r.add(s, event{kind: "text", data: data})
	if r.onText != nil {
		r.onText(s, data)
	}
	if r.echo {
		_ = s.SendText(data)
	}
}

func (r *recorder) OnBinary(s *Session, data []byte) {
	r.messages.Add(1)
	r.add(s, event{kind: "binary", data: data})
	if r.echo {
		_ = s.SendBinary(data)
	}
}

func (r *recorder) OnClose(s *Session, reason Reason, err error) {
	if r.onClose != nil {
		r.onClose(s, reason)
	}
	r.closes.Add(1)
	r.add(s, event{kind: "close", reason: reason, err: err})
}

func (r *recorder) sessionEvents(sid string) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events[sid]...)
}

func (r *recorder) session(sid string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[sid]
}

// texts returns the text messages received from sid, in order.
func (r *recorder) texts(sid string) []string {
	var out []string
	for _, ev := range r.sessionEvents(sid) {
		if ev.kind == "text" {
			out = append(out, string(ev.data))
		}
	}
	return out
}

// closeEvent returns the close event of sid, if it happened.
func (r *recorder) closeEvent(sid string) (event, bool) {
	for _, ev := range r.sessionEvents(sid) {
		if ev.kind == "close" {
			return ev, true
		}
	}
	return event{}, false
}

// waitClosed waits for the OnClose of sid and checks its reason.
func (r *recorder) waitClosed(t testing.TB, sid string, want Reason) event {
	t.Helper()
	var ev event
	eventually(t, waitLong, "OnClose of "+sid, func() bool {
		var ok bool
		ev, ok = r.closeEvent(sid)
		return ok
	})
	if ev.reason != want {
		t.Fatalf("OnClose reason = %q (err %v), want %q", ev.reason, ev.err, want)
	}
	// OnClose is the last call for a session.
	evs := r.sessionEvents(sid)
	if last := evs[len(evs)-1]; last.kind != "close" {
		t.Fatalf("event after OnClose: %+v", last)
	}
	closes := 0
	for _, e := range evs {
		if e.kind == "close" {
			closes++
		}
	}
	if closes != 1 {
		t.Fatalf("OnClose called %d times", closes)
	}
	return ev
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Test environment: a Server on a real TCP listener.

type env struct {
	t      testing.TB
	srv    *Server
	h      *recorder
	hs     *httptest.Server
	client *http.Client
}

// testConfig is the base configuration: heartbeats long enough not to
// interfere with tests that are not about them.
func testConfig() Config {
	return Config{
		PingInterval: 10 * time.Second,
		PingTimeout:  5 * time.Second,
		Logger:       discardLogger(),
	}
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	return newEnvWith(t, cfg, newRecorder())
}

func newEnvWith(t testing.TB, cfg Config, h *recorder) *env {
	t.Helper()
	return newEnvHandler(t, cfg, h, h)
}

// newEnvHandler serves handler, which records its events in h.
func newEnvHandler(t testing.TB, cfg Config, handler Handler, h *recorder) *env {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	srv, err := NewServer(cfg, handler)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Config().Path, srv)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not the engine", http.StatusTeapot)
	})
	hs := httptest.NewServer(mux)
	e := &env{
		t:   t,
		srv: srv,
		h:   h,
		hs:  hs,
		client: &http.Client{Transport: &http.Transport{
			DisableCompression:  true, // see the exact bytes
			MaxIdleConnsPerHost: 64,
		}},
	}
	t.Cleanup(func() {
		_ = srv.Close()
		e.client.CloseIdleConnections()
		hs.Close()
		if n := h.afterClose.Load(); n > 0 {
			t.Errorf("%d handler calls after OnClose", n)
		}
	})
	return e
}

func (e *env) url(query string) string {
	return e.hs.URL + e.srv.Config().Path + "?" + query
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %q", r.status, r.body) }

// do sends one HTTP request and reads the whole response.
func (e *env) do(method, query string, body io.Reader, header map[string]string) reply {
	e.t.Helper()
	rep, err := e.doErr(context.Background(), method, query, body, header)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, query, err)
	}
	return rep
}

func (e *env) doErr(ctx context.Context, method, query string, body io.Reader, header map[string]string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.url(query), body)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (e *env) get(query string) reply { e.t.Helper(); return e.do("GET", query, nil, nil) }

func (e *env) post(query, body string) reply {
	e.t.Helper()
	return e.do("POST", query, strings.NewReader(body), map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
}

// expect checks a reply's status and body exactly.
func expect(t testing.TB, got reply, status int, body string) {
	t.Helper()
	if got.status != status || string(got.body) != body {
		t.Fatalf("got %d %q, want %d %q", got.status, got.body, status, body)
	}
}

// expectError checks an Engine.IO JSON error reply.
func expectError(t testing.TB, got reply, status, code int, message string) {
	t.Helper()
	want := fmt.Sprintf(`{"code":%d,"message":%q}`, code, message)
	expect(t, got, status, want)
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

var openRE = regexp.MustCompile(`^0\{"sid":"([^"]+)",`)

// openPacketText is the exact open packet the server must send.
func openPacketText(sid string, upgrades string, cfg Config) string {
	return fmt.Sprintf(`0{"sid":"%s","upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		sid, upgrades, cfg.PingInterval.Milliseconds(), cfg.PingTimeout.Milliseconds(), cfg.MaxHTTPBufferSize)
}

// checkOpen checks an open packet (text form) and returns its sid.
func checkOpen(t testing.TB, pkt string, upgrades string, cfg Config) string {
	t.Helper()
	m := openRE.FindStringSubmatch(pkt)
	if m == nil {
		t.Fatalf("not an open packet: %q", pkt)
	}
	sid := m[1]
	if !uuidRE.MatchString(sid) {
		t.Fatalf("sid %q is not a UUID", sid)
	}
	if want := openPacketText(sid, upgrades, cfg); pkt != want {
		t.Fatalf("open packet\n got %s\nwant %s", pkt, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(pkt[1:]), &v); err != nil || len(v) != 5 {
		t.Fatalf("open packet is not the expected JSON object: %v %v", v, err)
	}
	return sid
}

// openPolling performs a polling handshake (revision 4 or 3) and returns
// the sid.
func (e *env) openPolling(rev int, extra string) string {
	e.t.Helper()
	q := "EIO=" + strconv.Itoa(rev) + "&transport=polling"
	if extra != "" {
		q += "&" + extra
	}
	rep := e.get(q)
	if rep.status != 200 {
		e.t.Fatalf("handshake: %v", rep)
	}
	body := string(rep.body)
	if rev == 3 {
		n, rest, ok := strings.Cut(body, ":")
		if !ok || n != strconv.Itoa(len(rest)) {
			e.t.Fatalf("revision 3 handshake payload %q", body)
		}
		body = rest
	}
	return checkOpen(e.t, body, `["websocket"]`, e.srv.Config())
}

func pq(sid string) string  { return "EIO=4&transport=polling&sid=" + sid }
func pq3(sid string) string { return "EIO=3&transport=polling&sid=" + sid }

// pollAsync starts a GET and returns a channel with its reply.
func (e *env) pollAsync(query string) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		rep, err := e.doErr(context.Background(), "GET", query, nil, nil)
		if err != nil {
			rep = reply{status: -1, body: []byte(err.Error())}
		}
		ch <- rep
	}()
	return ch
}

func recv[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// waitPolling waits until a GET of sid is parked on the server.
func (e *env) waitPolling(sid string) {
	e.t.Helper()
	s := e.srv.Session(sid)
	if s == nil {
		e.t.Fatalf("no session %s", sid)
	}
	eventually(e.t, waitShort, "a pending poll", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pollWait != nil
	})
}

// waitGone waits until the server forgot sid.
func (e *env) waitGone(sid string) {
	e.t.Helper()
	eventually(e.t, waitLong, "session "+sid+" to be removed", func() bool { return e.srv.Session(sid) == nil })
}

// ---------------------------------------------------------------------------
// A WebSocket client that writes exact bytes.

type wsClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response
}

const testWSKey = "dGhlIHNhbXBsZSBub25jZQ=="

// upgradeRequest returns the lines of a WebSocket upgrade request; extra
// lines are appended, and a line "-Name" removes the default header Name.
func upgradeRequest(host, target string, extra ...string) string {
	lines := []string{
		"Host: " + host,
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + testWSKey,
		"Sec-WebSocket-Version: 13",
	}
	for _, x := range extra {
		if name, ok := strings.CutPrefix(x, "-"); ok {
			for i, l := range lines {
				if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
					lines = append(lines[:i], lines[i+1:]...)
					break
				}
			}
			continue
		}
		lines = append(lines, x)
	}
	return "GET " + target + " HTTP/1.1\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// rawHTTP sends raw request bytes on a new TCP connection and returns the
// connection with the parsed response.
func (e *env) rawHTTP(request string) (net.Conn, *bufio.Reader, *http.Response) {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.hs.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitLong))
	if _, err := io.WriteString(conn, request); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		e.t.Fatalf("reading response: %v", err)
	}
	return conn, br, resp
}

// dialWSRaw sends an upgrade request for query and returns the client
// whatever the status (resp tells).
func (e *env) dialWSRaw(query string, extra ...string) *wsClient {
	e.t.Helper()
	target := e.srv.Config().Path + "?" + query
	conn, br, resp := e.rawHTTP(upgradeRequest(e.hs.Listener.Addr().String(), target, extra...))
	_ = conn.SetDeadline(time.Time{})
	return &wsClient{t: e.t, conn: conn, br: br, resp: resp}
}

// dialWS upgrades and requires 101.
func (e *env) dialWS(query string, extra ...string) *wsClient {
	e.t.Helper()
	c := e.dialWSRaw(query, extra...)
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(c.resp.Body)
		e.t.Fatalf("upgrade: %s %q", c.resp.Status, b)
	}
	return c
}

// openWS opens a session directly over WebSocket and returns the client
// and the sid.
func (e *env) openWS(rev int) (*wsClient, string) {
	e.t.Helper()
	c := e.dialWS("EIO=" + strconv.Itoa(rev) + "&transport=websocket")
	f := c.readFrame()
	if f.op != opText {
		c.t.Fatalf("open packet in frame op %d", f.op)
	}
	return c, checkOpen(e.t, string(f.payload), `[]`, e.srv.Config())
}

func (c *wsClient) close() { c.conn.Close() }

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// maskedFrame builds a client frame: first byte b0, a mask key, the
// length in its shortest form.
func maskedFrame(b0 byte, payload []byte) []byte {
	var key [4]byte
	_, _ = rand.Read(key[:])
	return maskedFrameKey(b0, key, payload)
}

func maskedFrameKey(b0 byte, key [4]byte, payload []byte) []byte {
	out := []byte{b0}
	n := len(payload)
	switch {
	case n <= 125:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

func (c *wsClient) write(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLong))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) sendText(s string)   { c.t.Helper(); c.write(maskedFrame(0x80|opText, []byte(s))) }
func (c *wsClient) sendBinary(b []byte) { c.t.Helper(); c.write(maskedFrame(0x80|opBinary, b)) }
func (c *wsClient) sendClose(code int) {
	c.t.Helper()
	c.write(maskedFrame(0x80|opClose, closePayload(code, "")))
}
func (c *wsClient) sendPing(data string) {
	c.t.Helper()
	c.write(maskedFrame(0x80|opPing, []byte(data)))
}
func closePayload(code int, r string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, r...)
}

type wsFrame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
}

func (f wsFrame) String() string {
	return fmt.Sprintf("op=%d fin=%v rsv1=%v %q", f.op, f.fin, f.rsv1, f.payload)
}

// closeCode returns the code of a close frame (1005 when empty).
func (f wsFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(f.payload[0])<<8 | int(f.payload[1])
}

func (c *wsClient) readFrameErr(timeout time.Duration) (wsFrame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return wsFrame{}, err
	}
	f := wsFrame{fin: hdr[0]&0x80 != 0, rsv1: hdr[0]&0x40 != 0, op: hdr[0] & 0x0F}
	if hdr[0]&0x30 != 0 {
		return f, errors.New("server frame with RSV2/RSV3")
	}
	if hdr[1]&0x80 != 0 {
		return f, errors.New("masked server frame")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

func (c *wsClient) readFrame() wsFrame {
	c.t.Helper()
	f, err := c.readFrameErr(waitLong)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// expectText reads the next frame and checks it is the text want.
func (c *wsClient) expectText(want string) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != opText || !f.fin || f.rsv1 || string(f.payload) != want {
		c.t.Fatalf("got frame %v, want text %q", f, want)
	}
}

func (c *wsClient) expectBinary(want []byte) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != opBinary || !f.fin || !bytes.Equal(f.payload, want) {
		c.t.Fatalf("got frame %v, want binary %x", f, want)
	}
}

// expectClose reads the next frame, checks it is a close frame with code
// (1005: no payload), then checks the server closes the TCP connection.
func (c *wsClient) expectClose(code int) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != opClose {
		c.t.Fatalf("got frame %v, want close %d", f, code)
	}
	if got := f.closeCode(); got != code {
		c.t.Fatalf("close code %d (%q), want %d", got, f.payload, code)
	}
	c.expectEOF()
}

// expectEOF checks that the server closed the connection.
func (c *wsClient) expectEOF() {
	c.t.Helper()
	f, err := c.readFrameErr(waitLong)
	if err == nil {
		c.t.Fatalf("got frame %v, want the connection closed", f)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open")
	}
}

// expectNoFrame checks that nothing arrives for d.
func (c *wsClient) expectNoFrame(d time.Duration) {
	c.t.Helper()
	f, err := c.readFrameErr(d)
	if err == nil {
		c.t.Fatalf("unexpected frame %v", f)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("connection failed: %v", err)
	}
	_ = c.conn.SetReadDeadline(time.Time{})
}

// ---------------------------------------------------------------------------
// Goroutine accounting

func goroutines() int { return runtime.NumGoroutine() }

// settleGoroutines waits until the goroutine count is at most limit and
// returns the last count seen.
func settleGoroutines(t testing.TB, limit int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	n := goroutines()
	for n > limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		runtime.GC()
		n = goroutines()
	}
	return n
}

func dumpGoroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func itoa(n int) string { return strconv.Itoa(n) }

// forEachWebSocketMode runs fn against a server in each WebSocket mode:
// the event poller and the blocking goroutine-per-connection fallback.
func forEachWebSocketMode(t *testing.T, cfg Config, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, blocking := range []bool{false, true} {
		name := "evented"
		if blocking {
			name = "blocking"
		}
		t.Run(name, func(t *testing.T) {
			c := cfg
			c.BlockingWebSocket = blocking
			fn(t, newEnv(t, c))
		})
	}
}
