package sioprom_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/metrics/sioprom"
	"github.com/go-sio/sio/socketio"
)

const waitLong = 5 * time.Second

// pollClient is a minimal Engine.IO revision 4 polling client.
type pollClient struct {
	t    *testing.T
	base string
	sid  string
}

func (c *pollClient) do(method, url, body string) string {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %q %v", method, url, resp.StatusCode, b, err)
	}
	return string(b)
}

func dialPolling(t *testing.T, base string) *pollClient {
	t.Helper()
	c := &pollClient{t: t, base: base}
	open := c.do("GET", base+"?EIO=4&transport=polling", "")
	var o struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &o); err != nil || o.SID == "" {
		t.Fatalf("open packet %q", open)
	}
	c.sid = o.SID
	return c
}

func (c *pollClient) url() string   { return c.base + "?EIO=4&transport=polling&sid=" + c.sid }
func (c *pollClient) send(p string) { c.do("POST", c.url(), p) }
func (c *pollClient) poll() string  { return c.do("GET", c.url(), "") }

// wsClient is a minimal Engine.IO revision 4 WebSocket client.
type wsClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialWS(t *testing.T, addr, path string) *wsClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitLong))
	fmt.Fprintf(conn, "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket handshake: %v %v", resp, err)
	}
	c := &wsClient{t: t, conn: conn, br: br}
	if open := c.read(); !strings.HasPrefix(open, `0{"sid":`) {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// send writes a masked text frame.
func (c *wsClient) send(p string) {
	c.t.Helper()
	key := [4]byte{1, 2, 3, 4}
	b := []byte{0x81, 0x80 | byte(len(p))}
	b = append(b, key[:]...)
	for i := range len(p) {
		b = append(b, p[i]^key[i%4])
	}
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the payload of the next text frame (short frames only).
func (c *wsClient) read() string {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			c.t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatal(err)
	}
	if h[0] != 0x81 {
		c.t.Fatalf("frame %x %q", h, p)
	}
	return string(p)
}

func expectPrefix(t *testing.T, got, prefix string) {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("got %q, want %s...", got, prefix)
	}
}

