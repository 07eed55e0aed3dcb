package engineio

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"
)

// Protocol test suite "message / WebSocket": text and binary round trips,
// both revisions.
func TestWebSocketMessages(t *testing.T) {
	cfg := testConfig()
	cfg.AllowEIO3 = true
	h := newRecorder()
	h.echo = true
	for _, blocking := range []bool{false, true} {
		cfg.BlockingWebSocket = blocking
		e := newEnvWith(t, cfg, h)
		c, sid := e.openWS(4)
		c.sendText("4hello")
		c.expectText("4hello")
		c.sendBinary([]byte{1, 2, 3, 4})
		c.expectBinary([]byte{1, 2, 3, 4})
		c.sendText("bAQIDBA==") // base64 binary from a client without binary frames
		c.expectBinary([]byte{1, 2, 3, 4})
		c.sendText("4" + strings.Repeat("é", 40000)) // 16-bit then 64-bit lengths
		c.expectText("4" + strings.Repeat("é", 40000))
		c.sendText("4")
		c.expectText("4")
		// A message split into fragments, with a ping in between.
		c.write(maskedFrame(opText, []byte("4fr")))
		c.write(maskedFrame(0x80|opPing, []byte("p")))
		c.write(maskedFrame(opCont, []byte("ag")))
		c.write(maskedFrame(0x80|opCont, []byte("ment")))
		f := c.readFrame()
		if f.op != opPong || string(f.payload) != "p" {
			t.Fatalf("got %v, want pong", f)
		}
		c.expectText("4fragment")
		// Byte by byte.
		for _, b := range maskedFrame(0x80|opText, []byte("4slow")) {
			c.write([]byte{b})
		}
		c.expectText("4slow")
		if got := e.h.texts(sid); len(got) != 5 {
			t.Fatalf("texts %d", len(got))
		}

		c3, _ := e.openWS(3)
		c3.sendText("4hello")
		c3.expectText("4hello")
		c3.sendBinary([]byte{4, 1, 2, 3}) // revision 3: type byte first
		c3.expectBinary([]byte{4, 1, 2, 3})
		c3.sendText("b4AQID")
		c3.expectBinary([]byte{4, 1, 2, 3})
		c3.sendBinary([]byte{9})
		c3.expectClose(1005) // unknown type: parse error
	}
}

// Frames the client pipelines right behind its upgrade request are read.
// BAD-INPUTS row 9 (garbage right behind the handshake).
func TestWebSocketPipelined(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		req := upgradeRequest(e.hs.Listener.Addr().String(), "/engine.io/?EIO=4&transport=websocket")
		conn, br, resp := e.rawHTTP(req + string(maskedFrame(0x80|opText, []byte("4early"))))
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		c := &wsClient{t: t, conn: conn, br: br, resp: resp}
		sid := checkOpen(t, string(c.readFrame().payload), `[]`, e.srv.Config())
		eventually(t, waitShort, "the early message", func() bool { return len(e.h.texts(sid)) == 1 })

		// BAD-INPUTS row 9: garbage right behind the handshake.
		conn, br, resp = e.rawHTTP(req + "test")
		c = &wsClient{t: t, conn: conn, br: br, resp: resp}
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		f := c.readFrame()
		sid = checkOpen(t, string(f.payload), `[]`, e.srv.Config())
		c.expectClose(1002)
		e.h.waitClosed(t, sid, ReasonTransportError)
		e.waitGone(sid)
	})
}

// Session.Close from OnOpen: the client gets the open packet, then the
// close.
func TestWebSocketCloseInOnOpen(t *testing.T) {
	h := newRecorder()
	h.onOpen = func(s *Session) {
		_ = s.SendText([]byte("go away"))
		_ = s.Close()
	}
	cfg := testConfig()
	for _, blocking := range []bool{false, true} {
		cfg.BlockingWebSocket = blocking
		e := newEnvWith(t, cfg, h)
		c, sid := e.openWS(4)
		c.expectText("4go away")
		c.expectClose(1000)
		e.h.waitClosed(t, sid, ReasonForcedClose)
		if e.srv.SessionCount() != 0 {
			t.Fatalf("SessionCount %d", e.srv.SessionCount())
		}
		// Polling too: the handshake carries the open packet and the
		// message, the next poll the close packet.
		rep := e.get("EIO=4&transport=polling")
		parts := strings.Split(string(rep.body), "\x1e")
		if len(parts) != 2 || parts[1] != "4go away" {
			t.Fatalf("handshake %q", rep.body)
		}
		psid := checkOpen(t, parts[0], `["websocket"]`, e.srv.Config())
		expect(t, e.get(pq(psid)), 200, "1")
	}
}

