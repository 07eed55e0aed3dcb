package websocket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Server side

type closeEvent struct {
	c   *Conn
	err error
}

type testHandler struct {
	echo bool

	mu     sync.Mutex
	msgs   []string
	closes chan closeEvent
}

func (h *testHandler) OnMessage(c *Conn, binary bool, data []byte) {
	h.mu.Lock()
	h.msgs = append(h.msgs, fmt.Sprintf("%v:%s", binary, data))
	h.mu.Unlock()
	if h.echo {
		_ = c.WriteMessage(binary, data, true)
	}
}

func (h *testHandler) OnClose(c *Conn, err error) { h.closes <- closeEvent{c, err} }

func (h *testHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

type testServer struct {
	t     testing.TB
	p     *Poller
	h     *testHandler
	hs    *httptest.Server
	opts  Options
	setup func(*Conn)
	conns chan *Conn
}

func newTestServer(t testing.TB, blocking bool, opts Options) *testServer {
	ts := &testServer{
		t:     t,
		p:     NewPoller(PollerConfig{Blocking: blocking, MaxWriteBuffer: 1 << 20}),
		h:     &testHandler{echo: true, closes: make(chan closeEvent, 1024)},
		opts:  opts,
		conns: make(chan *Conn, 1024),
	}
	ts.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ts.p.Upgrade(w, r, ts.opts, ts.h, func(c *Conn) {
			c.SetSession(r.URL.Query().Get("id"))
			if ts.setup != nil {
				ts.setup(c)
			}
		})
		if errors.Is(err, ErrBadHandshake) {
			http.Error(w, "bad handshake", http.StatusBadRequest)
			return
		}
		if c != nil {
			ts.conns <- c
		}
	}))
	t.Cleanup(func() {
		ts.p.Close()
		ts.hs.Close()
	})
	return ts
}

// forEachMode runs fn with an evented and a blocking server.
func forEachMode(t *testing.T, opts Options, fn func(t *testing.T, ts *testServer)) {
	for _, blocking := range []bool{false, true} {
		name := "evented"
		if blocking {
			name = "blocking"
		}
		t.Run(name, func(t *testing.T) { fn(t, newTestServer(t, blocking, opts)) })
	}
}

func (ts *testServer) conn() *Conn {
	ts.t.Helper()
	select {
	case c := <-ts.conns:
		return c
	case <-time.After(5 * time.Second):
		ts.t.Fatal("no connection")
	}
	return nil
}

func (ts *testServer) closed() closeEvent {
	ts.t.Helper()
	select {
	case ev := <-ts.h.closes:
		return ev
	case <-time.After(5 * time.Second):
		ts.t.Fatal("no OnClose")
	}
	return closeEvent{}
}

// ---------------------------------------------------------------------------
// Client side: exact bytes

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3

type testClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func request(extra ...string) string {
	lines := []string{"GET /ws HTTP/1.1", "Host: test", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13"}
	return strings.Join(append(lines, extra...), "\r\n") + "\r\n\r\n"
}

// dialRaw sends req (and anything after it) and returns the connection
// with the raw response head.
func (ts *testServer) dialRaw(req string) (*testClient, string) {
	ts.t.Helper()
	conn, err := net.Dial("tcp", ts.hs.Listener.Addr().String())
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		ts.t.Fatal(err)
	}
	c := &testClient{t: ts.t, conn: conn, br: bufio.NewReader(conn)}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head strings.Builder
	for !strings.HasSuffix(head.String(), "\r\n\r\n") {
		b, err := c.br.ReadByte()
		if err != nil {
			ts.t.Fatalf("reading the response head %q: %v", head.String(), err)
		}
		head.WriteByte(b)
	}
	return c, head.String()
}

func (ts *testServer) dial(extra ...string) *testClient {
	ts.t.Helper()
	c, head := ts.dialRaw(request(extra...))
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		ts.t.Fatalf("response %q", head)
	}
	return c
}

func (c *testClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

type frame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
}

func (c *testClient) readFrameErr(timeout time.Duration) (frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return frame{}, err
	}
	if h[1]&0x80 != 0 || h[0]&0x30 != 0 {
		return frame{}, fmt.Errorf("bad server frame header % x", h)
	}
	f := frame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, op: h[0] & 0x0F}
	n := uint64(h[1] & 0x7F)
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
	f.payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.payload)
	return f, err
}

