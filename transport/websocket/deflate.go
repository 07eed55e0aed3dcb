package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction: every message is compressed and decompressed on its own, so a
// connection keeps no compressor state, and the flate state comes from
// pools shared by all connections.

const deflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

var errInflateTooBig = errors.New("websocket: inflated message too big")

var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflateTrailer ends the stream after the removed tail: a final empty
// stored block, so the reader reports io.EOF instead of ErrUnexpectedEOF.
var inflateTrailer = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var flateReaders sync.Pool

func inflate(p []byte, limit int64) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateTrailer))
	var fr io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		fr = v.(io.ReadCloser)
		if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
	} else {
		fr = flate.NewReader(src)
	}
	defer flateReaders.Put(fr)
	var out bytes.Buffer
	var r io.Reader = fr
	if limit > 0 {
		r = io.LimitReader(fr, limit+1)
	}
	if _, err := out.ReadFrom(r); err != nil {
		return nil, err
	}
	if limit > 0 && int64(out.Len()) > limit {
		return nil, errInflateTooBig
	}
	return out.Bytes(), nil
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// AppendDeflate appends the permessage-deflate compressed form of p (the
// frame payload, without the trailing 0x00 0x00 0xff 0xff).
func AppendDeflate(dst, p []byte) []byte {
	buf := bytes.NewBuffer(dst)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(p)
	_ = w.Flush()
	flateWriters.Put(w)
	out := buf.Bytes()
	if bytes.HasSuffix(out[len(dst):], deflateTail) {
		out = out[:len(out)-4]
	}
	return out
}

// AppendMessageFrame appends a complete data frame carrying payload,
// compressed when compress is set.
func AppendMessageFrame(dst []byte, binary bool, payload []byte, compress bool) []byte {
	op := OpText
	if binary {
		op = OpBinary
	}
	if !compress {
		return AppendFrame(dst, true, false, op, payload)
	}
	c := AppendDeflate(nil, payload)
	return AppendFrame(dst, true, true, op, c)
}

// negotiateDeflate parses Sec-WebSocket-Extensions offers in linear time and
// reports whether a permessage-deflate offer can be accepted with no
// context takeover. Unknown extensions are ignored; offers with invalid
// parameters are declined.
func negotiateDeflate(headers []string) bool {
	for _, h := range headers {
		for offer := range strings.SplitSeq(h, ",") {
			params := strings.Split(offer, ";")
			if strings.TrimSpace(params[0]) != "permessage-deflate" {
				continue
			}
			if deflateParamsOK(params[1:]) {
				return true
			}
		}
	}
	return false
}

func deflateParamsOK(params []string) bool {
	seen := map[string]bool{}
	for _, p := range params {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.TrimSpace(name)
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if seen[name] {
			return false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return false
			}
		case "server_max_window_bits":
			// We always compress with a 32 KiB window; a client that
			// requires a smaller one gets no compression.
			if !hasValue || value != "15" {
				return false
			}
		case "client_max_window_bits":
			if hasValue {
				n, err := strconv.Atoi(value)
				if err != nil || n < 8 || n > 15 {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}
