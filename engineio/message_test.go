package engineio

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-sio/sio/parser/eio"
	"github.com/go-sio/sio/transport/websocket"
)

// A message built in place gives the same frames as one built from a
// plain buffer, for every payload length class of the WebSocket header,
// both revisions, plain and compressed, and after NoCompress; its plain
// frame is the caller's buffer, not a copy.
func TestTextMessageInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 124, 125, 126, 0xFFFE, 0xFFFF, 0x10000} {
		data := []byte(strings.Repeat("x", n))
		buf := append(make([]byte, TextHeadroom+3), data...)
		at := NewTextMessageAt(buf, TextHeadroom+3)
		plain := NewTextMessage(data)
		if !bytes.Equal(at.Data(), data) {
			t.Fatalf("n=%d: data %q", n, at.Data()[:min(n, 8)])
		}
		want := websocket.AppendFrame(nil, true, false, websocket.OpText, append([]byte("4"), data...))
		for _, m := range []*Message{at, at.NoCompress()} {
			for _, rev := range []eio.Revision{eio.Rev3, eio.Rev4} {
				if got := m.frame(rev, false, 0); !bytes.Equal(got, want) {
					t.Fatalf("n=%d rev=%d: frame %x..., want %x...", n, rev, got[:min(len(got), 12)], want[:12])
				}
				if got := m.frame(rev, false, 0); &got[len(got)-1] != &buf[len(buf)-1] {
					t.Fatalf("n=%d: in-place frame was copied", n)
				}
			}
			if got, w := m.frame(eio.Rev4, true, 0), plain.frame(eio.Rev4, true, 0); !bytes.Equal(got, w) && m == at {
				t.Fatalf("n=%d: compressed frame differs", n)
			}
		}
		if got := at.NoCompress().frame(eio.Rev4, true, 0); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: NoCompress frame is compressed", n)
		}
		if !bytes.Equal(plain.frame(eio.Rev4, false, 0), want) {
			t.Fatalf("n=%d: NewTextMessage frame differs", n)
		}
	}
	for _, rev := range []eio.Revision{eio.Rev3, eio.Rev4} {
		b := NewBinaryMessage([]byte{1, 2, 3})
		want := websocket.AppendFrame(nil, true, false, websocket.OpBinary, eio.AppendBinary(nil, rev, []byte{1, 2, 3}))
		if got := b.frame(rev, false, 0); !bytes.Equal(got, want) {
			t.Fatalf("binary rev %d: %x, want %x", rev, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic without headroom")
		}
	}()
	NewTextMessageAt(make([]byte, TextHeadroom-1), TextHeadroom-1)
}
