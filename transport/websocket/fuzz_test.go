package websocket

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkedLog is a log that also checks what the reader delivers.
type checkedLog struct {
	log
	t     *testing.T
	limit int64
}

func (l *checkedLog) message(op byte, compressed bool, data []byte) *CloseError {
	if op != OpText && op != OpBinary {
		l.t.Fatalf("message with opcode %d", op)
	}
	if op == OpText && !utf8.Valid(data) {
		l.t.Fatalf("invalid UTF-8 text delivered: %q", data)
	}
	if int64(len(data)) > l.limit {
		l.t.Fatalf("message of %d bytes over the limit %d", len(data), l.limit)
	}
	return l.log.message(op, compressed, data)
}

func (l *checkedLog) control(op byte, data []byte) *CloseError {
	if op != OpClose && op != OpPing && op != OpPong {
		l.t.Fatalf("control frame with opcode %d", op)
	}
	if len(data) > 125 {
		l.t.Fatalf("control payload of %d bytes", len(data))
	}
	return l.log.control(op, data)
}

// FuzzReader feeds arbitrary bytes to the frame reader, whole and split in
// chunks: it must not panic, must deliver only valid messages within the
// limits, and must decode the same events and fail with the same close
// code however the bytes are chunked (the poller splits them arbitrarily).
func FuzzReader(f *testing.F) {
	k := []byte{1, 2, 3, 4}
	seeds := [][]byte{
		maskedFrame(0x81, []byte("4hello")),
		maskedFrame(0x82, []byte{1, 2, 3, 4}),
		cat(maskedFrame(0x01, []byte("fr")), maskedFrame(0x89, nil), maskedFrame(0x80, []byte("ag"))),
		cat(maskedFrame(0x01, []byte{0xE2, 0x82}), maskedFrame(0x80, []byte{0xAC})),
		maskedFrame(0x88, []byte{0x03, 0xE8, 'o', 'k'}),
		maskedFrame(0x82, bytes.Repeat([]byte{9}, 300)),
		maskedFrame(0xC1, AppendDeflate(nil, []byte(strings.Repeat("zip", 50)))),
		cat(maskedFrame(0x41, []byte{0x2a, 0xca}), maskedFrame(0x80, []byte{0x2c, 0x00, 0x00})),
		// BAD-INPUTS rows 9 and 28 to 32
		{0xA2, 0x00},
		[]byte("test"),
		cat([]byte{0x81, 0xFF, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x41}, k),
		cat([]byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}, k),
		cat(maskedFrame(0x01, nil), maskedFrame(0x00, nil), maskedFrame(0x00, nil), maskedFrame(0x00, nil)),
		{0x89, 0xFE, 0x00, 0x7E},
		maskedFrame(0x09, nil),
		maskedFrame(0x88, []byte{0x03}),
		maskedFrame(0x81, []byte{0xCE, 0xBA, 0xE1, 0xBD}),
		{0x81, 0x02, '4', 'x'},
		maskedFrame(0xC1, []byte{0xFF, 0xFF}),
		maskedFrame(0x80, []byte("x")),
	}
	for _, s := range seeds {
		f.Add(s, uint16(0), false)
		f.Add(s, uint16(3), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, deflate bool) {
		const limit, frags = 4096, 8
		feed := func(sizes []int) ([]string, int) {
			r := newReader(limit, frags, deflate)
			l := &checkedLog{t: t, limit: limit}
			rest := bytes.Clone(data)
			code := 0
			for i := 0; len(rest) > 0; i++ {
				n := len(rest)
				if i < len(sizes) && sizes[i] < n {
					n = sizes[i]
				}
				chunk := bytes.Clone(rest[:n])
				rest = rest[n:]
				if cerr := r.feed(chunk, l); cerr != nil {
					if !cerr.Local {
						t.Fatalf("error not local: %v", cerr)
					}
					code = cerr.Code
					break
				}
				clear(chunk) // nothing may point into a consumed buffer
			}
			if code == 0 && len(r.pending) > len(data) {
				t.Fatalf("pending %d bytes of %d", len(r.pending), len(data))
			}
			return l.entries, code
		}
		whole, wholeCode := feed(nil)
		s := int(split)%(len(data)+1) + 1
		sizes := []int{s, 1, s, 2, s, 3}
		for range 64 {
			sizes = append(sizes, s)
		}
		parts, partsCode := feed(sizes)
		if wholeCode != partsCode || strings.Join(whole, "\n") != strings.Join(parts, "\n") {
			t.Fatalf("chunking changed the result:\nwhole %d %q\nsplit %d %q", wholeCode, whole, partsCode, parts)
		}
		switch wholeCode {
		case 0, CloseProtocolError, CloseInvalidPayload, ClosePolicyViolation, CloseTooBig:
		default:
			t.Fatalf("close code %d", wholeCode)
		}
	})
}
