package socketio

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test-wide timing: generous enough for -race on a small machine.
const (
	waitShort = 2 * time.Second
	waitLong  = 5 * time.Second
)

// ---------------------------------------------------------------------------
// Server fixture

// testServer is a Server mounted on an httptest server. Errors given to
// Config.OnError are collected in errs.
type testServer struct {
	t    testing.TB
	io   *Server
	hs   *httptest.Server
	tr   *http.Transport
	hc   *http.Client
	base string // http://host:port/socket.io/
	errs chan error
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{t: t, errs: make(chan error, 1024)}
	if cfg.OnError == nil {
		cfg.OnError = func(_ *Socket, err error) {
			select {
			case ts.errs <- err:
			default:
			}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ts.io = srv
	mux := http.NewServeMux()
	mux.Handle(srv.Engine().Config().Path, srv)
	ts.hs = httptest.NewServer(mux)
	ts.tr = &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
	ts.hc = &http.Client{Transport: ts.tr}
	ts.base = ts.hs.URL + srv.Engine().Config().Path
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) close() {
	_ = ts.io.Close()
	ts.hs.Close()
	ts.tr.CloseIdleConnections()
}

// waitError returns the next error given to OnError.
func (ts *testServer) waitError() error {
	ts.t.Helper()
	select {
	case err := <-ts.errs:
		return err
	case <-time.After(waitLong):
		ts.t.Fatal("no error reported to OnError")
		return nil
	}
}

// noError checks that OnError received nothing.
func (ts *testServer) noError() {
	ts.t.Helper()
	select {
	case err := <-ts.errs:
		ts.t.Fatalf("unexpected error reported: %v", err)
	default:
	}
}

// sockets returns a channel receiving each socket connected to nsp.
func (ts *testServer) sockets(nsp string) <-chan *Socket {
	ch := make(chan *Socket, 64)
	ts.io.Of(nsp).OnConnection(func(s *Socket) { ch <- s })
	return ch
}

func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatalf("timed out waiting for a %T", *new(T))
		panic("unreachable")
	}
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Clients

// item is one Engine.IO packet received by a test client: the whole text
// packet ("40{...}", "42[...]", "1" for close) or a binary message.
type item struct {
	text  string
	bin   []byte
	isBin bool
}

func (it item) String() string {
	if it.isBin {
		return fmt.Sprintf("<binary %x>", it.bin)
	}
	return strconv.Quote(it.text)
}

// tclient is a test client on either transport. Pings are answered and
// noops skipped by the transports.
type tclient interface {
	sid() string
	// send writes text Engine.IO packets (one POST, or one frame each).
	send(pkts ...string)
	// sendBinary writes a binary message.
	sendBinary(b []byte)
	// sendItems writes text and binary messages together (one POST, or
	// back-to-back frames).
	sendItems(items ...item)
	// next returns the next packet; the test fails after waitLong.
	next() item
	// expectClosed reads until the session ends and returns what came
	// before the end.
	expectClosed() []item
	// closeTransport ends the connection from the client side.
	closeTransport()
}

var sidRe = regexp.MustCompile(`^\{"sid":"([A-Za-z0-9_-]{20})"\}$`)

// connect sends CONNECT for nsp (with an optional auth object) and
// returns the socket id from the reply.
func connect(t testing.TB, c tclient, nsp, auth string) string {
	t.Helper()
	c.send(connectPacket(nsp, auth))
	return expectConnected(t, c, nsp)
}

func connectPacket(nsp, auth string) string {
	p := "40"
	if nsp != "/" && nsp != "" {
		p += nsp + ","
	}
	return p + auth
}

func expectConnected(t testing.TB, c tclient, nsp string) string {
	t.Helper()
	it := c.next()
	prefix := "40"
	if nsp != "/" && nsp != "" {
		prefix += nsp + ","
	}
	rest, ok := strings.CutPrefix(it.text, prefix)
	m := sidRe.FindStringSubmatch(rest)
	if !ok || m == nil {
		t.Fatalf("CONNECT reply = %v, want %s{\"sid\":\"<20 chars>\"}", it, prefix)
	}
	return m[1]
}

func expectText(t testing.TB, c tclient, want string) {
	t.Helper()
	if it := c.next(); it.isBin || it.text != want {
		t.Fatalf("got %v, want %q", it, want)
	}
}

func expectBinary(t testing.TB, c tclient, want []byte) {
	t.Helper()
	if it := c.next(); !it.isBin || !bytes.Equal(it.bin, want) {
		t.Fatalf("got %v, want binary %x", it, want)
	}
}

// expectMatch reads a text packet matching the regular expression re.
func expectMatch(t testing.TB, c tclient, re string) string {
	t.Helper()
	it := c.next()
	if it.isBin || !regexp.MustCompile("^(?:"+re+")$").MatchString(it.text) {
		t.Fatalf("got %v, want a match for %s", it, re)
	}
	return it.text
}

// expectClosedOnly checks that the session ends with nothing else sent.
func expectClosedOnly(t testing.TB, c tclient) {
	t.Helper()
	if got := c.expectClosed(); len(got) > 0 {
		t.Fatalf("before the close got %v", got)
	}
}

// ---------------------------------------------------------------------------
// Polling client

type pollClient struct {
	t     testing.TB
	ts    *testServer
	id    string
	eio   string
	open  map[string]any
	buf   []item
	ended bool // close packet or unknown session seen

	// lastEncoding is the Content-Encoding of the last poll response.
	lastEncoding string
	// header is added to every poll request.
	header http.Header
}

// dialPolling opens a polling session (EIO=4) with extra query parameters.
func (ts *testServer) dialPolling(query string) *pollClient {
	return ts.dialPollingRev("4", query, nil)
}

func (ts *testServer) dialPollingRev(eio, query string, header http.Header) *pollClient {
	t := ts.t
	t.Helper()
	c := &pollClient{t: t, ts: ts, eio: eio, header: header}
	u := ts.base + "?EIO=" + eio + "&transport=polling"
	if eio == "3" {
		u += "&b64=1"
	}
	if query != "" {
		u += "&" + query
	}
	status, body, _ := c.get(u)
	if status != http.StatusOK {
		t.Fatalf("handshake: status %d: %s", status, body)
	}
	items := c.parse(body)
	if len(items) == 0 || !strings.HasPrefix(items[0].text, "0{") {
		t.Fatalf("handshake: want an open packet, got %q", body)
	}
	if err := json.Unmarshal([]byte(items[0].text[1:]), &c.open); err != nil {
		t.Fatalf("open packet: %v", err)
	}
	c.id, _ = c.open["sid"].(string)
	c.buf = append(c.buf, items[1:]...)
	return c
}

func (c *pollClient) sid() string { return c.id }

func (c *pollClient) url() string {
	u := c.ts.base + "?EIO=" + c.eio + "&transport=polling&sid=" + c.id
	if c.eio == "3" {
		u += "&b64=1"
	}
	return u
}

func (c *pollClient) get(u string) (int, []byte, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.ts.hc.Do(req)
	if err != nil {
		c.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	enc := resp.Header.Get("Content-Encoding")
	if enc == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			c.t.Fatalf("gzip: %v", err)
		}
		r = zr
	}
	body, err := io.ReadAll(r)
	if err != nil {
		c.t.Fatalf("GET body: %v", err)
	}
	return resp.StatusCode, body, enc
}

