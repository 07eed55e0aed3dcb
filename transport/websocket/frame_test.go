package websocket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// maskedFrame builds a client frame with first byte b0 and a fixed key.
func maskedFrame(b0 byte, payload []byte) []byte {
	return maskedFrameKey(b0, [4]byte{0x37, 0xfa, 0x21, 0x3d}, payload)
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

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// log records what a reader decodes, as text, for comparisons.
type log struct {
	entries []string
	// failOn makes message return this error for the given payload.
	failOn string
}

func (l *log) message(op byte, compressed bool, data []byte) *CloseError {
	l.entries = append(l.entries, fmt.Sprintf("msg op=%d z=%v %q", op, compressed, data))
	if l.failOn != "" && string(data) == l.failOn {
		return &CloseError{Code: CloseInternalError, Local: true}
	}
	return nil
}

func (l *log) control(op byte, data []byte) *CloseError {
	l.entries = append(l.entries, fmt.Sprintf("ctl op=%d %q", op, data))
	return nil
}

func newReader(max int64, frags int, deflate bool) *reader {
	return &reader{maxMessage: max, maxFrags: frags, deflate: deflate}
}

// run feeds data in the given chunk sizes (the rest in one chunk) and
// returns the log and the first error.
func run(r *reader, data []byte, chunks ...int) (*log, *CloseError) {
	l := &log{}
	data = bytes.Clone(data)
	for _, n := range chunks {
		if n > len(data) {
			n = len(data)
		}
		chunk := bytes.Clone(data[:n]) // a fresh buffer, as a poller read
		data = data[n:]
		if cerr := r.feed(chunk, l); cerr != nil {
			return l, cerr
		}
		clear(chunk) // the reader must not keep references into it
	}
	if len(data) > 0 {
		if cerr := r.feed(data, l); cerr != nil {
			return l, cerr
		}
	}
	return l, nil
}

func TestReaderValidFrames(t *testing.T) {
	long := strings.Repeat("x", 70000)
	stream := cat(
		maskedFrame(0x81, []byte("hello")),
		maskedFrame(0x82, []byte{1, 2, 3}),
		maskedFrame(0x81, nil),
		maskedFrame(0x82, bytes.Repeat([]byte{7}, 126)),
		maskedFrame(0x81, []byte(long)),
		maskedFrame(0x89, []byte("ping")),
		maskedFrame(0x8A, nil),
		// fragmented, with a control frame in between
		maskedFrame(0x01, []byte("fr")),
		maskedFrame(0x89, nil),
		maskedFrame(0x00, []byte("ag")),
		maskedFrame(0x80, []byte("ment")),
		// a multi-byte character split across fragments
		maskedFrame(0x01, []byte{0xE2, 0x82}),
		maskedFrame(0x80, []byte{0xAC}),
		maskedFrame(0x88, []byte{0x03, 0xE8, 'b', 'y', 'e'}),
	)
	want := []string{
		`msg op=1 z=false "hello"`,
		`msg op=2 z=false "\x01\x02\x03"`,
		`msg op=1 z=false ""`,
		fmt.Sprintf("msg op=2 z=false %q", bytes.Repeat([]byte{7}, 126)),
		fmt.Sprintf("msg op=1 z=false %q", long),
		`ctl op=9 "ping"`,
		`ctl op=10 ""`,
		`ctl op=9 ""`,
		`msg op=1 z=false "fragment"`,
		`msg op=1 z=false "€"`,
		`ctl op=8 "\x03\xe8bye"`,
	}
	check := func(name string, l *log, cerr *CloseError) {
		t.Helper()
		if cerr != nil {
			t.Fatalf("%s: %v", name, cerr)
		}
		if strings.Join(l.entries, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n got %q\nwant %q", name, l.entries, want)
		}
	}
	r := newReader(1<<20, 0, false)
	l, cerr := run(r, stream)
	check("whole", l, cerr)
	if r.pending != nil || r.msg != nil || r.inMsg {
		t.Fatal("reader holds memory while idle")
	}
	// Every split point, and byte by byte.
	for _, split := range []int{1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 20, 100, 1000, 70000} {
		l, cerr = run(newReader(1<<20, 0, false), stream, split)
		check(fmt.Sprintf("split at %d", split), l, cerr)
	}
	ones := make([]int, len(stream))
	for i := range ones {
		ones[i] = 1
	}
	l, cerr = run(newReader(1<<20, 0, false), stream, ones...)
	check("byte by byte", l, cerr)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		var sizes []int
		for n := 0; n < len(stream); {
			k := 1 + rng.IntN(300)
			sizes = append(sizes, k)
			n += k
		}
		l, cerr = run(newReader(1<<20, 0, false), stream, sizes...)
		check("random chunks", l, cerr)
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		m := bytes.Clone(p)
		mask(key, m)
		for i := range m {
			if m[i] != p[i]^key[i%4] {
				t.Fatalf("len %d: byte %d", n, i)
			}
		}
		mask(key, m)
		if !bytes.Equal(m, p) {
			t.Fatalf("len %d: not an involution", n)
		}
	}
}