func (c *testClient) readFrame() frame {
	c.t.Helper()
	f, err := c.readFrameErr(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *testClient) expect(op byte, payload string) {
	c.t.Helper()
	f := c.readFrame()
	if f.op != op || !f.fin || string(f.payload) != payload {
		c.t.Fatalf("got op %d %q, want op %d %q", f.op, f.payload, op, payload)
	}
}

// expectClose reads a close frame with code (1005: empty) and then EOF.
func (c *testClient) expectClose(code int, reason string) {
	c.t.Helper()
	f := c.readFrame()
	got := 1005
	if len(f.payload) >= 2 {
		got = int(f.payload[0])<<8 | int(f.payload[1])
	}
	if f.op != OpClose || got != code || (len(f.payload) >= 2 && string(f.payload[2:]) != reason) {
		c.t.Fatalf("got op %d %q, want close %d %q", f.op, f.payload, code, reason)
	}
	c.expectEOF()
}

func (c *testClient) expectEOF() {
	c.t.Helper()
	f, err := c.readFrameErr(5 * time.Second)
	if err == nil {
		c.t.Fatalf("frame op %d %q, want EOF", f.op, f.payload)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open")
	}
}

// ---------------------------------------------------------------------------

func TestUpgradeResponse(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		_, head := ts.dialRaw(request())
		want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
		if head != want {
			t.Fatalf("response\n%q\nwant\n%q", head, want)
		}
		c := ts.conn()
		if c.Evented() == ts.p.cfg.Blocking {
			t.Fatalf("Evented %v in blocking=%v", c.Evented(), ts.p.cfg.Blocking)
		}
		if c.Compression() || c.RemoteAddr() == nil {
			t.Fatal("accessors")
		}
	})
	ts := newTestServer(t, false, Options{Compression: true})
	_, head := ts.dialRaw(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))
	if !strings.Contains(head, "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n") {
		t.Fatalf("response %q", head)
	}
	if !ts.conn().Compression() {
		t.Fatal("Compression false")
	}
	_, head = ts.dialRaw(request())
	if strings.Contains(head, "Extensions") {
		t.Fatalf("negotiated without an offer: %q", head)
	}
}

// BAD-INPUTS row 11: bad handshakes are refused before anything is written.
func TestUpgradeBadHandshake(t *testing.T) {
	ts := newTestServer(t, false, Options{})
	for _, req := range []string{
		strings.Replace(request(), "GET", "POST", 1),
		strings.Replace(request(), "Upgrade: websocket\r\n", "", 1),
		strings.Replace(request(), "Connection: Upgrade", "Connection: keep-alive", 1),
		strings.Replace(request(), "Upgrade: websocket", "Upgrade: h2c", 1),
		strings.Replace(request(), "Version: 13", "Version: 8", 1),
		strings.Replace(request(), "Sec-WebSocket-Version: 13\r\n", "", 1),
		strings.Replace(request(), "Sec-WebSocket-Key: "+sampleKey+"\r\n", "", 1),
		strings.Replace(request(), sampleKey, "c2hvcnQ=", 1),
		strings.Replace(request(), sampleKey, "not base64!!", 1),
	} {
		_, head := ts.dialRaw(req)
		if !strings.HasPrefix(head, "HTTP/1.1 400 ") {
			t.Fatalf("%q: %q", req, head)
		}
	}
	select {
	case c := <-ts.conns:
		t.Fatalf("connection %v upgraded", c)
	default:
	}
}