// frameCase is a client frame sequence that violates RFC 6455 and the
// close code the server must fail the connection with.
type frameCase struct {
	name  string
	row   int // BAD-INPUTS row, 0 if none
	bytes func() []byte
	code  int
}

func key() [4]byte { return [4]byte{0x12, 0x34, 0x56, 0x78} }

func frameViolations() []frameCase {
	return []frameCase{
		// BAD-INPUTS row 9
		{"RSV2 set", 9, func() []byte { return []byte{0xA2, 0x00} }, 1002},
		{"RSV3 set", 9, func() []byte { return maskedFrame(0x90|opText, []byte("4x")) }, 1002},
		{"garbage", 9, func() []byte { return []byte("test") }, 1002},
		{"RSV1 without deflate", 0, func() []byte { return maskedFrame(0xC0|opText, []byte("4x")) }, 1002},
		// BAD-INPUTS row 31
		{"unmasked text", 31, func() []byte { return []byte{0x81, 0x02, '4', 'x'} }, 1002},
		{"unknown opcode", 0, func() []byte { return maskedFrame(0x83, nil) }, 1002},
		{"unknown control opcode", 0, func() []byte { return maskedFrame(0x8B, nil) }, 1002},
		// BAD-INPUTS row 28: declares 1,000,001 bytes; no payload is sent.
		{"oversized length", 28, func() []byte {
			k := key()
			return append([]byte{0x81, 0xFF, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x41}, k[:]...)
		}, 1009},
		{"oversized 16-bit length", 28, func() []byte {
			return []byte{0x82, 0xFE, 0xFF, 0xFF} // with MaxHTTPBufferSize 1000 below
		}, 1009},
		// BAD-INPUTS row 29
		{"64-bit length with MSB", 29, func() []byte {
			k := key()
			return append([]byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}, k[:]...)
		}, 1002},
		{"64-bit max length", 29, func() []byte {
			k := key()
			return append([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, k[:]...)
		}, 1009},
		// BAD-INPUTS row 30: fragments over the total size.
		{"fragments too big", 30, func() []byte {
			out := maskedFrame(opText, []byte("4"))
			for range 1000 {
				out = append(out, maskedFrame(opCont, []byte("a"))...)
			}
			return out
		}, 1009},
		// BAD-INPUTS row 31: control frame violations.
		{"ping of 126 bytes", 31, func() []byte { return maskedFrame(0x80|opPing, make([]byte, 126)) }, 1002},
		{"fragmented ping", 31, func() []byte { return maskedFrame(opPing, nil) }, 1002},
		{"close with 1-byte payload", 31, func() []byte { return maskedFrame(0x80|opClose, []byte{0x03}) }, 1002},
		{"close code 0", 31, func() []byte { return maskedFrame(0x80|opClose, []byte{0, 0}) }, 1002},
		{"close code 999", 31, func() []byte { return maskedFrame(0x80|opClose, closePayload(999, "")) }, 1002},
		{"close code 1005", 31, func() []byte { return maskedFrame(0x80|opClose, closePayload(1005, "")) }, 1002},
		{"close code 1006", 31, func() []byte { return maskedFrame(0x80|opClose, closePayload(1006, "")) }, 1002},
		{"close code 1015", 31, func() []byte { return maskedFrame(0x80|opClose, closePayload(1015, "")) }, 1002},
		{"close code 5000", 31, func() []byte { return maskedFrame(0x80|opClose, closePayload(5000, "")) }, 1002},
		{"continuation first", 0, func() []byte { return maskedFrame(0x80|opCont, []byte("x")) }, 1002},
		{"text inside a fragmented message", 0, func() []byte {
			return append(maskedFrame(opText, []byte("4a")), maskedFrame(0x80|opText, []byte("4b"))...)
		}, 1002},
		// BAD-INPUTS row 32
		{"invalid UTF-8 text", 32, func() []byte { return maskedFrame(0x81, []byte{0xCE, 0xBA, 0xE1, 0xBD}) }, 1007},
		{"invalid UTF-8 across fragments", 32, func() []byte {
			return append(maskedFrame(opText, []byte{'4', 0xCE}), maskedFrame(0x80|opCont, []byte{0x41})...)
		}, 1007},
		{"invalid UTF-8 close reason", 32, func() []byte {
			return maskedFrame(0x80|opClose, closePayload(1000, "\xff\xfe"))
		}, 1007},
	}
}

