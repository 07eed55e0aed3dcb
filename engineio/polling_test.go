package engineio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func echoEnv(t *testing.T, cfg Config) *env {
	h := newRecorder()
	h.echo = true
	return newEnvWith(t, cfg, h)
}

// Protocol test suite, "message / HTTP long-polling", revision 4.
func TestPollingMessagesRev4(t *testing.T) {
	e := echoEnv(t, testConfig())
	for _, body := range []string{
		"4hello",                     // one plain text packet
		"4test1\x1e4test2\x1e4test3", // several plain text packets
		"4hello\x1ebAQIDBA==",        // plain text and binary packets
		"4\x1e4",                     // empty messages
		"4h€llo 😀",                   // UTF-8
	} {
		sid := e.openPolling(4, "")
		rep := e.post(pq(sid), body)
		expect(t, rep, 200, "ok")
		if ct := rep.header.Get("Content-Type"); ct != "text/html" {
			t.Fatalf("POST Content-Type %q", ct)
		}
		eventually(t, waitShort, "echo", func() bool { return len(e.h.sessionEvents(sid)) == 1+strings.Count(body, "\x1e")+1 })
		rep = e.get(pq(sid))
		expect(t, rep, 200, body)
		if ct := rep.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
			t.Fatalf("GET Content-Type %q", ct)
		}
	}
}

// Protocol test suite (v3 branch), "message / HTTP long-polling".
func TestPollingMessagesRev3(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := echoEnv(t, cfg)
	for _, tc := range []struct{ post, get string }{
		{"6:4hello", "6:4hello"},
		{"6:4test16:4test26:4test3", "6:4test16:4test26:4test3"},
		{"6:4hello10:b4AQIDBA==", "6:4hello10:b4AQIDBA=="},
		{"2:4€", "2:4€"},     // the length counts UTF-16 units
		{"3:4😀", "3:4😀"},     // a surrogate pair is two units
		{"1:41:4", "1:41:4"}, // empty messages
	} {
		sid := e.openPolling(3, "b64=1")
		expect(t, e.post(pq3(sid)+"&b64=1", tc.post), 200, "ok")
		eventually(t, waitShort, "echo", func() bool { return len(e.h.sessionEvents(sid)) >= 1+strings.Count(tc.post, ":") })
		expect(t, e.get(pq3(sid)+"&b64=1"), 200, tc.get)
	}
}

// Revision 3 binary: with binary support (no b64) the response is the
// binary payload format.
func TestPollingBinaryRev3(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)

	sid := e.openPolling(3, "")
	s := e.srv.Session(sid)
	s.SendText([]byte("€"))
	s.SendBinary([]byte{1, 2, 3, 4})
	rep := e.get(pq3(sid))
	want := []byte{0x00, 0x04, 0xff, '4', 0xe2, 0x82, 0xac, 0x01, 0x05, 0xff, 0x04, 1, 2, 3, 4}
	if rep.status != 200 || !bytes.Equal(rep.body, want) {
		t.Fatalf("binary payload % x, want % x", rep.body, want)
	}
	if ct := rep.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	// Text only: the string format, even with binary support.
	s.SendText([]byte("t"))
	expect(t, e.get(pq3(sid)), 200, "2:4t")

	// The client posts a binary payload.
	rep = e.do("POST", pq3(sid), bytes.NewReader([]byte{0x01, 0x04, 0xff, 0x04, 9, 8, 7, 0x00, 0x02, 0xff, '4', 'x'}),
		map[string]string{"Content-Type": "application/octet-stream"})
	expect(t, rep, 200, "ok")
	eventually(t, waitShort, "binary delivery", func() bool { return len(e.h.sessionEvents(sid)) == 3 })
	evs := e.h.sessionEvents(sid)
	if evs[1].kind != "binary" || !bytes.Equal(evs[1].data, []byte{9, 8, 7}) || evs[2].kind != "text" || string(evs[2].data) != "x" {
		t.Fatalf("events %+v", evs)
	}

	// b64=1: base64 in the string format.
	sid = e.openPolling(3, "b64=1")
	e.srv.Session(sid).SendBinary([]byte{1, 2, 3, 4})
	rep = e.get(pq3(sid) + "&b64=1")
	expect(t, rep, 200, "10:b4AQIDBA==")
	if ct := rep.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestPollingBinaryRev4(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)
	s.SendBinary([]byte{1, 2, 3, 4})
	s.SendBinary(nil)
	s.SendText([]byte("x"))
	expect(t, e.get(pq(sid)), 200, "bAQIDBA==\x1eb\x1e4x")
	expect(t, e.post(pq(sid), "bAQIDBA==\x1eb"), 200, "ok")
	eventually(t, waitShort, "delivery", func() bool { return len(e.h.sessionEvents(sid)) == 3 })
	evs := e.h.sessionEvents(sid)
	if evs[1].kind != "binary" || !bytes.Equal(evs[1].data, []byte{1, 2, 3, 4}) || evs[2].kind != "binary" || len(evs[2].data) != 0 {
		t.Fatalf("events %+v", evs)
	}
}