func TestIsUpgradeRequest(t *testing.T) {
	for _, tc := range []struct {
		conn, upgrade []string
		want          bool
	}{
		{[]string{"Upgrade"}, []string{"websocket"}, true},
		{[]string{"keep-alive, Upgrade"}, []string{"WebSocket"}, true},
		{[]string{"keep-alive", "upgrade"}, []string{"h2c, websocket"}, true},
		{[]string{"keep-alive"}, []string{"websocket"}, false},
		{[]string{"Upgrade"}, []string{"h2c"}, false},
		{nil, []string{"websocket"}, false},
		{[]string{"Upgrade"}, nil, false},
		{[]string{"Upgraded"}, []string{"websockets"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, v := range tc.conn {
			r.Header.Add("Connection", v)
		}
		for _, v := range tc.upgrade {
			r.Header.Add("Upgrade", v)
		}
		if got := IsUpgradeRequest(r); got != tc.want {
			t.Fatalf("%q %q: %v", tc.conn, tc.upgrade, got)
		}
	}
}

func TestEcho(t *testing.T) {
	forEachMode(t, Options{MaxMessageSize: 2 << 20}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		c.write(maskedFrame(0x81, []byte("hello")))
		c.expect(OpText, "hello")
		c.write(maskedFrame(0x82, []byte{0, 1, 2}))
		c.expect(OpBinary, "\x00\x01\x02")
		c.write(maskedFrame(0x89, []byte("are you there")))
		c.expect(OpPong, "are you there")
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		c.write(maskedFrame(0x82, big))
		f := c.readFrame()
		if !bytes.Equal(f.payload, big) {
			t.Fatal("big echo differs")
		}
		// Frames written in pieces.
		stream := cat(maskedFrame(0x01, []byte("a")), maskedFrame(0x8A, nil), maskedFrame(0x80, []byte("b")))
		for _, b := range stream {
			c.write([]byte{b})
			time.Sleep(100 * time.Microsecond)
		}
		c.expect(OpText, "ab")
		conn := ts.conn()
		if conn.Session() != "" {
			t.Fatalf("session %v", conn.Session())
		}
	})
}

func TestCompressedEcho(t *testing.T) {
	forEachMode(t, Options{Compression: true}, func(t *testing.T, ts *testServer) {
		c := ts.dial("Sec-WebSocket-Extensions: permessage-deflate")
		text := strings.Repeat("squeeze ", 300)
		c.write(maskedFrame(0xC1, AppendDeflate(nil, []byte(text))))
		f := c.readFrame()
		if !f.rsv1 || f.op != OpText {
			t.Fatalf("echo not compressed: %v", f.rsv1)
		}
		out, err := inflate(f.payload, 0)
		if err != nil || string(out) != text {
			t.Fatalf("inflate: %v", err)
		}
	})
}

// The close handshake started by the client: the same code is sent back.
func TestPeerClose(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		conn := ts.conn()
		c.write(maskedFrame(0x88, []byte{0x03, 0xE8, 'b', 'y', 'e'}))
		c.expectClose(1000, "")
		ev := ts.closed()
		var ce *CloseError
		if ev.c != conn || !errors.As(ev.err, &ce) || ce.Code != 1000 || ce.Reason != "bye" || ce.Local {
			t.Fatalf("OnClose %v", ev.err)
		}
		if err := conn.WriteMessage(false, []byte("late"), false); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}
		// Empty close frame: answered with an empty one.
		c = ts.dial()
		c.write(maskedFrame(0x88, nil))
		c.expectClose(1005, "")
		ev = ts.closed()
		if !errors.As(ev.err, &ce) || ce.Code != CloseNoStatus {
			t.Fatalf("OnClose %v", ev.err)
		}
		// The peer just goes away.
		c = ts.dial()
		ts.conn()
		c.conn.Close()
		ev = ts.closed()
		if ev.err == nil {
			t.Fatal("nil error")
		}
	})
}

// BAD-INPUTS row 9
// BAD-INPUTS row 28
// BAD-INPUTS row 29
// BAD-INPUTS row 30
// BAD-INPUTS row 31
// BAD-INPUTS row 32
// The violations over a real connection, in both modes.
func TestViolationsOverTCP(t *testing.T) {
	forEachMode(t, Options{MaxMessageSize: 1000}, func(t *testing.T, ts *testServer) {
		vs := append(violations(),
			violation{"close with 1 byte", 31, maskedFrame(0x88, []byte{3}), CloseProtocolError},
			violation{"close code 0", 31, maskedFrame(0x88, []byte{0, 0}), CloseProtocolError},
			violation{"close code 1005", 31, maskedFrame(0x88, []byte{0x03, 0xED}), CloseProtocolError},
			violation{"close code 5000", 31, maskedFrame(0x88, []byte{0x13, 0x88}), CloseProtocolError},
			violation{"invalid UTF-8 close reason", 32, maskedFrame(0x88, []byte{0x03, 0xE8, 0xFF}), CloseInvalidPayload},
		)
		for _, v := range vs {
			c := ts.dial()
			c.write(v.data)
			f, err := c.readFrameErr(5 * time.Second)
			if err != nil || f.op != OpClose || len(f.payload) < 2 || int(binary.BigEndian.Uint16(f.payload)) != v.code {
				t.Fatalf("%s (row %d): %v %q, want close %d", v.name, v.row, err, f.payload, v.code)
			}
			c.expectEOF()
			ev := ts.closed()
			var ce *CloseError
			if !errors.As(ev.err, &ce) || ce.Code != v.code || !ce.Local {
				t.Fatalf("%s: OnClose %v", v.name, ev.err)
			}
			ts.conn()
		}
		if len(ts.h.messages()) != 0 {
			t.Fatalf("delivered %q", ts.h.messages())
		}
	})
}