// BAD-INPUTS row 9
// BAD-INPUTS row 28
// BAD-INPUTS row 29
// BAD-INPUTS row 30
// BAD-INPUTS row 31
// BAD-INPUTS row 32
// Each violation fails the WebSocket with its
// close code; the session is closed and gone, the server keeps serving.
func TestWebSocketFrameViolations(t *testing.T) {
	cfg := testConfig()
	cfg.MaxHTTPBufferSize = 1000
	cfg.AllowEIO3 = true
	forEachWebSocketMode(t, cfg, func(t *testing.T, e *env) {
		for _, tc := range frameViolations() {
			c, sid := e.openWS(4)
			c.write(tc.bytes())
			f, err := c.readFrameErr(waitLong)
			if err != nil || f.op != opClose || f.closeCode() != tc.code {
				t.Fatalf("%s (row %d): got %v %v, want close %d", tc.name, tc.row, f, err, tc.code)
			}
			c.expectEOF()
			e.h.waitClosed(t, sid, ReasonTransportError)
			e.waitGone(sid)
			if got := e.h.texts(sid); len(got) != 0 {
				t.Fatalf("%s: delivered %q", tc.name, got)
			}
		}
		// The same on a probe: only the probe goes, the session stays.
		sid := e.openPolling(4, "")
		probe := e.dialWS("EIO=4&transport=websocket&sid=" + sid)
		probe.write([]byte{0xA2, 0x00})
		probe.expectClose(1002)
		e.srv.Session(sid).SendText([]byte("still"))
		expect(t, e.get(pq(sid)), 200, "4still")
		// Revision 3 sessions too.
		c, sid := e.openWS(3)
		c.write([]byte{0x81, 0x01, '2'})
		c.expectClose(1002)
		e.h.waitClosed(t, sid, ReasonTransportError)
	})
}

// BAD-INPUTS row 30: a flood of empty continuation frames is capped at
// 131,072 fragments with 1008.
func TestWebSocketFragmentFlood(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(4)
		k := key()
		cont := maskedFrameKey(opCont, k, nil)
		flood := make([]byte, 0, 6*131073)
		flood = append(flood, maskedFrameKey(opText, k, []byte("4"))...)
		for range 131072 {
			flood = append(flood, cont...)
		}
		c.write(flood)
		c.expectClose(1008)
		e.h.waitClosed(t, sid, ReasonTransportError)
	})
}

// The data of a frame declared too big is never waited for: the close
// comes while the client is still "sending".
func TestWebSocketOversizedBeforePayload(t *testing.T) {
	e := newEnv(t, testConfig())
	c, sid := e.openWS(4)
	hdr := []byte{0x82, 0xFF}
	hdr = binary.BigEndian.AppendUint64(hdr, 1_000_001)
	k := key()
	c.write(append(hdr, k[:]...))
	c.expectClose(1009)
	e.h.waitClosed(t, sid, ReasonTransportError)
	// At the limit is accepted.
	c, sid = e.openWS(4)
	c.sendBinary(make([]byte, 1_000_000))
	eventually(t, waitLong, "the big message", func() bool { return len(e.h.sessionEvents(sid)) == 2 })
}

// An empty text frame is not a packet: parse error, as in the reference.
// BAD-INPUTS row 33 (the engine's part: "4" with no data is an empty
// message, passed on to the handler).
func TestWebSocketEmptyTextFrame(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(4)
		c.sendText("")
		c.expectClose(1005)
		e.h.waitClosed(t, sid, ReasonParseError)
		e.waitGone(sid)
		// An empty binary frame is an empty binary message in revision 4.
		c, sid = e.openWS(4)
		c.sendBinary(nil)
		eventually(t, waitShort, "empty binary", func() bool { return len(e.h.sessionEvents(sid)) == 2 })
		if ev := e.h.sessionEvents(sid)[1]; ev.kind != "binary" || len(ev.data) != 0 {
			t.Fatalf("event %+v", ev)
		}
		c.sendText("4")
		eventually(t, waitShort, "empty text", func() bool { return len(e.h.sessionEvents(sid)) == 3 })
		if ev := e.h.sessionEvents(sid)[2]; ev.kind != "text" || len(ev.data) != 0 {
			t.Fatalf("event %+v", ev)
		}
	})
}

