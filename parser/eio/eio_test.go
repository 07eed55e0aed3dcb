package eio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func packetsEqual(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func fmtPackets(ps []Packet) string {
	var sb strings.Builder
	for i, p := range ps {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "{%v %q binary=%v}", p.Type, p.Data, p.Binary)
	}
	return "[" + sb.String() + "]"
}

func collect(rev Revision, body []byte, binaryBody bool) ([]Packet, error) {
	var out []Packet
	err := DecodePayload(rev, body, binaryBody, func(p Packet) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

func TestPacketTypeString(t *testing.T) {
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, w := range want {
		if got := PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d).String() = %q, want %q", i, got, w)
		}
		if !PacketType(i).Valid() {
			t.Errorf("PacketType(%d) not valid", i)
		}
	}
	if got := PacketType(7).String(); got != "PacketType(7)" {
		t.Errorf("PacketType(7).String() = %q", got)
	}
	if PacketType(7).Valid() || PacketType(255).Valid() {
		t.Error("out of range type reported valid")
	}
	if !Rev3.Valid() || !Rev4.Valid() || Revision(2).Valid() || Revision(5).Valid() {
		t.Error("Revision.Valid is wrong")
	}
}

func TestTextFrames(t *testing.T) {
	for _, tc := range textFrameCases {
		t.Run(tc.name, func(t *testing.T) {
			frame := []byte(tc.frame)
			p, err := DecodeText(frame)
			if err != nil {
				t.Fatalf("DecodeText(%q): %v", tc.frame, err)
			}
			if !packetsEqual([]Packet{p}, []Packet{tc.packet}) {
				t.Fatalf("DecodeText(%q) = %s, want %s", tc.frame, fmtPackets([]Packet{p}), fmtPackets([]Packet{tc.packet}))
			}
			if len(p.Data) > 0 && &p.Data[0] != &frame[1] {
				t.Error("Data does not alias the frame")
			}
			got := AppendText([]byte("xy"), tc.packet.Type, tc.packet.Data)
			if string(got) != "xy"+tc.frame {
				t.Errorf("AppendText = %q, want %q", got, "xy"+tc.frame)
			}
		})
	}
}

func TestBase64Frames(t *testing.T) {
	for _, tc := range base64FrameCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeText([]byte(tc.frame))
			if err != nil {
				t.Fatalf("DecodeText(%q): %v", tc.frame, err)
			}
			if !packetsEqual([]Packet{p}, []Packet{tc.packet}) {
				t.Fatalf("DecodeText(%q) = %s, want %s", tc.frame, fmtPackets([]Packet{p}), fmtPackets([]Packet{tc.packet}))
			}
			got := AppendBase64([]byte("xy"), tc.rev, tc.packet.Data)
			if string(got) != "xy"+tc.frame {
				t.Errorf("AppendBase64 = %q, want %q", got, "xy"+tc.frame)
			}
		})
	}
}

func TestBinaryFrames(t *testing.T) {
	for _, tc := range binaryFrameCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeBinary(tc.rev, tc.frame)
			if err != nil {
				t.Fatalf("DecodeBinary(%v, %x): %v", tc.rev, tc.frame, err)
			}
			if !packetsEqual([]Packet{p}, []Packet{tc.packet}) {
				t.Fatalf("DecodeBinary(%x) = %s, want %s", tc.frame, fmtPackets([]Packet{p}), fmtPackets([]Packet{tc.packet}))
			}
			if tc.decodeOnly {
				return
			}
			got := AppendBinary([]byte("xy"), tc.rev, tc.packet.Data)
			if want := append([]byte("xy"), tc.frame...); !bytes.Equal(got, want) {
				t.Errorf("AppendBinary = %x, want %x", got, want)
			}
		})
	}
}