// BAD-INPUTS row 30 over TCP: the default cap of 131,072 fragments.
func TestFragmentFloodOverTCP(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		k := [4]byte{9, 9, 9, 9}
		cont := maskedFrameKey(0x00, k, nil)
		flood := maskedFrameKey(0x01, k, []byte("x"))
		for range 131072 {
			flood = append(flood, cont...)
		}
		c.write(flood)
		c.expectClose(ClosePolicyViolation, "too many fragments")
		ts.closed()
	})
}

func TestServerCloseFrames(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		conn := ts.conn()
		if err := conn.WriteMessage(false, []byte("first"), false); err != nil {
			t.Fatal(err)
		}
		conn.Close(CloseGoingAway, "going away")
		conn.Close(CloseGoingAway, "twice") // no effect
		c.expect(OpText, "first")
		c.expectClose(CloseGoingAway, "going away")
		ev := ts.closed()
		var ce *CloseError
		if !errors.As(ev.err, &ce) || ce.Code != CloseGoingAway || !ce.Local {
			t.Fatalf("OnClose %v", ev.err)
		}
		if err := conn.WriteFrames([][]byte{AppendFrame(nil, true, false, OpText, nil)}); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}

		c = ts.dial()
		conn = ts.conn()
		conn.CloseNow()
		c.expectEOF()
		ev = ts.closed()
		if !errors.As(ev.err, &ce) || ce.Code != CloseAbnormal {
			t.Fatalf("OnClose %v", ev.err)
		}
		select {
		case ev := <-ts.h.closes:
			t.Fatalf("second OnClose %v", ev)
		case <-time.After(20 * time.Millisecond):
		}
	})
}

// Writes from many goroutines: each call's frames arrive whole, in the
// caller's order, never interleaved with another call's.
func TestConcurrentWrites(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		conn := ts.conn()
		const writers, per = 8, 150
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range per {
					a := AppendFrame(nil, true, false, OpText, fmt.Appendf(nil, "%d:%d:a%s", w, i, strings.Repeat("x", i)))
					b := AppendFrame(nil, true, false, OpText, fmt.Appendf(nil, "%d:%d:b", w, i))
					if err := conn.WriteFrames([][]byte{a, b}); err != nil {
						t.Errorf("write: %v", err)
						return
					}
				}
			})
		}
		next := make([]int, writers)
		for range writers * per {
			fa, fb := c.readFrame(), c.readFrame()
			var w, i int
			var rest string
			if _, err := fmt.Sscanf(string(fa.payload), "%d:%d:%s", &w, &i, &rest); err != nil {
				t.Fatalf("frame %q: %v", fa.payload, err)
			}
			if i != next[w] || rest != "a"+strings.Repeat("x", i) || string(fb.payload) != fmt.Sprintf("%d:%d:b", w, i) {
				t.Fatalf("writer %d: got %q %q, want message %d", w, fa.payload, fb.payload, next[w])
			}
			next[w]++
		}
		wg.Wait()
	})
}

// Frames pipelined behind the request, writes from setup, and a close
// from setup (before the connection is attached).
func TestSetupAndEarlyData(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		ts.setup = func(c *Conn) { _ = c.WriteMessage(false, []byte("from setup"), false) }
		c, _ := ts.dialRaw(request() + string(maskedFrame(0x81, []byte("early"))))
		c.expect(OpText, "from setup")
		c.expect(OpText, "early")

		// Garbage right behind the request (BAD-INPUTS row 9).
		c, _ = ts.dialRaw(request() + "test")
		c.expect(OpText, "from setup")
		c.expectClose(CloseProtocolError, "reserved bits set")
		ts.closed()

		ts.setup = func(c *Conn) {
			_ = c.WriteMessage(false, []byte("bye"), false)
			_ = c.Close(CloseNormal, "setup")
		}
		c, _ = ts.dialRaw(request())
		c.expect(OpText, "bye")
		c.expectClose(CloseNormal, "setup")
		ev := ts.closed()
		var ce *CloseError
		if !errors.As(ev.err, &ce) || ce.Code != CloseNormal || ce.Reason != "setup" {
			t.Fatalf("OnClose %v", ev.err)
		}
		ts.setup = func(c *Conn) { _ = c.CloseNow() }
		c, _ = ts.dialRaw(request())
		c.expectEOF()
		ts.closed()
	})
}

