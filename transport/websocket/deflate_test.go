package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// BAD-INPUTS row 12
func TestNegotiateDeflate(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"permessage-deflate"}, true},
		{[]string{"permessage-deflate; client_max_window_bits"}, true},
		{[]string{"permessage-deflate; client_max_window_bits=8"}, true},
		{[]string{"permessage-deflate; client_max_window_bits=15"}, true},
		{[]string{`permessage-deflate; client_max_window_bits="10"`}, true},
		{[]string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true},
		{[]string{"permessage-deflate; server_max_window_bits=15"}, true},
		{[]string{" permessage-deflate ;  client_no_context_takeover "}, true},
		{[]string{"constructor; __proto__=1, permessage-deflate; server_max_window_bits=99; client_max_window_bits=7"}, false},
		{[]string{"permessage-deflate; server_max_window_bits=99"}, false},
		{[]string{"permessage-deflate; server_max_window_bits=8"}, false},
		{[]string{"permessage-deflate; server_max_window_bits"}, false},
		{[]string{"permessage-deflate; client_max_window_bits=7"}, false},
		{[]string{"permessage-deflate; client_max_window_bits=16"}, false},
		{[]string{"permessage-deflate; client_max_window_bits=x"}, false},
		{[]string{"permessage-deflate; client_no_context_takeover=1"}, false},
		{[]string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, false},
		{[]string{"permessage-deflate; __proto__"}, false},
		{[]string{"x-webkit-deflate-frame"}, false},
		{[]string{"permessage-deflate; server_max_window_bits=99, permessage-deflate"}, true},
		{[]string{"foo", "permessage-deflate"}, true},
	} {
		if got := negotiateDeflate(tc.headers); got != tc.want {
			t.Fatalf("%q: %v, want %v", tc.headers, got, tc.want)
		}
	}
}

// Like BAD-INPUTS row 13, for the extension parser: linear time.
func TestNegotiateDeflateLinear(t *testing.T) {
	h := "permessage-deflate" + strings.Repeat("; ", 100_000) + strings.Repeat(",", 100_000)
	start := time.Now()
	negotiateDeflate([]string{h})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	for _, p := range [][]byte{
		nil,
		[]byte("a"),
		[]byte(strings.Repeat("hello world ", 1000)),
		bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7}, 10_000),
	} {
		z := AppendDeflate([]byte("prefix"), p)
		if !bytes.HasPrefix(z, []byte("prefix")) {
			t.Fatal("prefix lost")
		}
		z = z[len("prefix"):]
		if bytes.HasSuffix(z, deflateTail) && len(p) > 0 {
			t.Fatal("tail kept")
		}
		out, err := inflate(z, 0)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("%d bytes: %v", len(p), err)
		}
		// A standard inflater agrees (with the tail restored).
		std, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(inflateTrailer))))
		if err != nil || !bytes.Equal(std, p) {
			t.Fatalf("flate: %v", err)
		}
	}
}

func TestInflateLimit(t *testing.T) {
	z := AppendDeflate(nil, make([]byte, 1000))
	if _, err := inflate(z, 1000); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := inflate(z, 999); !errors.Is(err, errInflateTooBig) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := inflate([]byte{0xFF, 0xFF}, 0); err == nil {
		t.Fatal("garbage inflated")
	}
	// The pooled inflater works after an error.
	for range 3 {
		out, err := inflate(AppendDeflate(nil, []byte("ok")), 0)
		if err != nil || string(out) != "ok" {
			t.Fatalf("%q %v", out, err)
		}
	}
}

func TestAppendMessageFrame(t *testing.T) {
	p := []byte(strings.Repeat("z", 500))
	f := AppendMessageFrame(nil, false, p, false)
	if !bytes.Equal(f, AppendFrame(nil, true, false, OpText, p)) {
		t.Fatal("plain frame differs")
	}
	f = AppendMessageFrame(nil, true, p, true)
	if f[0] != 0xC2 {
		t.Fatalf("header %x", f[0])
	}
	r := newReader(0, 0, true)
	l := &log{}
	// Turn the server frame into a client frame: set the mask bit and key 0.
	client := append([]byte{f[0], f[1] | 0x80}, append([]byte{0, 0, 0, 0}, f[2:]...)...)
	if cerr := r.feed(client, l); cerr != nil || len(l.entries) != 1 || !strings.Contains(l.entries[0], strings.Repeat("z", 500)) {
		t.Fatalf("%v %q", cerr, l.entries)
	}
}