// Ping frames are answered with pong frames carrying the same data; pongs
// are ignored.
func TestWebSocketPingFrame(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(4)
		c.sendPing("hello")
		f := c.readFrame()
		if f.op != opPong || !f.fin || string(f.payload) != "hello" {
			t.Fatalf("got %v, want pong hello", f)
		}
		c.sendPing("")
		if f = c.readFrame(); f.op != opPong || len(f.payload) != 0 {
			t.Fatalf("got %v, want empty pong", f)
		}
		c.write(maskedFrame(0x80|opPong, []byte("unsolicited")))
		c.sendText("4x")
		eventually(t, waitShort, "message", func() bool { return len(e.h.texts(sid)) == 1 })
		c.expectNoFrame(50 * time.Millisecond)
	})
}

// BAD-INPUTS row 12: permessage-deflate is off by default; when enabled,
// valid offers are accepted and bad window bits declined.
func TestWebSocketDeflateNegotiation(t *testing.T) {
	const offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
	e := newEnv(t, testConfig())
	c := e.dialWS("EIO=4&transport=websocket", offer)
	if got := c.resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
		t.Fatalf("negotiated by default: %q", got)
	}
	// RSV1 is then a protocol error.
	c.readFrame()
	c.write(maskedFrame(0xC0|opText, []byte{0x01}))
	c.expectClose(1002)

	cfg := testConfig()
	cfg.PerMessageDeflate = &PerMessageDeflate{}
	e = newEnv(t, cfg)
	const accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for _, tc := range []struct {
		header string
		want   string
	}{
		{offer, accepted},
		{"Sec-WebSocket-Extensions: permessage-deflate", accepted},
		{"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15", accepted},
		{"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8", accepted},
		{"Sec-WebSocket-Extensions: constructor; __proto__=1, permessage-deflate; server_max_window_bits=99; client_max_window_bits=7", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=7", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; unknown=1", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_no_context_takeover", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99, permessage-deflate", accepted},
		{"Sec-WebSocket-Extensions: x-webkit-deflate-frame", ""},
		{"Sec-WebSocket-Extensions: permessage-deflate;;;;" + strings.Repeat(" ", 50000), ""},
		{"X-None: 1", ""},
	} {
		c := e.dialWS("EIO=4&transport=websocket", tc.header)
		if got := c.resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Fatalf("%s: negotiated %q, want %q", tc.header, got, tc.want)
		}
		c.readFrame()
		c.close()
	}
	eventually(t, waitShort, "sessions to close", func() bool { return e.srv.SessionCount() == 0 })
}

func deflateRaw(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("no sync flush tail")
	}
	return out[:len(out)-4]
}