func TestDecodeTextErrors(t *testing.T) {
	bad := []string{
		"", "7", "9", "x", "a", "/", ":", "\x00", "\xff", "b!!!!", "bA===", "bAQ=", "bAQIDB", "bAR==",
		"bAQ\n==", "bAQ\r==", "b4!!!", "b9AQID", "bxAQID", "b4AQ=\n", "b4A===", "B", "4hello"[:0],
	}
	for _, f := range bad {
		if p, err := DecodeText([]byte(f)); err == nil {
			t.Errorf("DecodeText(%q) = %s, want error", f, fmtPackets([]Packet{p}))
		} else if !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeText(%q) error %v does not wrap ErrInvalidPacket", f, err)
		}
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	cases := []struct {
		rev   Revision
		frame []byte
	}{
		{Rev3, nil},
		{Rev3, []byte{}},
		{Rev3, []byte{7}},
		{Rev3, []byte{'4', 'x'}},
		{Rev3, []byte{0xff, 1}},
		{Revision(0), []byte{4}},
		{Revision(5), []byte{4}},
	}
	for _, tc := range cases {
		if p, err := DecodeBinary(tc.rev, tc.frame); err == nil {
			t.Errorf("DecodeBinary(%v, %x) = %s, want error", tc.rev, tc.frame, fmtPackets([]Packet{p}))
		} else if !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeBinary(%v, %x) error %v does not wrap ErrInvalidPacket", tc.rev, tc.frame, err)
		}
	}
}

func TestDecodePayloadGolden(t *testing.T) {
	for _, tc := range payloadCases {
		if tc.encodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(tc.rev, []byte(tc.wire), tc.binaryBody)
			if err != nil {
				t.Fatalf("DecodePayload(%q): %v", tc.wire, err)
			}
			if !packetsEqual(got, tc.packets) {
				t.Fatalf("DecodePayload(%q) = %s, want %s", tc.wire, fmtPackets(got), fmtPackets(tc.packets))
			}
		})
	}
}

func TestAppendPayloadGolden(t *testing.T) {
	for _, tc := range payloadCases {
		if tc.decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, binaryBody := AppendPayload([]byte("xy"), tc.rev, tc.packets, tc.supportsBinary)
			if want := "xy" + tc.wire; string(got) != want {
				t.Errorf("AppendPayload = %q, want %q", got, want)
			}
			if binaryBody != tc.binaryBody {
				t.Errorf("AppendPayload binaryBody = %v, want %v", binaryBody, tc.binaryBody)
			}
		})
	}
}

func TestDecodePayloadAliasing(t *testing.T) {
	body := []byte("4hello\x1ebAQID")
	got, err := collect(Rev4, body, false)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0].Data[0] != &body[1] {
		t.Error("text Data does not alias body")
	}
	got[1].Data[0] = 9
	if string(body) != "4hello\x1ebAQID" {
		t.Error("base64 Data aliases body")
	}
	body = []byte("\x01\x03\xff\x04\x01\x02")
	got, err = collect(Rev3, body, true)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0].Data[0] != &body[4] {
		t.Error("rev3 binary Data does not alias body")
	}
}

type payloadMode struct {
	name       string
	rev        Revision
	binaryBody bool
}

var payloadModes = []payloadMode{
	{"rev4", Rev4, false},
	{"rev3 string", Rev3, false},
	{"rev3 binary", Rev3, true},
}

func checkPayloadError(t *testing.T, rev Revision, body []byte, binaryBody bool, alsoPacket bool) {
	t.Helper()
	got, err := collect(rev, body, binaryBody)
	name := fmt.Sprintf("DecodePayload(rev%d, %q, binary=%v)", rev, truncate(body), binaryBody)
	if err == nil {
		t.Errorf("%s = %s, want error", name, fmtPackets(got))
		return
	}
	if !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("%s error %v does not wrap ErrInvalidPayload", name, err)
	}
	if alsoPacket && !errors.Is(err, ErrInvalidPacket) {
		t.Errorf("%s error %v does not wrap ErrInvalidPacket", name, err)
	}
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestDecodePayloadBadBodies(t *testing.T) {
	for _, m := range payloadModes {
		for _, b := range badBodies {
			checkPayloadError(t, m.rev, []byte(b), m.binaryBody, false)
		}
	}
	// Revision 4 has no binary body, whatever it holds.
	for _, tc := range payloadCases {
		if tc.encodeOnly {
			continue
		}
		checkPayloadError(t, Rev4, []byte(tc.wire), true, false)
	}
	for _, rev := range []Revision{0, 2, 5} {
		checkPayloadError(t, rev, []byte("4hello"), false, false)
		checkPayloadError(t, rev, []byte("6:4hello"), false, false)
	}
}