// post sends a raw payload body and returns the status and body.
func (c *pollClient) post(body string) (int, string) {
	c.t.Helper()
	resp, err := c.ts.hc.Post(c.url(), "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *pollClient) send(pkts ...string) {
	c.t.Helper()
	var body string
	if c.eio == "3" {
		var sb strings.Builder
		for _, p := range pkts {
			fmt.Fprintf(&sb, "%d:%s", len(p), p)
		}
		body = sb.String()
	} else {
		body = strings.Join(pkts, "\x1e")
	}
	if status, b := c.post(body); status != http.StatusOK {
		c.t.Fatalf("POST %q: status %d: %s", body, status, b)
	}
}

func (c *pollClient) sendItems(items ...item) {
	c.t.Helper()
	c.send(c.itemPackets(items)...)
}

// postItems posts items in one payload, whatever the answer.
func (c *pollClient) postItems(items ...item) {
	c.t.Helper()
	c.post(strings.Join(c.itemPackets(items), "\x1e"))
}

func (c *pollClient) itemPackets(items []item) []string {
	pkts := make([]string, len(items))
	for i, it := range items {
		pkts[i] = it.text
		if it.isBin {
			pkts[i] = "b" + base64.StdEncoding.EncodeToString(it.bin)
		}
	}
	return pkts
}

func (c *pollClient) sendBinary(b []byte) {
	c.t.Helper()
	c.send("b" + base64.StdEncoding.EncodeToString(b))
}

// poll runs one GET and buffers what it returns. It reports false when
// the session is unknown.
func (c *pollClient) poll() bool {
	c.t.Helper()
	status, body, enc := c.get(c.url())
	c.lastEncoding = enc
	if status != http.StatusOK {
		if status == http.StatusBadRequest && string(body) == `{"code":1,"message":"Session ID unknown"}` {
			return false
		}
		c.t.Fatalf("poll: status %d: %s", status, body)
	}
	for _, it := range c.parse(body) {
		switch {
		case it.isBin:
			c.buf = append(c.buf, it)
		case it.text == "2":
			c.send("3")
		case c.eio == "3" && it.text == "3":
		case it.text == "6":
		default:
			c.buf = append(c.buf, it)
		}
	}
	return true
}

func (c *pollClient) parse(body []byte) []item {
	c.t.Helper()
	var out []item
	if c.eio == "3" {
		s := string(body)
		for len(s) > 0 {
			i := strings.IndexByte(s, ':')
			n, err := strconv.Atoi(s[:max(i, 0)])
			if i < 0 || err != nil || i+1+n > len(s) {
				c.t.Fatalf("bad revision 3 payload %q", body)
			}
			out = append(out, item{text: s[i+1 : i+1+n]})
			s = s[i+1+n:]
		}
		return out
	}
	for p := range strings.SplitSeq(string(body), "\x1e") {
		if b64, ok := strings.CutPrefix(p, "b"); ok {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				c.t.Fatalf("bad base64 packet %q", p)
			}
			out = append(out, item{bin: b, isBin: true})
			continue
		}
		out = append(out, item{text: p})
	}
	return out
}

