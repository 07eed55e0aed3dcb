package socketio

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// levelRecorder is a slog.Handler keeping every record above Debug level
// and counting the Debug ones.
type levelRecorder struct {
	mu     sync.Mutex
	above  []string
	debugs int
}

func (h *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelRecorder) WithGroup(string) slog.Handler            { return h }
func (h *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level <= slog.LevelDebug {
		h.debugs++
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "stack" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	h.above = append(h.above, b.String())
	return nil
}

func (h *levelRecorder) result() ([]string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.above...), h.debugs
}

// newLogServer is a test server logging to h, with the default error
// handling (errors are logged, not handed to a hook).
func newLogServer(t *testing.T, h slog.Handler, blocking bool) *testServer {
	t.Helper()
	srv, err := NewServer(Config{Logger: slog.New(h), MaxHTTPBufferSize: 1000, BlockingWebSocket: blocking})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, io: srv, errs: make(chan error, 1)}
	ts.hs = httptest.NewServer(srv)
	ts.tr = &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
	ts.hc = &http.Client{Transport: ts.tr}
	ts.base = ts.hs.URL + srv.Engine().Config().Path
	t.Cleanup(ts.close)
	return ts
}

// rawRequest sends request bytes on a new connection and returns the
// status of the reply (0 when there is none).
func (ts *testServer) rawRequest(request string) int {
	conn, err := net.Dial("tcp", ts.hs.Listener.Addr().String())
	if err != nil {
		ts.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLong))
	if _, err := io.WriteString(conn, request); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (ts *testServer) request(method, query, contentType, body string) int {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.base+"?"+query, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func upgradeRequest(addr, query string, extra ...string) string {
	lines := []string{"GET /socket.io/?" + query + " HTTP/1.1", "Host: " + addr, "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"}
	return strings.Join(append(lines, extra...), "\r\n") + "\r\n\r\n"
}

// wsViolation writes raw bytes on a fresh WebSocket session and waits for
// the server to close it.
func wsViolation(t *testing.T, ts *testServer, raw []byte) {
	t.Helper()
	c := ts.dialWS("")
	_, _ = c.conn.Write(raw)
	c.expectClosed()
}

// Bad requests and packets, which any client can send at will, are logged
// at Debug level at most: none of the rows of the bad-inputs table gives a
// record above it, and none goes to the default logger.
func TestBadInputsLogAtDebugOnly(t *testing.T) {
	defaults := &levelRecorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(defaults))
	t.Cleanup(func() { slog.SetDefault(prev) })

	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocking=%v", blocking), func(t *testing.T) {
			logs := &levelRecorder{}
			ts := newLogServer(t, logs, blocking)
			ts.io.OnConnection(func(s *Socket) {
				On(s, "chat", func(string) {})
			})
			ts.io.Of("/admin")
			addr := ts.hs.Listener.Addr().String()

			// Engine.IO: requests refused (rows 1 to 8, 11, 22, 27).
			for _, q := range []string{"EIO=4&transport=__proto__", "EIO=4", "transport=polling", "EIO=3&transport=polling", "EIO=4&transport=websocket", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", "EIO=4&transport=polling&sid="} {
				ts.request("GET", q, "", "")
			}
			ts.request("POST", "EIO=4&transport=polling", "text/plain", "4x")
			ts.rawRequest("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a\x7f\r\n\r\n")
			ts.rawRequest(upgradeRequest(addr, "EIO=4&transport=websocket")) // no key
			ts.rawRequest(upgradeRequest(addr, "EIO=4&transport=__proto__", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="))
			pc := ts.dialPolling("")
			ts.request("PUT", "EIO=4&transport=polling&sid="+pc.sid(), "text/plain", "4x")
			ts.request("GET", "EIO=3&transport=polling&sid="+pc.sid(), "", "")
			ts.rawRequest(upgradeRequest(addr, "EIO=3&transport=websocket&sid="+pc.sid(), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="))

			// Engine.IO: requests that close the session (rows 15 to 20, 23).
			for _, tc := range []struct{ contentType, body string }{
				{"application/octet-stream", "4hello"},
				{"text/plain", "4" + strings.Repeat("a", 2000)},
				{"text/plain", "abc"},
				{"text/plain", "b!!!!"},
				{"text/plain", "2"},
			} {
				pc := ts.dialPolling("")
				ts.request("POST", "EIO=4&transport=polling&sid="+pc.sid(), tc.contentType, tc.body)
				expectClosedOnly(t, pc)
			}
			pc = ts.dialPolling("")
			poll1 := make(chan int, 1)
			go func() { poll1 <- ts.request("GET", "EIO=4&transport=polling&sid="+pc.sid(), "", "") }()
			eventually(t, "a pending poll", func() bool {
				return ts.request("GET", "EIO=4&transport=polling&sid="+pc.sid(), "", "") == http.StatusBadRequest
			})
			<-poll1
			pc = ts.dialPolling("")
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", ts.base+"?EIO=4&transport=polling&sid="+pc.sid(), nil)
			go func() { time.Sleep(50 * time.Millisecond); cancel() }()
			if resp, err := ts.hc.Do(req); err == nil {
				resp.Body.Close()
			}

			// Engine.IO: WebSocket violations (rows 9, 28, 29, 31, 32, 33).
			mask := []byte{1, 2, 3, 4}
			long := binary.BigEndian.AppendUint64([]byte{0x82, 0xFF}, 1_000_001)
			for _, raw := range [][]byte{
				{0xA2, 0x00},                                // RSV2
				append(long, mask...),                       // over the size limit
				{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0},     // 64-bit length with the top bit set
				{0x81, 0x01, '4'},                           // unmasked
				append([]byte{0x89, 0xFE, 0, 126}, mask...), // control frame too long
				append([]byte{0x81, 0x84}, append(mask, 0xCE^1, 0xBA^2, 0xE1^3, 0xBD^4)...), // invalid UTF-8
				append([]byte{0x81, 0x80}, mask...),                                         // empty text frame
				append([]byte{0x81, 0x81}, append(mask, '2'^1)...),                          // ping from the client
			} {
				wsViolation(t, ts, raw)
			}
			// The probe of an upgrade: garbage, then a second upgrade
			// and a poll after it (rows 25, 26).
			pc = ts.dialPolling("")
			probe := ts.openWS("sid=" + pc.sid())
			probe.send("4hello")
			probe.expectClosed()
			ts.upgrade(pc)
			ts.openWS("sid=" + pc.sid()).expectClosed()
			ts.request("GET", "EIO=4&transport=polling&sid="+pc.sid(), "", "")

			// Socket.IO: packets closing the connection (rows 35 to 47, 49, 51).
			for _, input := range [][]item{
				{txt(`42[]`)}, {txt(`42{}`)}, {txt(`442["some","data"`)}, {txt(`4x`)},
				{txt(`42["connect"]`)}, {txt(`42["disconnect","123"]`)},
				{txt(`451-["hello",{"_placeholder":true,"num":"splice"}]`), bin(1, 2)},
				{txt(`4511-["x"]`)}, {txt(`45999999999-["x"]`)}, {txt(`45a-`)},
				{bin(1, 2, 3)}, {txt(`451-["a",{"_placeholder":true,"num":0}]`), txt(`42["b"]`)},
				{txt(`4299999999999999999999["x"]`)}, {txt(`42/admin,["x"]`)},
				{txt(`40`)}, {txt(`44{"message":"x"}`)}, {txt(`41"bye"`)},
				{txt(`42["e",` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]`)},
			} {
				c := ts.dialWS("")
				connect(t, c, "/", "")
				c.sendItems(input...)
				c.expectClosed()
			}
			for _, p := range []string{`40"string"`, `40[]`, `401`, `42["before connect"]`} {
				c := ts.dialWS("")
				c.send(p)
				c.expectClosed()
			}
			// Refused without closing: an unknown namespace, arguments a
			// typed handler cannot bind, an ack for no emit (rows 43,
			// 46, 51).
			c := ts.dialWS("")
			connect(t, c, "/", "")
			c.send(`40/random,`)
			expectText(t, c, `44/random,{"message":"Invalid namespace"}`)
			c.send(`42["chat",123]`, `42["chat"]`, `43999[]`)
			c.send(`42["chat","ok"]`)

			// Everything that was opened is gone.
			_ = ts.io.Close()
			eventually(t, "sessions closed", func() bool { return ts.io.Engine().SessionCount() == 0 })
			time.Sleep(50 * time.Millisecond) // the last handlers run
			above, debugs := logs.result()
			if len(above) > 0 {
				t.Errorf("%d records above Debug level for bad inputs:\n%s", len(above), strings.Join(above, "\n"))
			}
			if debugs == 0 {
				t.Error("no Debug records: is the configured logger used?")
			}
			t.Logf("%d Debug records", debugs)
		})
	}
	if above, debugs := defaults.result(); len(above) > 0 || debugs > 0 {
		t.Errorf("the default logger got %d records: %q", debugs+len(above), above)
	}
}