type violation struct {
	name string
	row  int // BAD-INPUTS row
	data []byte
	code int
}

func violations() []violation {
	k := []byte{1, 2, 3, 4}
	return []violation{
		{"RSV2", 9, []byte{0xA2, 0x00}, CloseProtocolError},
		{"RSV3", 9, maskedFrame(0x91, []byte("x")), CloseProtocolError},
		{"garbage", 9, []byte("test"), CloseProtocolError},
		{"RSV1 without deflate", 0, maskedFrame(0xC1, []byte("x")), CloseProtocolError},
		{"unmasked", 31, []byte{0x81, 0x01, 'x'}, CloseProtocolError},
		{"unmasked control", 31, []byte{0x89, 0x00}, CloseProtocolError},
		{"opcode 3", 0, maskedFrame(0x83, nil), CloseProtocolError},
		{"opcode 7", 0, maskedFrame(0x87, nil), CloseProtocolError},
		{"opcode B", 0, maskedFrame(0x8B, nil), CloseProtocolError},
		{"opcode F", 0, maskedFrame(0x8F, nil), CloseProtocolError},
		{"oversized 64-bit length", 28, cat([]byte{0x81, 0xFF, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x41}, k), CloseTooBig},
		{"oversized 16-bit length", 28, []byte{0x82, 0xFE, 0x03, 0xE9}, CloseTooBig},
		{"length MSB set", 29, cat([]byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}, k), CloseProtocolError},
		{"length all ones", 29, cat([]byte{0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, k), CloseProtocolError},
		{"length max positive", 29, cat([]byte{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, k), CloseTooBig},
		{"fragments over the size", 30, cat(maskedFrame(0x02, make([]byte, 600)), maskedFrame(0x80, make([]byte, 401))), CloseTooBig},
		{"ping of 126 bytes", 31, maskedFrame(0x89, make([]byte, 126)), CloseProtocolError},
		{"ping declaring 126 bytes", 31, []byte{0x89, 0xFE, 0x00, 0x7E}, CloseProtocolError},
		{"fragmented ping", 31, maskedFrame(0x09, nil), CloseProtocolError},
		{"fragmented close", 31, maskedFrame(0x08, nil), CloseProtocolError},
		{"RSV1 on control", 0, maskedFrame(0xC9, nil), CloseProtocolError},
		{"continuation first", 0, maskedFrame(0x80, []byte("x")), CloseProtocolError},
		{"text inside a message", 0, cat(maskedFrame(0x01, []byte("a")), maskedFrame(0x81, []byte("b"))), CloseProtocolError},
		{"binary inside a message", 0, cat(maskedFrame(0x01, []byte("a")), maskedFrame(0x02, []byte("b"))), CloseProtocolError},
		{"invalid UTF-8", 32, maskedFrame(0x81, []byte{0xCE, 0xBA, 0xE1, 0xBD}), CloseInvalidPayload},
		{"invalid UTF-8 in fragments", 32, cat(maskedFrame(0x01, []byte("ok")), maskedFrame(0x80, []byte{0xFF})), CloseInvalidPayload},
		{"truncated UTF-8 at the end", 32, cat(maskedFrame(0x01, []byte("ok")), maskedFrame(0x80, []byte{0xE2, 0x82})), CloseInvalidPayload},
		{"UTF-16 surrogate", 32, maskedFrame(0x81, []byte{0xED, 0xA0, 0x80}), CloseInvalidPayload},
	}
}

// BAD-INPUTS row 9
// BAD-INPUTS row 28
// BAD-INPUTS row 29
// BAD-INPUTS row 30
// BAD-INPUTS row 31
// BAD-INPUTS row 32
// The violations at the frame level.
func TestReaderViolations(t *testing.T) {
	for _, v := range violations() {
		for _, split := range []int{0, 1, 2, 3} {
			r := newReader(1000, 0, false)
			var sizes []int
			if split > 0 {
				sizes = []int{split}
			}
			l, cerr := run(r, v.data, sizes...)
			if cerr == nil || cerr.Code != v.code || !cerr.Local {
				t.Fatalf("%s (row %d), split %d: got %v, want close %d; log %q", v.name, v.row, split, cerr, v.code, l.entries)
			}
			for _, e := range l.entries {
				if strings.HasPrefix(e, "msg") {
					t.Fatalf("%s: delivered %s", v.name, e)
				}
			}
			if r.pending != nil {
				t.Fatalf("%s: pending kept after the error", v.name)
			}
		}
	}
}

// BAD-INPUTS row 28: the size check needs only the header; nothing of the
// payload is buffered.
func TestReaderOversizedNeedsOnlyHeader(t *testing.T) {
	r := newReader(1_000_000, 0, false)
	hdr := []byte{0x81, 0xFF, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x41}
	if cerr := r.feed(bytes.Clone(hdr), &log{}); cerr == nil || cerr.Code != CloseTooBig {
		t.Fatalf("got %v", cerr)
	}
	// At the limit the frame is awaited, then delivered.
	r = newReader(10, 0, false)
	f := maskedFrame(0x82, make([]byte, 10))
	l, cerr := run(r, f, 14)
	if cerr != nil || len(l.entries) != 1 {
		t.Fatalf("%v %q", cerr, l.entries)
	}
	// A message assembled from fragments may reach the limit exactly.
	l, cerr = run(newReader(10, 0, false), cat(maskedFrame(0x02, make([]byte, 4)), maskedFrame(0x80, make([]byte, 6))))
	if cerr != nil || len(l.entries) != 1 {
		t.Fatalf("%v %q", cerr, l.entries)
	}
	// No limit.
	l, cerr = run(newReader(0, 0, false), maskedFrame(0x82, make([]byte, 100_000)))
	if cerr != nil || len(l.entries) != 1 {
		t.Fatalf("%v", cerr)
	}
}

// BAD-INPUTS row 30
func TestReaderFragmentCap(t *testing.T) {
	for _, max := range []int{3, 131072} {
		stream := maskedFrame(0x01, nil)
		for range max - 1 {
			stream = append(stream, maskedFrame(0x00, nil)...)
		}
		// max+1 frames: the final one is one too many.
		l, cerr := run(newReader(1000, max, false), cat(stream, maskedFrame(0x80, nil)))
		if cerr == nil || cerr.Code != ClosePolicyViolation {
			t.Fatalf("max %d: %d+1 fragments: %v", max, max, cerr)
		}
		// max frames in all: accepted.
		l, cerr = run(newReader(1000, max, false), cat(stream[:len(stream)-6], maskedFrame(0x80, nil)))
		if cerr != nil || len(l.entries) != 1 {
			t.Fatalf("max %d: %d fragments: %v %d", max, max, cerr, len(l.entries))
		}
		// An endless flood stops at the cap.
		flood := cat(stream, maskedFrame(0x00, nil), maskedFrame(0x00, nil))
		_, cerr = run(newReader(1000, max, false), flood)
		if cerr == nil || cerr.Code != ClosePolicyViolation {
			t.Fatalf("flood: %v", cerr)
		}
	}
}

func TestReaderHandlerError(t *testing.T) {
	r := newReader(0, 0, false)
	l := &log{failOn: "stop"}
	cerr := r.feed(cat(maskedFrame(0x81, []byte("a")), maskedFrame(0x81, []byte("stop")), maskedFrame(0x81, []byte("b"))), l)
	if cerr == nil || cerr.Code != CloseInternalError || len(l.entries) != 2 {
		t.Fatalf("%v %q", cerr, l.entries)
	}
}

func TestReaderCompressed(t *testing.T) {
	text := strings.Repeat("compress me ", 100)
	z := AppendDeflate(nil, []byte(text))
	stream := cat(
		maskedFrame(0xC1, z),
		maskedFrame(0x81, []byte("plain")),
		// fragmented: RSV1 on the first frame only
		maskedFrame(0x41, z[:5]),
		maskedFrame(0x00, z[5:10]),
		maskedFrame(0x80, z[10:]),
		maskedFrame(0xC2, AppendDeflate(nil, []byte{1, 2, 3})),
		maskedFrame(0xC2, AppendDeflate(nil, nil)),
	)
	want := []string{
		fmt.Sprintf("msg op=1 z=true %q", text),
		`msg op=1 z=false "plain"`,
		fmt.Sprintf("msg op=1 z=true %q", text),
		`msg op=2 z=true "\x01\x02\x03"`,
		`msg op=2 z=true ""`,
	}
	for _, split := range []int{0, 1, 7, 50} {
		var sizes []int
		if split > 0 {
			sizes = []int{split, split, split}
		}
		l, cerr := run(newReader(10_000, 0, true), stream, sizes...)
		if cerr != nil || strings.Join(l.entries, "\n") != strings.Join(want, "\n") {
			t.Fatalf("split %d: %v\n%q", split, cerr, l.entries)
		}
	}
	for _, v := range []violation{
		{"RSV1 on continuation", 0, cat(maskedFrame(0x41, z[:5]), maskedFrame(0xC0, z[5:])), CloseProtocolError},
		{"RSV1 on control", 0, maskedFrame(0xC9, nil), CloseProtocolError},
		{"invalid deflate data", 0, maskedFrame(0xC1, []byte{0xFF, 0xFF, 0xFF}), CloseInvalidPayload},
		{"deflate bomb", 0, maskedFrame(0xC2, AppendDeflate(nil, make([]byte, 20_000))), CloseTooBig},
		{"invalid UTF-8 inflated", 32, maskedFrame(0xC1, AppendDeflate(nil, []byte{0xC3, 0x28})), CloseInvalidPayload},
	} {
		_, cerr := run(newReader(10_000, 0, true), v.data)
		if cerr == nil || cerr.Code != v.code {
			t.Fatalf("%s: %v, want %d", v.name, cerr, v.code)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xFFFF, 0x10000, 70000} {
		p := bytes.Repeat([]byte{'a'}, n)
		f := AppendFrame([]byte("prefix"), true, false, OpText, p)
		f = f[len("prefix"):]
		if len(f) != FrameSize(n) {
			t.Fatalf("len %d: frame of %d bytes, FrameSize %d", n, len(f), FrameSize(n))
		}
		if f[0] != 0x81 || f[1]&0x80 != 0 {
			t.Fatalf("len %d: header % x", n, f[:2])
		}
		var plen uint64
		switch {
		case n <= 125:
			plen = uint64(f[1])
		case n <= 0xFFFF:
			if f[1] != 126 {
				t.Fatalf("len %d: marker %d", n, f[1])
			}
			plen = uint64(binary.BigEndian.Uint16(f[2:4]))
		default:
			if f[1] != 127 {
				t.Fatalf("len %d: marker %d", n, f[1])
			}
			plen = binary.BigEndian.Uint64(f[2:10])
		}
		if plen != uint64(n) {
			t.Fatalf("len %d: encoded %d", n, plen)
		}
	}
	if f := AppendFrame(nil, false, true, OpBinary, nil); !bytes.Equal(f, []byte{0x42, 0x00}) {
		t.Fatalf("% x", f)
	}
}

func TestAppendClose(t *testing.T) {
	if f := AppendClose(nil, 0, "ignored"); !bytes.Equal(f, []byte{0x88, 0x00}) {
		t.Fatalf("% x", f)
	}
	if f := AppendClose(nil, CloseNoStatus, ""); !bytes.Equal(f, []byte{0x88, 0x00}) {
		t.Fatalf("% x", f)
	}
	if f := AppendClose(nil, 1002, "bad"); !bytes.Equal(f, []byte{0x88, 0x05, 0x03, 0xEA, 'b', 'a', 'd'}) {
		t.Fatalf("% x", f)
	}
	// Reasons are cut to fit 125 bytes, on a character boundary.
	long := strings.Repeat("é", 100) // 200 bytes
	f := AppendClose(nil, 1000, long)
	if f[1] > 125 || !utf8.Valid(f[4:]) || len(f[4:])%2 != 0 {
		t.Fatalf("close payload %d bytes", f[1])
	}
	if f[1] != 124 { // 2 + 122 (61 characters of two bytes)
		t.Fatalf("close payload %d bytes", f[1])
	}
}

func TestValidCloseCode(t *testing.T) {
	for code, want := range map[int]bool{
		0: false, 999: false, 1000: true, 1001: true, 1002: true, 1003: true, 1004: false,
		1005: false, 1006: false, 1007: true, 1011: true, 1014: true, 1015: false,
		2999: false, 3000: true, 4999: true, 5000: false, 65535: false,
	} {
		if validCloseCode(code) != want {
			t.Fatalf("validCloseCode(%d) = %v", code, !want)
		}
	}
}

func TestCloseErrorString(t *testing.T) {
	if s := (&CloseError{Code: 1000}).Error(); s != "websocket: close 1000" {
		t.Fatal(s)
	}
	if s := (&CloseError{Code: 1002, Reason: "x"}).Error(); s != "websocket: close 1002: x" {
		t.Fatal(s)
	}
}