func (c *pollClient) next() item {
	c.t.Helper()
	for len(c.buf) == 0 {
		if c.ended {
			c.t.Fatal("session closed, no more packets")
		}
		if !c.poll() {
			c.ended = true
		}
	}
	it := c.buf[0]
	c.buf = c.buf[1:]
	if it.text == "1" {
		c.ended = true
	}
	return it
}

func (c *pollClient) expectClosed() []item {
	c.t.Helper()
	var got []item
	for {
		if len(c.buf) == 0 {
			if c.ended || !c.poll() {
				break
			}
			continue
		}
		it := c.buf[0]
		c.buf = c.buf[1:]
		if it.text == "1" {
			// Once the close packet is delivered the session is gone.
			if c.poll() {
				c.t.Fatal("session still known after its close packet")
			}
			break
		}
		got = append(got, it)
	}
	c.ended = true
	return got
}

func (c *pollClient) closeTransport() { c.send("1") }

// ---------------------------------------------------------------------------
// WebSocket client: hand-built masked frames on a TCP connection.

type wsClient struct {
	t     testing.TB
	conn  net.Conn
	id    string
	items chan item
	done  chan struct{}
	quit  chan struct{} // closed at cleanup: stop delivering
	end   string        // why reading ended, set before done closes
	wmu   sync.Mutex
}

func (ts *testServer) dialWS(query string) *wsClient {
	t := ts.t
	t.Helper()
	c := ts.openWS(query)
	open := c.next()
	var o struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open.text, "0")), &o); err != nil || o.SID == "" {
		t.Fatalf("open packet %v", open)
	}
	c.id = o.SID
	return c
}