// A GET with nothing to send waits, and returns as soon as a message is
// sent.
func TestPollingLongPoll(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	ch := e.pollAsync(pq(sid))
	e.waitPolling(sid)
	select {
	case rep := <-ch:
		t.Fatalf("poll returned early: %v", rep)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	if err := e.srv.Session(sid).SendText([]byte("wake")); err != nil {
		t.Fatal(err)
	}
	rep := recv(t, ch, waitShort, "the poll")
	expect(t, rep, 200, "4wake")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("poll answered after %v", d)
	}
	// Messages sent while no GET is waiting are batched in the next one.
	for i := range 5 {
		e.srv.Session(sid).SendText([]byte(itoa(i)))
	}
	expect(t, e.get(pq(sid)), 200, "40\x1e41\x1e42\x1e43\x1e44")
}

// Handler calls follow packet order within and across POSTs.
func TestPollingDeliveryOrder(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	var want []string
	n := 0
	for range 20 {
		var parts []string
		for range 25 {
			m := fmt.Sprintf("m%d", n)
			n++
			want = append(want, m)
			parts = append(parts, "4"+m)
		}
		expect(t, e.post(pq(sid), strings.Join(parts, "\x1e")), 200, "ok")
	}
	eventually(t, waitShort, "all messages", func() bool { return len(e.h.texts(sid)) == len(want) })
	if got := e.h.texts(sid); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
}

func TestPollingJSONP(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	rep := e.get("EIO=3&transport=polling&j=0")
	body := string(rep.body)
	if rep.status != 200 || !strings.HasPrefix(body, `___eio[0]("`) || !strings.HasSuffix(body, `");`) {
		t.Fatalf("JSONP handshake %q", body)
	}
	if ct := rep.header.Get("Content-Type"); ct != "text/javascript; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	inner := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(body, `___eio[0]("`), `");`), `\"`, `"`)
	n, pkt, _ := strings.Cut(inner, ":")
	if n != itoa(len(pkt)) {
		t.Fatalf("payload %q", inner)
	}
	sid := checkOpen(t, pkt, `["websocket"]`, e.srv.Config())
	q := pq3(sid) + "&j=0"

	// Server to client: a string literal, binary as base64.
	s := e.srv.Session(sid)
	s.SendText([]byte("say \"hi\"\n\u2028"))
	s.SendBinary([]byte{1, 2, 3, 4})
	expect(t, e.get(q), 200, `___eio[0]("11:4say \"hi\"\n\u202810:b4AQIDBA==");`)

	// The callback index keeps only digits.
	rep = e.get("EIO=3&transport=polling&j=1%29%3Balert%281%29")
	if !strings.HasPrefix(string(rep.body), `___eio[11]("`) {
		t.Fatalf("JSONP index not sanitized: %q", rep.body)
	}

	// Client to server: a form with field d, newlines escaped.
	rep = e.do("POST", q, strings.NewReader(`d=12%3A4line1%5Cnline2`), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	expect(t, rep, 200, "ok")
	eventually(t, waitShort, "delivery", func() bool { return len(e.h.texts(sid)) == 1 })
	if got := e.h.texts(sid)[0]; got != "line1\nline2" {
		t.Fatalf("got %q", got)
	}
	// A body without d is invalid: the session closes.
	expect(t, e.do("POST", q, strings.NewReader(`x=1`), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}),
		400, `{"code":3,"message":"Bad request"}`)
	e.h.waitClosed(t, sid, ReasonParseError)

	// Revision 4 clients may use JSONP as well.
	rep = e.get("EIO=4&transport=polling&j=3")
	if !strings.HasPrefix(string(rep.body), `___eio[3]("0{\"sid\":`) {
		t.Fatalf("revision 4 JSONP %q", rep.body)
	}
}