func inflateRaw(t testing.TB, p []byte) []byte {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

// Compressed messages in both directions, above and below the threshold.
func TestWebSocketDeflateMessages(t *testing.T) {
	cfg := testConfig()
	cfg.PerMessageDeflate = &PerMessageDeflate{}
	cfg.MaxHTTPBufferSize = 100_000
	h := newRecorder()
	h.echo = true
	forEachWebSocketModeWith(t, cfg, h, func(t *testing.T, e *env) {
		c := e.dialWS("EIO=4&transport=websocket", "Sec-WebSocket-Extensions: permessage-deflate")
		f := c.readFrame() // the open packet: below the threshold
		if f.rsv1 {
			t.Fatal("small frame compressed")
		}
		sid := checkOpen(t, string(f.payload), `[]`, e.srv.Config())

		big := "4" + strings.Repeat("compressible ", 200)
		c.write(maskedFrame(0xC0|opText, deflateRaw(t, []byte(big))))
		f = c.readFrame()
		if !f.rsv1 || f.op != opText {
			t.Fatalf("echo of %d bytes not compressed: %v", len(big), f.op)
		}
		if got := string(inflateRaw(t, f.payload)); got != big {
			t.Fatalf("echo differs")
		}
		// Uncompressed frames are still accepted.
		c.sendText("4plain")
		c.expectText("4plain")
		// Binary.
		bin := bytes.Repeat([]byte{1, 2, 3}, 1000)
		c.write(maskedFrame(0xC0|opBinary, deflateRaw(t, bin)))
		f = c.readFrame()
		if !f.rsv1 || f.op != opBinary || !bytes.Equal(inflateRaw(t, f.payload), bin) {
			t.Fatalf("binary echo %v", f.op)
		}
		// NoCompress messages go out plain.
		e.srv.Session(sid).Send(NewTextMessage([]byte(big[1:])).NoCompress())
		c.expectText(big)
		// Invalid compressed data: 1007.
		c.write(maskedFrame(0xC0|opText, []byte{0xff, 0xff, 0xff}))
		c.expectClose(1007)
		e.h.waitClosed(t, sid, ReasonTransportError)

		// A bomb: small on the wire, over the limit inflated: 1009.
		c = e.dialWS("EIO=4&transport=websocket", "Sec-WebSocket-Extensions: permessage-deflate")
		sid = checkOpen(t, string(c.readFrame().payload), `[]`, e.srv.Config())
		c.write(maskedFrame(0xC0|opBinary, deflateRaw(t, make([]byte, 200_000))))
		c.expectClose(1009)
		e.h.waitClosed(t, sid, ReasonTransportError)
	})
}

func forEachWebSocketModeWith(t *testing.T, cfg Config, h *recorder, fn func(t *testing.T, e *env)) {
	for _, blocking := range []bool{false, true} {
		name := "evented"
		if blocking {
			name = "blocking"
		}
		t.Run(name, func(t *testing.T) {
			c := cfg
			c.BlockingWebSocket = blocking
			fn(t, newEnvWith(t, c, h))
		})
	}
}

// Server messages are framed once and shared: the same frame bytes for
// every recipient of one Message.
func TestMessageFrameShared(t *testing.T) {
	e := newEnv(t, testConfig())
	c1, s1 := e.openWS(4)
	c2, s2 := e.openWS(4)
	m := NewTextMessage([]byte("broadcast"))
	e.srv.Session(s1).Send(m)
	e.srv.Session(s2).Send(m)
	c1.expectText("4broadcast")
	c2.expectText("4broadcast")
	a := m.frame(4, false, 0)
	b := m.frame(4, false, 0)
	if &a[0] != &b[0] {
		t.Fatal("frame built twice")
	}
	if !bytes.Equal(a, []byte("\x81\x0a4broadcast")) {
		t.Fatalf("frame % x", a)
	}
	bm := NewBinaryMessage([]byte{7})
	if got := bm.frame(4, false, 0); !bytes.Equal(got, []byte{0x82, 0x01, 7}) {
		t.Fatalf("rev4 binary frame % x", got)
	}
	if got := bm.frame(3, false, 0); !bytes.Equal(got, []byte{0x82, 0x02, 4, 7}) {
		t.Fatalf("rev3 binary frame % x", got)
	}
	if !bm.Binary() || bm.NoCompress().Binary() != true || string(m.Data()) != "broadcast" {
		t.Fatal("accessors")
	}
}

// A message larger than MaxWriteBuffer reaches a client that reads when
// nothing else is held for it: the limit is on what is held for a slow
// client, not on message size.
func TestWebSocketLargeServerMessage(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		c, sid := e.openWS(4)
		big := bytes.Repeat([]byte("0123456789"), 600_000) // 6 MB, the default limit is 4 MiB
		if err := e.srv.Session(sid).SendBinary(big); err != nil {
			t.Fatal(err)
		}
		f := c.readFrame()
		if f.op != opBinary || !bytes.Equal(f.payload, big) {
			t.Fatalf("big message: op %d, %d bytes", f.op, len(f.payload))
		}
		eventually(t, waitShort, "the kernel took it all", func() bool {
			s := e.srv.Session(sid)
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.heldLocked() == 0
		})
		if err := e.srv.Session(sid).SendText([]byte("after")); err != nil {
			t.Fatal(err)
		}
		c.expectText("4after")
	})
}

// A client that stops reading is disconnected once MaxWriteBuffer bytes
// are held for it, and its session closes with "write buffer full".
func TestWebSocketSlowClient(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWriteBuffer = 256 << 10
	e := newEnv(t, cfg)
	_, sid := e.openWS(4) // never reads
	s := e.srv.Session(sid)
	chunk := make([]byte, 32<<10)
	deadline := time.Now().Add(waitLong)
	for s.SendBinary(chunk) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the session never closed")
		}
	}
	e.h.waitClosed(t, sid, ReasonWriteBufferFull)
}