func TestDecodePayloadErrors(t *testing.T) {
	type c struct {
		body       string
		packetErr  bool // the error also wraps ErrInvalidPacket
		binaryBody bool
	}
	rev4 := []c{
		{body: "4hello\x1e", packetErr: true},
		{body: "\x1e4hello", packetErr: true},
		{body: "4a\x1e\x1e4b", packetErr: true},
		{body: "\x1e", packetErr: true},
		{body: "4a\x1e7", packetErr: true},
		{body: "4a\x1eb!!!!", packetErr: true},
		{body: "bAQ=", packetErr: true},
		{body: "bAR==", packetErr: true},
		{body: "bAQ\n==", packetErr: true},
		{body: "b4AQIDBA==", packetErr: true}, // revision 3 form
	}
	for _, tc := range rev4 {
		checkPayloadError(t, Rev4, []byte(tc.body), false, tc.packetErr)
	}
	rev3 := []c{
		{body: "0:"},
		{body: "00:"},
		{body: "0:6:4hello"},
		{body: "6:4hello0:"},
		{body: ":4"},
		{body: "6:4hell"},
		{body: "6:4hello7"},
		{body: "6:4hello:"},
		{body: "6:4hello6"},
		{body: "-1:4"},
		{body: "+1:4"},
		{body: " 1:4"},
		{body: "1 :4"},
		{body: "1e0:4"},
		{body: "0x1:4"},
		{body: "2:4\xff"},
		{body: "2:4\xc3"},
		{body: "3:4\xed\xa0\x80"}, // encoded surrogate
		{body: "2:4😀"},            // length splits a surrogate pair
		{body: "5:4😀"},
		{body: "4:4😀"[:4]},
		{body: "1:9", packetErr: true},
		{body: "1:x", packetErr: true},
		{body: "1:b", packetErr: true},
		{body: "2:b9", packetErr: true},
		{body: "6:b4!!!!", packetErr: true},
		{body: "5:bA===", packetErr: true},
		{body: "5:b4AQ=", packetErr: true},
		{body: "6:b4AR==", packetErr: true},
		{body: "6:4hello1:x", packetErr: true},
		{body: "99999999999999999999999999:4"},
		{body: "18446744073709551617:4"},
		{body: "7:4hello"},
		{body: "4hello"},
		{body: "4hello\x1e4world"},
	}
	for _, tc := range rev3 {
		checkPayloadError(t, Rev3, []byte(tc.body), false, tc.packetErr)
	}
	rev3b := []c{
		{body: "\x02\x01\xff4"},
		{body: "\xff"},
		{body: "\x00"},
		{body: "\x00\x01"},
		{body: "\x00\xff4"},
		{body: "\x00\x0a\xff4"},
		{body: "\x00\x01\x00"},
		{body: "\x00\x00\xff"},
		{body: "\x00\x00\xff4"},
		{body: "\x00\x05\xff4"},
		{body: "\x00\x01\xff4\x00"},
		{body: "\x00\x01\xff4\x01\x01"},
		{body: "\x00\x01\xff4\x01\x01\xff"},
		{body: "\x01\x01\xff\x07", packetErr: true},
		{body: "\x01\x01\xff4", packetErr: true},
		{body: "\x00\x01\xff7", packetErr: true},
		{body: "\x00\x02\xff4\xff", packetErr: true},
		{body: "\x00\x05\xffb4AQ=", packetErr: true},
		{body: "\x00\x01\xff\x04", packetErr: true},
		{body: "6:4hello"},
		{body: "\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff4"},
	}
	for _, tc := range rev3b {
		checkPayloadError(t, Rev3, []byte(tc.body), true, tc.packetErr)
	}
}