// compare waits until the collector's metrics named in names are want
// (text exposition format, without HELP lines: testutil adds them).
func compare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		err := testutil.CollectAndCompare(c, strings.NewReader(want), names...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCollector(t *testing.T) {
	io, err := socketio.NewServer(socketio.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) { s.Join("room:lobby") })
	io.Of("/admin").Use(func(*socketio.Socket) error { return &socketio.ConnectError{Message: "denied"} })
	hs := httptest.NewServer(io)
	t.Cleanup(func() { io.Close(); hs.Close() })
	base := hs.URL + "/socket.io/"
	col := sioprom.New(io)

	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}

	// A polling client and a WebSocket client join the main namespace;
	// the WebSocket one is refused /admin.
	pc := dialPolling(t, base)
	pc.send("40")
	expectPrefix(t, pc.poll(), `40{"sid":"`)
	ws := dialWS(t, hs.Listener.Addr().String(), "/socket.io/")
	ws.send("40")
	expectPrefix(t, ws.read(), `40{"sid":"`)
	ws.send("40/admin,")
	if got := ws.read(); got != `44/admin,{"message":"denied"}` {
		t.Fatalf("got %q", got)
	}
	if err := io.Emit("news", 1); err != nil {
		t.Fatal(err)
	}
	if got := pc.poll(); got != `42["news",1]` {
		t.Fatalf("got %q", got)
	}
	if got := ws.read(); got != `42["news",1]` {
		t.Fatalf("got %q", got)
	}

	// In: "0", "0", "0/admin," (10 bytes). Out: two CONNECT replies
	// (`0{"sid":"<20 characters>"}`, 31 bytes), a CONNECT_ERROR (28
	// bytes) and `2["news",1]` twice (11 bytes).
	compare(t, col, `
# HELP engineio_sessions Open Engine.IO sessions, by current transport.
# TYPE engineio_sessions gauge
engineio_sessions{transport="polling"} 1
engineio_sessions{transport="websocket"} 1
# HELP engineio_sessions_opened_total Engine.IO sessions opened.
# TYPE engineio_sessions_opened_total counter
engineio_sessions_opened_total 2
# HELP engineio_messages_received_total Engine.IO message packets received from clients.
# TYPE engineio_messages_received_total counter
engineio_messages_received_total 3
# HELP engineio_received_bytes_total Payload bytes of the Engine.IO message packets received.
# TYPE engineio_received_bytes_total counter
engineio_received_bytes_total 10
# HELP engineio_messages_sent_total Engine.IO message packets written to clients, once per recipient.
# TYPE engineio_messages_sent_total counter
engineio_messages_sent_total 5
# HELP engineio_sent_bytes_total Payload bytes of the Engine.IO message packets written, once per recipient.
# TYPE engineio_sent_bytes_total counter
engineio_sent_bytes_total 112
# HELP socketio_namespaces Socket.IO namespaces on this node.
# TYPE socketio_namespaces gauge
socketio_namespaces 2
# HELP socketio_sockets Connected Socket.IO sockets on this node, by namespace.
# TYPE socketio_sockets gauge
socketio_sockets{namespace="/"} 2
socketio_sockets{namespace="/admin"} 0
# HELP socketio_rooms Rooms of all namespaces on this node, the room of each socket's own id included.
# TYPE socketio_rooms gauge
socketio_rooms 3
# HELP socketio_connects_total Sockets connected to a namespace.
# TYPE socketio_connects_total counter
socketio_connects_total 2
# HELP socketio_connect_errors_total Connections to a namespace refused by a middleware.
# TYPE socketio_connect_errors_total counter
socketio_connect_errors_total 1
`, "engineio_sessions", "engineio_sessions_opened_total", "engineio_messages_received_total", "engineio_received_bytes_total",
		"engineio_messages_sent_total", "engineio_sent_bytes_total",
		"socketio_namespaces", "socketio_sockets", "socketio_rooms", "socketio_connects_total", "socketio_connect_errors_total")

	// The WebSocket client goes away; the polling one asks for a
	// session id that does not exist.
	ws.conn.Close()
	resp, err := http.Get(base + "?EIO=4&transport=polling&sid=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	compare(t, col, `
# HELP engineio_sessions Open Engine.IO sessions, by current transport.
# TYPE engineio_sessions gauge
engineio_sessions{transport="polling"} 1
engineio_sessions{transport="websocket"} 0
# HELP engineio_sessions_closed_total Engine.IO sessions closed, by reason.
# TYPE engineio_sessions_closed_total counter
engineio_sessions_closed_total{reason="forced close"} 0
engineio_sessions_closed_total{reason="parse error"} 0
engineio_sessions_closed_total{reason="ping timeout"} 0
engineio_sessions_closed_total{reason="transport close"} 1
engineio_sessions_closed_total{reason="transport error"} 0
engineio_sessions_closed_total{reason="write buffer full"} 0
# HELP engineio_request_errors_total HTTP requests refused with an Engine.IO error, by error code.
# TYPE engineio_request_errors_total counter
engineio_request_errors_total{code="0"} 0
engineio_request_errors_total{code="1"} 1
engineio_request_errors_total{code="2"} 0
engineio_request_errors_total{code="3"} 0
engineio_request_errors_total{code="4"} 0
engineio_request_errors_total{code="5"} 0
# HELP socketio_sockets Connected Socket.IO sockets on this node, by namespace.
# TYPE socketio_sockets gauge
socketio_sockets{namespace="/"} 1
socketio_sockets{namespace="/admin"} 0
# HELP socketio_rooms Rooms of all namespaces on this node, the room of each socket's own id included.
# TYPE socketio_rooms gauge
socketio_rooms 2
# HELP socketio_disconnects_total Sockets disconnected, by reason.
# TYPE socketio_disconnects_total counter
socketio_disconnects_total{reason="client namespace disconnect"} 0
socketio_disconnects_total{reason="forced close"} 0
socketio_disconnects_total{reason="forced server close"} 0
socketio_disconnects_total{reason="parse error"} 0
socketio_disconnects_total{reason="ping timeout"} 0
socketio_disconnects_total{reason="server namespace disconnect"} 0
socketio_disconnects_total{reason="server shutting down"} 0
socketio_disconnects_total{reason="transport close"} 1
socketio_disconnects_total{reason="transport error"} 0
socketio_disconnects_total{reason="write buffer full"} 0
`, "engineio_sessions", "engineio_sessions_closed_total", "engineio_request_errors_total",
		"socketio_sockets", "socketio_rooms", "socketio_disconnects_total")

	// Every metric is gathered once, consistent with its description.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 21 {
		t.Fatalf("%d metric families", len(mfs))
	}
}

func TestEngineCollector(t *testing.T) {
	srv, err := engineio.NewServer(engineio.Config{Logger: slog.New(slog.DiscardHandler)}, echo{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	col := sioprom.NewEngine(srv)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)

	pc := dialPolling(t, hs.URL+"/engine.io/")
	pc.send("4hello")
	if got := pc.poll(); got != "4hello" {
		t.Fatalf("got %q", got)
	}
	compare(t, col, `
# HELP engineio_sessions Open Engine.IO sessions, by current transport.
# TYPE engineio_sessions gauge
engineio_sessions{transport="polling"} 1
engineio_sessions{transport="websocket"} 0
# HELP engineio_messages_received_total Engine.IO message packets received from clients.
# TYPE engineio_messages_received_total counter
engineio_messages_received_total 1
# HELP engineio_sent_bytes_total Payload bytes of the Engine.IO message packets written, once per recipient.
# TYPE engineio_sent_bytes_total counter
engineio_sent_bytes_total 5
`, "engineio_sessions", "engineio_messages_received_total", "engineio_sent_bytes_total")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "socketio_") {
			t.Fatalf("engine collector exports %s", mf.GetName())
		}
	}
	if len(mfs) != 11 {
		t.Fatalf("%d metric families", len(mfs))
	}
}

// echo sends every text message back.
type echo struct{}

func (echo) OnOpen(*engineio.Session)                          {}
func (echo) OnText(s *engineio.Session, data []byte)           { _ = s.SendText(data) }
func (echo) OnBinary(*engineio.Session, []byte)                {}
func (echo) OnClose(*engineio.Session, engineio.Reason, error) {}