func decompress(t testing.TB, enc string, b []byte) string {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	default:
		return string(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestPollingCompression(t *testing.T) {
	big := strings.Repeat("a", 1023) // "4" + 1023 bytes = 1024, the threshold
	small := strings.Repeat("b", 1022)
	for _, tc := range []struct {
		accept, data, enc string
	}{
		{"gzip, deflate, br", big, "gzip"},
		{"deflate", big, "deflate"},
		{"gzip;q=0, deflate", big, "deflate"},
		{"br", big, ""},
		{"", big, ""},
		{"gzip", small, ""},
		{"identity", big, ""},
	} {
		e := newEnv(t, testConfig())
		sid := e.openPolling(4, "")
		e.srv.Session(sid).SendText([]byte(tc.data))
		hdr := map[string]string{}
		if tc.accept != "" {
			hdr["Accept-Encoding"] = tc.accept
		}
		rep := e.do("GET", pq(sid), nil, hdr)
		if got := rep.header.Get("Content-Encoding"); got != tc.enc {
			t.Fatalf("Accept-Encoding %q, %d bytes: Content-Encoding %q, want %q", tc.accept, len(tc.data)+1, got, tc.enc)
		}
		if rep.header.Get("Content-Length") != itoa(len(rep.body)) {
			t.Fatalf("Content-Length %q for %d bytes", rep.header.Get("Content-Length"), len(rep.body))
		}
		if got := decompress(t, tc.enc, rep.body); got != "4"+tc.data {
			t.Fatalf("Accept-Encoding %q: body %d bytes", tc.accept, len(got))
		}
	}
	cfg := testConfig()
	cfg.HTTPCompression = &HTTPCompression{Disable: true}
	e := newEnv(t, cfg)
	sid := e.openPolling(4, "")
	e.srv.Session(sid).SendText([]byte(big))
	rep := e.do("GET", pq(sid), nil, map[string]string{"Accept-Encoding": "gzip"})
	if rep.header.Get("Content-Encoding") != "" || string(rep.body) != "4"+big {
		t.Fatalf("compressed although disabled")
	}
	// NoCompress messages are never compressed.
	e = newEnv(t, testConfig())
	sid = e.openPolling(4, "")
	e.srv.Session(sid).Send(NewTextMessage([]byte(big)).NoCompress())
	rep = e.do("GET", pq(sid), nil, map[string]string{"Accept-Encoding": "gzip"})
	if rep.header.Get("Content-Encoding") != "" {
		t.Fatalf("NoCompress message compressed")
	}
}

// Responses to polls are not cacheable, as in the reference.
func TestPollingNoStore(t *testing.T) {
	e := newEnv(t, testConfig())
	rep := e.get("EIO=4&transport=polling")
	sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	if rep.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("handshake Cache-Control %q", rep.header.Get("Cache-Control"))
	}
	rep = e.post(pq(sid), "4x")
	if rep.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST Cache-Control %q", rep.header.Get("Cache-Control"))
	}
}

// BAD-INPUTS row 17; protocol test suite "closes the session upon
// duplicate poll requests".
func TestPollingOverlappingGET(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	first := e.pollAsync(pq(sid))
	e.waitPolling(sid)
	second := e.get(pq(sid) + "&t=burst")
	if second.status != 400 {
		t.Fatalf("second poll %v", second)
	}
	expect(t, recv(t, first, waitShort, "the first poll"), 200, "1")
	e.h.waitClosed(t, sid, ReasonTransportError)
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	if e.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

// BAD-INPUTS row 17 (two concurrent POSTs).
func TestPollingOverlappingPOST(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	s := e.srv.Session(sid)
	pr, pw := io.Pipe()
	done := make(chan reply, 1)
	go func() {
		rep, err := e.doErr(context.Background(), "POST", pq(sid), pr, nil)
		if err != nil {
			rep.status = -1
		}
		done <- rep
	}()
	eventually(t, waitShort, "the first POST to be read", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.postActive
	})
	if rep := e.post(pq(sid), "4second"); rep.status != 400 {
		t.Fatalf("second POST %v", rep)
	}
	e.h.waitClosed(t, sid, ReasonTransportError)
	_, _ = io.WriteString(pw, "4first")
	pw.Close()
	recv(t, done, waitShort, "the first POST")
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	if got := e.h.texts(sid); len(got) != 0 {
		t.Fatalf("delivered after close: %q", got)
	}
}

// BAD-INPUTS row 18; protocol test suite "closes the session upon
// cancelled polling request".
func TestPollingAborted(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.doErr(ctx, "GET", pq(sid), nil, nil)
		done <- err
	}()
	e.waitPolling(sid)
	cancel()
	if err := recv(t, done, waitShort, "the cancelled poll"); err == nil {
		t.Fatal("cancelled poll succeeded")
	}
	ev := e.h.waitClosed(t, sid, ReasonTransportError)
	if ev.err == nil || !strings.Contains(ev.err.Error(), "poll connection closed prematurely") {
		t.Fatalf("close error %v", ev.err)
	}
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
}

// unsized hides the length of a reader so that the request is chunked.
type unsized struct{ io.Reader }