func TestDecodePayloadHugeLength(t *testing.T) {
	digits := bytes.Repeat([]byte("1"), 1_000_000)
	checkPayloadError(t, Rev3, append(append(digits, ':'), "4hello"...), false, false)
	zeros := bytes.Repeat([]byte("0"), 1_000_000)
	checkPayloadError(t, Rev3, append(append(zeros, ':'), "4hello"...), false, false)
	// Leading zeros are decimal: a huge zero prefix before a valid length is
	// accepted, like Number("0…06") in the reference.
	got, err := collect(Rev3, append(append(zeros, "6:"...), "4hello"...), false)
	if err != nil || len(got) != 1 {
		t.Errorf("zero-prefixed length: %v, %d packets", err, len(got))
	}
	bdigits := bytes.Repeat([]byte{1}, 1_000_000)
	checkPayloadError(t, Rev3, append(append(append([]byte{0}, bdigits...), 0xff), "4hello"...), true, false)
	// A length larger than the body.
	checkPayloadError(t, Rev3, []byte("1000:4hello"), false, false)
	checkPayloadError(t, Rev3, []byte("\x00\x01\x00\x00\x00\xff4hello"), true, false)
}

func TestDecodePayloadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	for _, m := range payloadModes {
		packets := []Packet{txt(Message, "a"), bin(Message, 1), txt(Message, "b")}
		body, binaryBody := AppendPayload(nil, m.rev, packets, m.binaryBody)
		if binaryBody != m.binaryBody {
			t.Fatalf("%s: unexpected body kind", m.name)
		}
		n := 0
		err := DecodePayload(m.rev, body, binaryBody, func(Packet) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 2 {
			t.Errorf("%s: err=%v after %d packets, want stop after 2", m.name, err, n)
		}
		if err := DecodePayload(m.rev, body, binaryBody, nil); err != nil {
			t.Errorf("%s: nil fn: %v", m.name, err)
		}
	}
}

// TestDecodePayloadPrefixDelivered documents that packets before a malformed
// one are delivered before the error is returned.
func TestDecodePayloadPrefixDelivered(t *testing.T) {
	got, err := collect(Rev4, []byte("4a\x1e4b\x1e9"), false)
	if err == nil || len(got) != 2 {
		t.Errorf("got %d packets, err %v; want 2 packets and an error", len(got), err)
	}
}

func TestDecodePayloadManyPackets(t *testing.T) {
	const n = 500_000
	for _, m := range payloadModes {
		var body []byte
		switch {
		case m.rev == Rev4:
			body = bytes.Repeat([]byte("4\x1e"), n)
			body = body[:len(body)-1]
		case m.binaryBody:
			body = bytes.Repeat([]byte("\x00\x01\xff4"), n)
		default:
			body = bytes.Repeat([]byte("1:4"), n)
		}
		count := 0
		err := DecodePayload(m.rev, body, m.binaryBody, func(p Packet) error {
			if p.Type != Message || len(p.Data) != 0 {
				return fmt.Errorf("unexpected packet %v", p)
			}
			count++
			return nil
		})
		if err != nil || count != n {
			t.Errorf("%s: %d packets, err %v", m.name, count, err)
		}
	}
	// One huge packet, and a trailing separator after many packets.
	big := append([]byte("4"), bytes.Repeat([]byte("x"), 1<<20)...)
	if _, err := collect(Rev4, big, false); err != nil {
		t.Error(err)
	}
	trailing := bytes.Repeat([]byte("4\x1e"), n)
	checkPayloadError(t, Rev4, trailing, false, true)
}

// randomPackets returns n packets with random types and contents. Text data
// is valid UTF-8 and avoids 0x1e, as text packets must.
func randomPackets(r *rand.Rand, n int) []Packet {
	runes := []rune{'a', 'z', '0', ':', 'b', '"', '\\', '\n', 0, 0x1f, 0x7f, 'é', '€', '😀', '\u2028', 0xfffd, 0x10ffff}
	ps := make([]Packet, n)
	for i := range ps {
		t := PacketType(r.IntN(numTypes))
		if r.IntN(3) == 0 {
			b := make([]byte, r.IntN(40))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			ps[i] = Packet{Type: t, Data: b, Binary: true}
			continue
		}
		var sb []byte
		for range r.IntN(20) {
			sb = utf8.AppendRune(sb, runes[r.IntN(len(runes))])
		}
		ps[i] = Packet{Type: t, Data: sb}
	}
	return ps
}