// upgrade moves a polling session to a WebSocket (probe, then upgrade).
func (ts *testServer) upgrade(pc *pollClient) *wsClient {
	t := ts.t
	t.Helper()
	c := ts.openWS("sid=" + pc.id)
	c.id = pc.id
	c.send("2probe")
	expectText(t, c, "3probe")
	c.send("5")
	return c
}

// openWS completes a WebSocket handshake and starts reading frames.
func (ts *testServer) openWS(query string) *wsClient {
	t := ts.t
	t.Helper()
	conn, err := net.Dial("tcp", ts.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	path := ts.io.Engine().Config().Path + "?EIO=4&transport=websocket"
	if query != "" {
		path += "&" + query
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, ts.hs.Listener.Addr(), base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket handshake: %v %v", resp, err)
	}
	c := &wsClient{t: t, conn: conn, items: make(chan item, 1024), done: make(chan struct{}), quit: make(chan struct{})}
	go c.readLoop(br)
	t.Cleanup(func() { close(c.quit); conn.Close(); <-c.done })
	return c
}

func (c *wsClient) sid() string { return c.id }

func (c *wsClient) readLoop(br *bufio.Reader) {
	defer close(c.done)
	for {
		op, payload, err := readFrame(br)
		if err != nil {
			c.end = err.Error()
			return
		}
		switch op {
		case 1:
			if string(payload) == "2" {
				c.writeFrame(1, []byte("3"))
				continue
			}
			if !c.deliver(item{text: string(payload)}) {
				return
			}
		case 2:
			if !c.deliver(item{bin: payload, isBin: true}) {
				return
			}
		case 8:
			c.end = fmt.Sprintf("close frame %x", payload)
			c.writeFrame(8, payload)
			c.conn.Close()
			return
		case 9:
			c.writeFrame(10, payload)
		}
	}
}

func (c *wsClient) deliver(it item) bool {
	select {
	case c.items <- it:
		return true
	case <-c.quit:
		return false
	}
}

// readFrame reads one unmasked server frame (the server never fragments).
func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return 0, nil, errors.New("unexpected fragmented or masked server frame")
	}
	payload := make([]byte, n)
	_, err := io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// writeFrame writes one masked frame with FIN set.
func (c *wsClient) writeFrame(op byte, payload []byte) {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i&3])
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.conn.Write(b)
}

func (c *wsClient) send(pkts ...string) {
	for _, p := range pkts {
		c.writeFrame(1, []byte(p))
	}
}

func (c *wsClient) sendBinary(b []byte) { c.writeFrame(2, b) }

func (c *wsClient) sendItems(items ...item) {
	for _, it := range items {
		if it.isBin {
			c.writeFrame(2, it.bin)
		} else {
			c.writeFrame(1, []byte(it.text))
		}
	}
}

// txt and bin build items to send.
func txt(s string) item  { return item{text: s} }
func bin(b ...byte) item { return item{bin: b, isBin: true} }

func (c *wsClient) next() item {
	c.t.Helper()
	select {
	case it := <-c.items:
		return it
	case <-c.done:
		select {
		case it := <-c.items:
			return it
		default:
		}
		c.t.Fatalf("connection closed (%s), no more packets", c.end)
	case <-time.After(waitLong):
		c.t.Fatal("timed out waiting for a packet")
	}
	return item{}
}

func (c *wsClient) expectClosed() []item {
	c.t.Helper()
	var got []item
	timeout := time.After(waitLong)
	for {
		select {
		case it := <-c.items:
			got = append(got, it)
			continue
		case <-c.done:
		case <-timeout:
			c.t.Fatal("timed out waiting for the connection to close")
		}
		for {
			select {
			case it := <-c.items:
				got = append(got, it)
			default:
				return got
			}
		}
	}
}

// closeTransport closes the TCP connection without a close frame.
func (c *wsClient) closeTransport() { c.conn.Close() }

// transports runs f once per transport.
func transports(t *testing.T, f func(t *testing.T, dial func(ts *testServer) tclient)) {
	t.Run("polling", func(t *testing.T) {
		f(t, func(ts *testServer) tclient { return ts.dialPolling("") })
	})
	t.Run("websocket", func(t *testing.T) {
		f(t, func(ts *testServer) tclient { return ts.dialWS("") })
	})
}