// BAD-INPUTS row 15
func TestPollingBodyTooLarge(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			e := newEnv(t, testConfig())
			sid := e.openPolling(4, "")
			var body io.Reader = strings.NewReader("4" + strings.Repeat("a", 1_000_000))
			if chunked {
				body = unsized{body}
			}
			rep := e.do("POST", pq(sid), body, map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
			if rep.status != 413 {
				t.Fatalf("%v", rep)
			}
			e.h.waitClosed(t, sid, ReasonTransportError)
			if got := e.h.texts(sid); len(got) != 0 {
				t.Fatal("oversized payload delivered")
			}
			expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
		})
	}
	// Exactly at the limit is fine.
	cfg := testConfig()
	cfg.MaxHTTPBufferSize = 100
	e := newEnv(t, cfg)
	sid := e.openPolling(4, "")
	expect(t, e.post(pq(sid), "4"+strings.Repeat("x", 99)), 200, "ok")
	expect(t, e.post(pq(sid), "4"+strings.Repeat("x", 100)), 413, "")
	e.h.waitClosed(t, sid, ReasonTransportError)
	if len(e.h.texts(sid)) != 1 {
		t.Fatalf("texts %d", len(e.h.texts(sid)))
	}
}

// BAD-INPUTS row 16
func TestPollingBinaryContentRev4(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	rep := e.do("POST", pq(sid), strings.NewReader("4hello"), map[string]string{"Content-Type": "application/octet-stream"})
	expectError(t, rep, 400, 3, "Bad request")
	e.h.waitClosed(t, sid, ReasonTransportError)
	expectError(t, e.get(pq(sid)), 400, 1, "Session ID unknown")
	if len(e.h.texts(sid)) != 0 {
		t.Fatal("delivered")
	}
}

// BAD-INPUTS row 19
// BAD-INPUTS row 20
// Protocol test suite "closes the session upon invalid packet format".
func TestPollingInvalidPayload(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	for _, tc := range []struct {
		rev  int
		body string
	}{
		{4, "abc"}, {4, ""}, {4, "4hello\x1e"}, {4, "7"}, {4, "9"}, {4, "x"},
		{4, "b!!!!"}, {4, "bA==="}, {4, "\x1e"}, {4, "b" + "AQID" + "\n"},
		{3, "abc"}, {3, ""}, {3, "6:4hello7"}, {3, "2:4"}, {3, "99:4a"}, {3, "1:7"},
		{3, "6:b4!!!!"}, {3, ":"}, {3, "-1:4"},
	} {
		sid := e.openPolling(tc.rev, "b64=1")
		q := pq(sid)
		if tc.rev == 3 {
			q = pq3(sid)
		}
		rep := e.post(q, tc.body)
		if rep.status != 400 {
			t.Fatalf("rev %d body %q: %v", tc.rev, tc.body, rep)
		}
		e.h.waitClosed(t, sid, ReasonParseError)
		expectError(t, e.get(q), 400, 1, "Session ID unknown")
	}
	if e.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

// BAD-INPUTS row 21: half a million packets in one body decode in linear
// time and are all delivered.
func TestPollingPacketFlood(t *testing.T) {
	e := newEnv(t, testConfig())
	sid := e.openPolling(4, "")
	const n = 500_000
	body := "4" + strings.Repeat("\x1e4", n-1)
	if len(body) > 1_000_000 {
		t.Fatalf("body of %d bytes", len(body))
	}
	start := time.Now()
	expect(t, e.post(pq(sid), body), 200, "ok")
	eventually(t, 30*time.Second, "all packets", func() bool { return e.h.messages.Load() == n })
	t.Logf("%d packets decoded and delivered in %v", n, time.Since(start))
	e.srv.Session(sid).SendText([]byte("alive"))
	expect(t, e.get(pq(sid)), 200, "4alive")
}

// Protocol test suite "heartbeat / HTTP long-polling / sends ping/pong
// packets", revision 3: the client pings.
func TestPollingRev3PingPong(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	sid := e.openPolling(3, "")
	for range 3 {
		expect(t, e.post(pq3(sid), "1:2"), 200, "ok")
		expect(t, e.get(pq3(sid)), 200, "1:3")
	}
	// A probe ping on polling is answered like any ping.
	expect(t, e.post(pq3(sid), "6:2probe"), 200, "ok")
	expect(t, e.get(pq3(sid)), 200, "1:3")
}

// Polling requests reach the handler with http.Request data.
func TestSessionHandshakeData(t *testing.T) {
	e := newEnv(t, testConfig())
	rep := e.do("GET", "EIO=4&transport=polling&foo=bar", nil, map[string]string{"X-Test": "1"})
	sid := checkOpen(t, string(rep.body), `["websocket"]`, e.srv.Config())
	s := e.srv.Session(sid)
	hs := s.Handshake()
	if hs.Query().Get("foo") != "bar" || hs.Header.Get("X-Test") != "1" || hs.RemoteAddr == "" || hs.Secure ||
		!strings.Contains(hs.URL, "foo=bar") || time.Since(hs.Time) > time.Minute {
		t.Fatalf("handshake %+v", hs)
	}
	s.SetData(42)
	if s.Data() != 42 {
		t.Fatal("Data")
	}
	_ = http.StatusOK
}