// Poller.Close closes every connection and refuses new ones.
func TestPollerClose(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		var clients []*testClient
		for range 5 {
			clients = append(clients, ts.dial())
			ts.conn()
		}
		ts.p.Close()
		ts.p.Close()
		for _, c := range clients {
			c.expectEOF()
		}
		for range 5 {
			ts.closed()
		}
		c, head := ts.dialRaw(request())
		if strings.HasPrefix(head, "HTTP/1.1 101") {
			c.expectEOF()
		}
	})
	// A poller that never started stops cleanly.
	NewPoller(PollerConfig{}).Close()
}

// A client that stops reading: the evented connection is closed once more
// than MaxWriteBuffer is pending; the blocking one when a write times out.
func TestSlowReader(t *testing.T) {
	saved := writeTimeout
	writeTimeout = 300 * time.Millisecond
	defer func() { writeTimeout = saved }()
	for _, blocking := range []bool{false, true} {
		ts := newTestServer(t, blocking, Options{})
		ts.p.cfg.MaxWriteBuffer = 256 << 10
		ts.dial() // never reads
		conn := ts.conn()
		f := AppendFrame(nil, true, false, OpBinary, make([]byte, 64<<10))
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for err == nil && time.Now().Before(deadline) {
			err = conn.WriteFrames([][]byte{f})
		}
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocking=%v: writes never failed: %v", blocking, err)
		}
		if !blocking && !errors.Is(err, ErrWriteBufferFull) {
			t.Fatalf("evented: %v, want ErrWriteBufferFull", err)
		}
		ts.closed()
	}
}

// An idle connection on the poller holds no goroutine.
func TestIdleConnectionsNoGoroutines(t *testing.T) {
	ts := newTestServer(t, false, Options{})
	c := ts.dial()
	ts.conn()
	c.conn.Close()
	ts.closed()
	time.Sleep(20 * time.Millisecond)
	base := runtime.NumGoroutine()
	var clients []*testClient
	for range 100 {
		c := ts.dial()
		ts.conn()
		c.write(maskedFrame(0x81, []byte("x")))
		c.expect(OpText, "x")
		clients = append(clients, c)
	}
	deadline := time.Now().Add(2 * time.Second)
	n := runtime.NumGoroutine()
	for n > base+5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > base+5 {
		t.Fatalf("%d goroutines for 100 idle connections, baseline %d", n, base)
	}
	for _, c := range clients {
		c.conn.Close()
	}
	for range 100 {
		ts.closed()
	}
}

// Batches larger than the poller takes in one call go out in pieces: with
// a write buffer limit below the message size, a reading client still gets
// every frame intact, and concurrent callers' frames do not interleave.
func TestLargeWrites(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		c := ts.dial()
		conn := ts.conn()
		sizes := []int{10, 300_000, 1, 70_000, 65_536, 65_535, 200_000}
		const writers = 3
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				var frames [][]byte
				for i, n := range sizes {
					p := bytes.Repeat([]byte{byte(w*16 + i)}, n)
					frames = append(frames, AppendFrame(nil, true, false, OpBinary, p))
				}
				if err := conn.WriteFrames(frames); err != nil {
					t.Errorf("write: %v", err)
				}
			})
		}
		seen := map[int]bool{}
		for range writers {
			var w int
			for i, n := range sizes {
				f, err := c.readFrameErr(10 * time.Second)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if len(f.payload) != n {
					t.Fatalf("frame %d of %d bytes, want %d", i, len(f.payload), n)
				}
				if i == 0 {
					w = int(f.payload[0]) / 16
					seen[w] = true
				}
				if want := byte(w*16 + i); bytes.IndexFunc(f.payload, func(r rune) bool { return byte(r) != want }) >= 0 &&
					!bytes.Equal(f.payload, bytes.Repeat([]byte{want}, n)) {
					t.Fatalf("writer %d frame %d corrupted or interleaved", w, i)
				}
			}
		}
		wg.Wait()
		if len(seen) != writers {
			t.Fatalf("writers seen %v", seen)
		}

		// One frame larger than MaxWriteBuffer: it fits once the socket
		// took part of it (a single write of it used to close the
		// connection whatever the socket could take).
		ts = newTestServer(t, ts.p.cfg.Blocking, Options{})
		ts.p.cfg.MaxWriteBuffer = 256 << 10 // before the poller starts
		c = ts.dial()
		conn = ts.conn()
		big := AppendFrame(nil, true, false, OpBinary, make([]byte, 300_000))
		if err := conn.WriteFrames([][]byte{big}); err != nil {
			t.Fatalf("write of %d bytes: %v", len(big), err)
		}
		if f := c.readFrame(); len(f.payload) != 300_000 {
			t.Fatalf("read %d bytes", len(f.payload))
		}
	})
}