// normalize returns what packets become after a round trip through rev:
// revision 4 binary packets are always messages.
func normalize(rev Revision, ps []Packet) []Packet {
	if rev == Rev3 {
		return ps
	}
	out := make([]Packet, len(ps))
	for i, p := range ps {
		if p.Binary {
			p.Type = Message
		}
		out[i] = p
	}
	return out
}

func hasSeparator(ps []Packet) bool {
	for _, p := range ps {
		if !p.Binary && bytes.IndexByte(p.Data, separator) >= 0 {
			return true
		}
	}
	return false
}

func TestPayloadRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lists := [][]Packet{
		{txt(Message, "hello")},
		{bin(Message, 1, 2, 3)},
		{bin(Message)},
		{txt(Message, "")},
	}
	for _, tc := range payloadCases {
		if len(tc.packets) > 0 {
			lists = append(lists, tc.packets)
		}
	}
	for range 300 {
		lists = append(lists, randomPackets(r, 1+r.IntN(8)))
	}
	for _, ps := range lists {
		for _, rev := range []Revision{Rev3, Rev4} {
			if rev == Rev4 && hasSeparator(ps) {
				continue // not representable in revision 4
			}
			for _, sb := range []bool{false, true} {
				body, binaryBody := AppendPayload(nil, rev, ps, sb)
				got, err := collect(rev, body, binaryBody)
				if err != nil {
					t.Fatalf("rev%d supportsBinary=%v: decode %q of %s: %v", rev, sb, body, fmtPackets(ps), err)
				}
				if want := normalize(rev, ps); !packetsEqual(got, want) {
					t.Fatalf("rev%d supportsBinary=%v: %q decoded to %s, want %s", rev, sb, body, fmtPackets(got), fmtPackets(want))
				}
			}
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range randomPackets(r, 500) {
		if p.Binary {
			for _, rev := range []Revision{Rev3, Rev4} {
				got, err := DecodeBinary(rev, AppendBinary(nil, rev, p.Data))
				if err != nil || got.Type != Message || !got.Binary || !bytes.Equal(got.Data, p.Data) {
					t.Fatalf("binary frame rev%d %x: %v %v", rev, p.Data, got, err)
				}
				got, err = DecodeText(AppendBase64(nil, rev, p.Data))
				if err != nil || got.Type != Message || !got.Binary || !bytes.Equal(got.Data, p.Data) {
					t.Fatalf("base64 frame rev%d %x: %v %v", rev, p.Data, got, err)
				}
			}
			continue
		}
		got, err := DecodeText(AppendText(nil, p.Type, p.Data))
		if err != nil || !packetsEqual([]Packet{got}, []Packet{p}) {
			t.Fatalf("text frame %s: %v %v", fmtPackets([]Packet{p}), got, err)
		}
	}
}

// TestRev3InvalidUTF8 checks that text data that is not valid UTF-8 is
// written as U+FFFD, keeping the declared lengths right.
func TestRev3InvalidUTF8(t *testing.T) {
	ps := []Packet{txt(Message, "a\xffb\xe2\x82"), bin(Message, 1)}
	body, _ := AppendPayload(nil, Rev3, ps, false)
	if want := "6:4a\ufffdb\ufffd\ufffd6:b4AQ=="; string(body) != want {
		t.Errorf("string format: %q, want %q", body, want)
	}
	got, err := collect(Rev3, body, false)
	if err != nil || string(got[0].Data) != "a\ufffdb\ufffd\ufffd" {
		t.Errorf("decode: %v %v", fmtPackets(got), err)
	}
	body, binaryBody := AppendPayload(nil, Rev3, ps, true)
	if want := "\x00\x01\x02\xff4a\ufffdb\ufffd\ufffd\x01\x02\xff\x04\x01"; !binaryBody || string(body) != want {
		t.Errorf("binary format: %q, want %q", body, want)
	}
	got, err = collect(Rev3, body, true)
	if err != nil || string(got[0].Data) != "a\ufffdb\ufffd\ufffd" {
		t.Errorf("decode: %v %v", fmtPackets(got), err)
	}
}

func TestAppendJSONP(t *testing.T) {
	for _, tc := range jsonpCases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendJSONP([]byte("xy"), tc.index, []byte(tc.payload))
			if want := "xy" + tc.want; string(got) != want {
				t.Errorf("AppendJSONP = %q, want %q", got, want)
			}
		})
	}
}