// Close right after the poller started must return: nbio's Stop hangs on
// a poller goroutine that was not running yet.
func TestPollerCloseRightAfterStart(t *testing.T) {
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return -1
		}
		return len(entries)
	}
	before := fds()
	defer func() {
		if after := fds(); after > before+5 {
			t.Errorf("%d descriptors open, %d before", after, before)
		}
	}()
	for i := range 300 {
		p := NewPoller(PollerConfig{Pollers: 1 + i%3})
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { p.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Poller.Close hung (iteration %d)", i)
		}
	}
}

func TestAwaitPollersCoversAll(t *testing.T) {
	for n := 1; n <= 6; n++ {
		p := NewPoller(PollerConfig{Pollers: n})
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		if !p.awaitPollers(n) {
			t.Fatalf("%d pollers: not all seen running", n)
		}
		p.Close()
	}
}

// What the kernel does not take is counted exactly (Buffered), including
// batches of several frames written to a full socket; Close sends the
// close frame after all of it and shuts the connection down only once the
// client took it; Conns follows the connections.
func TestBufferedAndCloseAfterHeld(t *testing.T) {
	forEachMode(t, Options{}, func(t *testing.T, ts *testServer) {
		ts.p.cfg.MaxWriteBuffer = 64 << 20 // before the poller starts
		c := ts.dial()
		conn := ts.conn()
		if n := ts.p.Conns(); n != 1 {
			t.Fatalf("Conns %d", n)
		}
		const batches, perBatch, size = 300, 4, 8 << 10
		done := make(chan error, 1)
		go func() {
			for b := range batches {
				frames := make([][]byte, perBatch)
				for i := range frames {
					p := bytes.Repeat([]byte{'x'}, size)
					copy(p, fmt.Sprintf("%06d", b*perBatch+i))
					frames[i] = AppendFrame(nil, true, false, OpBinary, p)
				}
				if err := conn.WriteFrames(frames); err != nil {
					done <- err
					return
				}
			}
			done <- conn.Close(CloseNormal, "bye")
		}()
		// Evented, the poller holds what the kernel refused; blocking, it
		// is what is left of the write under way (one batch).
		want := 256 << 10
		if ts.p.cfg.Blocking {
			want = 1
		}
		deadline := time.Now().Add(5 * time.Second)
		for conn.Buffered() < want {
			if time.Now().After(deadline) {
				t.Fatalf("only %d bytes held for a client that does not read", conn.Buffered())
			}
			time.Sleep(time.Millisecond)
		}
		closed := false
		if !ts.p.cfg.Blocking {
			// Evented writes never block: Close returns while the poller
			// still holds bytes.
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			closed = true
			if n := conn.Buffered(); n == 0 {
				t.Fatal("nothing held when Close returned")
			}
		}
		for i := range batches * perBatch {
			f := c.readFrame()
			if want := fmt.Sprintf("%06d", i); len(f.payload) != size || string(f.payload[:6]) != want {
				t.Fatalf("frame %d: %d bytes, %q", i, len(f.payload), f.payload[:min(6, len(f.payload))])
			}
		}
		c.expectClose(CloseNormal, "bye")
		if !closed {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the writer never returned")
			}
		}
		if err := conn.WriteFrames([][]byte{AppendFrame(nil, true, false, OpText, nil)}); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after Close: %v", err)
		}
		if n := conn.Buffered(); n != 0 {
			t.Fatalf("Buffered %d after everything was read", n)
		}
		ts.closed()
		if n := ts.p.Conns(); n != 0 {
			t.Fatalf("Conns %d after the close", n)
		}
	})
}