// jsonpArgument returns the string passed to ___eio[…] in a JSONP response,
// parsed as JSON (the escapes AppendJSONP writes are all valid JSON).
func jsonpArgument(t *testing.T, script []byte) string {
	t.Helper()
	open := bytes.IndexByte(script, '(')
	if !bytes.HasPrefix(script, []byte("___eio[")) || open < 0 || !bytes.HasSuffix(script, []byte(");")) {
		t.Fatalf("malformed JSONP script %q", script)
	}
	var s string
	if err := json.Unmarshal(script[open+1:len(script)-2], &s); err != nil {
		t.Fatalf("JSONP argument of %q: %v", script, err)
	}
	return s
}

func TestAppendJSONPRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		body, _ := AppendPayload(nil, Rev3, randomPackets(r, 1+r.IntN(6)), false)
		script := AppendJSONP(nil, "7", body)
		if got := jsonpArgument(t, script); got != string(body) {
			t.Fatalf("JSONP argument %q, want %q", got, body)
		}
		if bytes.ContainsAny(script, "\u2028\u2029\n\r") {
			t.Fatalf("JSONP script %q contains a raw line terminator", script)
		}
	}
}

// appendJSONPBody encodes a payload as a JSONP client does: newline escaping
// (`\n` becomes `\\n`, then a newline becomes `\n`) and form encoding of the d
// field.
func appendJSONPBody(dst []byte, payload []byte) []byte {
	var esc []byte
	for i := 0; i < len(payload); i++ {
		switch {
		case payload[i] == '\\' && i+1 < len(payload) && payload[i+1] == 'n':
			esc = append(esc, '\\', '\\', 'n')
			i++
		case payload[i] == '\n':
			esc = append(esc, '\\', 'n')
		default:
			esc = append(esc, payload[i])
		}
	}
	dst = append(dst, "d="...)
	for _, c := range esc {
		switch {
		case c == ' ':
			dst = append(dst, '+')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '*':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xf])
		}
	}
	return dst
}

// jsonpLossless reports whether a payload survives the JSONP newline escaping:
// the reference scheme cannot carry a backslash followed by a newline.
func jsonpLossless(payload []byte) bool { return !bytes.Contains(payload, []byte("\\\n")) }

func TestDecodeJSONPBody(t *testing.T) {
	for _, tc := range jsonpBodyCases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			got, err := DecodeJSONPBody(body)
			if err != nil {
				t.Fatalf("DecodeJSONPBody(%q): %v", tc.body, err)
			}
			if string(got) != tc.payload {
				t.Errorf("DecodeJSONPBody(%q) = %q, want %q", tc.body, got, tc.payload)
			}
			if string(body) != tc.body {
				t.Error("DecodeJSONPBody modified its input")
			}
			enc := appendJSONPBody(nil, got)
			again, err := DecodeJSONPBody(enc)
			if err != nil || string(again) != tc.payload {
				t.Errorf("re-encoded %q decoded to %q, %v", enc, again, err)
			}
		})
	}
}

func TestDecodeJSONPBodyRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		payload, _ := AppendPayload(nil, Rev3, randomPackets(r, 1+r.IntN(6)), false)
		got, err := DecodeJSONPBody(appendJSONPBody(nil, payload))
		if jsonpLossless(payload) && (err != nil || !bytes.Equal(got, payload)) {
			t.Fatalf("payload %q decoded to %q, %v", payload, got, err)
		}
	}
}

func TestDecodeJSONPBodyErrors(t *testing.T) {
	bad := []string{"", "&", "x=1", "dd=1", "D=1", "d=1&d=2", "d=1&%64=2", "d=", "d", "d=&x=1", "d=%", "d=%4", "d=%zz", "d=%G1", "d=%%41", "d=ab%"}
	for _, b := range bad {
		if got, err := DecodeJSONPBody([]byte(b)); err == nil {
			t.Errorf("DecodeJSONPBody(%q) = %q, want error", b, got)
		} else if !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("DecodeJSONPBody(%q) error %v does not wrap ErrInvalidPayload", b, err)
		}
	}
}
