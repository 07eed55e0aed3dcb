package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/go-sio/sio/parser/sio"
)

// maxDepth bounds the nesting of the values transcoded, so that a hostile
// message cannot exhaust the stack.
const maxDepth = 1000

var errTooDeep = errors.New("wire: value nested too deeply")

// ---------------------------------------------------------------------------
// JSON -> msgpack

// encodeJSON writes the JSON value raw as notepack.io writes the JavaScript
// value JSON.parse gives for it: object keys in order, integer-valued
// numbers as integers. With atts non-nil, every placeholder object
// {"_placeholder":true,"num":N} becomes attachment N as bin, as the
// socket.io parser reconstructs a binary packet.
func encodeJSON(enc *msgpack.Encoder, raw []byte, atts [][]byte) error {
	if !json.Valid(raw) {
		return errors.New("wire: invalid JSON")
	}
	s := jsonScan{b: raw, atts: atts, enc: enc}
	_, err := s.value(0, 0)
	return err
}

// jsonScan walks valid JSON, writing msgpack as it goes.
type jsonScan struct {
	b    []byte
	atts [][]byte
	enc  *msgpack.Encoder
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index after the string starting at b[i] ('"'),
// and whether it has escapes.
func endString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(b), esc
}

// container returns the number of elements of the array or object at
// b[i] and the index after it.
func container(b []byte, i int) (n, end int) {
	depth := 0
	first := true
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			e, _ := endString(b, j)
			j = e - 1
			if depth == 1 && first {
				n, first = 1, false
			}
		case '[', '{':
			if depth == 1 && first {
				n, first = 1, false
			}
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return n, j + 1
			}
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\n', '\r':
		default:
			if depth == 1 && first {
				n, first = 1, false
			}
		}
	}
	return n, len(b)
}

func (s *jsonScan) str(i int) (string, int, error) {
	end, esc := endString(s.b, i)
	if !esc {
		return string(s.b[i+1 : end-1]), end, nil
	}
	var v string
	if err := json.Unmarshal(s.b[i:end], &v); err != nil {
		return "", end, err
	}
	return v, end, nil
}

func (s *jsonScan) value(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	b, enc := s.b, s.enc
	i = skipWS(b, i)
	if i >= len(b) {
		return i, errors.New("wire: truncated JSON")
	}
	switch c := b[i]; c {
	case '[':
		n, end := container(b, i)
		if err := enc.EncodeArrayLen(n); err != nil {
			return end, err
		}
		i++
		for range n {
			var err error
			if i, err = s.value(i, depth+1); err != nil {
				return i, err
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i++
			}
		}
		return end, nil
	case '{':
		n, end := container(b, i)
		if s.atts != nil && n == 2 {
			if num, ok := sio.IsPlaceholder(b[i:end]); ok {
				if num >= len(s.atts) {
					return end, errors.New("wire: attachment placeholder out of range")
				}
				return end, encodeBin(enc, s.atts[num])
			}
		}
		if err := enc.EncodeMapLen(n); err != nil {
			return end, err
		}
		i++
		for range n {
			i = skipWS(b, i)
			k, next, err := s.str(i)
			if err != nil {
				return next, err
			}
			if s.atts != nil && k == "_placeholder" {
				return next, errors.New("wire: malformed attachment placeholder")
			}
			if err := enc.EncodeString(k); err != nil {
				return next, err
			}
			i = skipWS(b, next) + 1 // ':'
			if i, err = s.value(i, depth+1); err != nil {
				return i, err
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i++
			}
		}
		return end, nil
	case '"':
		v, end, err := s.str(i)
		if err != nil {
			return end, err
		}
		return end, enc.EncodeString(v)
	case 't':
		return i + 4, enc.EncodeBool(true)
	case 'f':
		return i + 5, enc.EncodeBool(false)
	case 'n':
		return i + 4, enc.EncodeNil()
	default:
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
			j++
		}
		return j, encodeNumber(enc, string(b[i:j]))
	}
}

// encodeBin writes b as msgpack bin, an empty one for nil (never nil).
func encodeBin(enc *msgpack.Encoder, b []byte) error {
	if err := enc.EncodeBytesLen(len(b)); err != nil {
		return err
	}
	_, err := enc.Writer().Write(b)
	return err
}

// encodeNumber writes a JSON number literal the way notepack.io writes a
// JavaScript number: an integer-valued finite number as the smallest
// integer format, anything else as float64.
func encodeNumber(enc *msgpack.Encoder, lit string) error {
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return enc.EncodeInt(i)
	}
	if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
		return enc.EncodeUint(u)
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !math.IsInf(f, 0) {
		return fmt.Errorf("wire: invalid number %q", lit)
	}
	return encodeFloat(enc, f)
}

func encodeFloat(enc *msgpack.Encoder, f float64) error {
	if !math.IsInf(f, 0) && !math.IsNaN(f) && f == math.Trunc(f) {
		switch {
		case f >= -(1<<63) && f < 1<<63:
			return enc.EncodeInt(int64(f))
		case f >= 0 && f < 1<<64:
			return enc.EncodeUint(uint64(f))
		}
	}
	return enc.EncodeFloat64(f)
}

// ---------------------------------------------------------------------------
// msgpack -> JSON

// transcoder turns one msgpack value into JSON text. Binary values become
// attachment placeholders {"_placeholder":true,"num":N} and are collected
// in atts, in document order, as socket.io's parser deconstructs a packet.
type transcoder struct {
	dec  *msgpack.Decoder
	r    *bytes.Reader // what dec reads, to bound lengths
	out  []byte
	atts [][]byte
}

// value transcodes the next value of the decoder.
func (t *transcoder) value(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	d := t.dec
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedNum(c) && int8(c) >= 0, c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32, c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil {
			return err
		}
		t.out = strconv.AppendUint(t.out, u, 10)
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		i, err := d.DecodeInt64()
		if err != nil {
			return err
		}
		t.out = strconv.AppendInt(t.out, i, 10)
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		if err != nil {
			return err
		}
		t.out = AppendJSNumber(t.out, f)
	case c == msgpcode.Nil:
		if err := d.DecodeNil(); err != nil {
			return err
		}
		t.out = append(t.out, "null"...)
	case c == msgpcode.True || c == msgpcode.False:
		b, err := d.DecodeBool()
		if err != nil {
			return err
		}
		t.out = strconv.AppendBool(t.out, b)
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return err
		}
		t.out = appendJSONString(t.out, s)
	case msgpcode.IsBin(c):
		n, err := d.DecodeBytesLen()
		if err != nil {
			return err
		}
		if n < 0 || n > t.r.Len() {
			return errors.New("binary longer than the message")
		}
		b := make([]byte, n)
		if err := d.ReadFull(b); err != nil {
			return err
		}
		t.attach(b)
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return err
		}
		if n > t.r.Len() {
			return errors.New("array longer than the message")
		}
		t.out = append(t.out, '[')
		for i := range n {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			if err := t.value(depth + 1); err != nil {
				return err
			}
		}
		t.out = append(t.out, ']')
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		if n > t.r.Len() {
			return errors.New("map longer than the message")
		}
		t.out = append(t.out, '{')
		for i := range n {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			if err := t.key(depth + 1); err != nil {
				return err
			}
			t.out = append(t.out, ':')
			if err := t.value(depth + 1); err != nil {
				return err
			}
		}
		t.out = append(t.out, '}')
	case msgpcode.IsExt(c):
		return t.ext(c)
	default:
		return fmt.Errorf("wire: unexpected msgpack code 0x%02x", c)
	}
	return nil
}

// key writes a map key as a JSON string: JavaScript object keys are
// strings, so other key types are written as String(key) would.
func (t *transcoder) key(depth int) error {
	c, err := t.dec.PeekCode()
	if err != nil {
		return err
	}
	if msgpcode.IsString(c) {
		s, err := t.dec.DecodeString()
		if err != nil {
			return err
		}
		t.out = appendJSONString(t.out, s)
		return nil
	}
	if msgpcode.IsBin(c) {
		// String(buffer) is its UTF-8 text.
		sub := transcoder{dec: t.dec, r: t.r}
		if err := sub.value(depth); err != nil {
			return err
		}
		t.out = appendJSONString(t.out, string(sub.atts[0]))
		return nil
	}
	sub := transcoder{dec: t.dec, r: t.r}
	if err := sub.value(depth); err != nil {
		return err
	}
	t.out = appendJSONString(t.out, string(sub.out))
	return nil
}

func (t *transcoder) attach(b []byte) {
	t.out = append(t.out, `{"_placeholder":true,"num":`...)
	t.out = strconv.AppendInt(t.out, int64(len(t.atts)), 10)
	t.out = append(t.out, '}')
	t.atts = append(t.atts, b)
}

// ext handles extension values as notepack.io decodes them: the timestamp
// extension (-1) is a Date, which JSON renders as its ISO string; the
// legacy type 0 of notepack.io 2 is undefined (1 byte), a Date (fixext 8,
// milliseconds) or an ArrayBuffer (binary); any other extension is the
// array [type, bytes].
func (t *transcoder) ext(code byte) error {
	id, n, err := t.dec.DecodeExtHeader()
	if err != nil {
		return err
	}
	if n < 0 || n > t.r.Len() {
		return errors.New("wire: bad extension length")
	}
	data := make([]byte, n)
	if err := t.dec.ReadFull(data); err != nil {
		return err
	}
	switch {
	case id == -1:
		tm, err := decodeTimestamp(data)
		if err != nil {
			return err
		}
		t.out = appendJSONString(t.out, jsISOString(tm))
	case id == 0 && n == 1:
		t.out = append(t.out, "null"...)
	case id == 0 && code == msgpcode.FixExt8:
		ms := int64(uint64(data[0])<<56 | uint64(data[1])<<48 | uint64(data[2])<<40 | uint64(data[3])<<32 |
			uint64(data[4])<<24 | uint64(data[5])<<16 | uint64(data[6])<<8 | uint64(data[7]))
		t.out = appendJSONString(t.out, jsISOString(time.UnixMilli(ms)))
	case id == 0:
		t.attach(data)
	default:
		t.out = append(t.out, '[')
		t.out = strconv.AppendInt(t.out, int64(id), 10)
		t.out = append(t.out, ',')
		t.attach(data)
		t.out = append(t.out, ']')
	}
	return nil
}

func decodeTimestamp(b []byte) (time.Time, error) {
	be := func(b []byte) uint64 {
		var v uint64
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return v
	}
	switch len(b) {
	case 4:
		return time.Unix(int64(be(b)), 0), nil
	case 8:
		v := be(b)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), nil
	case 12:
		return time.Unix(int64(be(b[4:])), int64(be(b[:4]))), nil
	}
	return time.Time{}, errors.New("wire: bad timestamp extension")
}

// jsISOString formats t as JavaScript's Date.prototype.toISOString.
func jsISOString(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// decodeToJSON transcodes the single msgpack value b into JSON text and
// the binary attachments it held. Trailing bytes are an error.
func decodeToJSON(b []byte) (json.RawMessage, [][]byte, error) {
	r := bytes.NewReader(b)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	t := transcoder{dec: dec, r: r, out: make([]byte, 0, len(b)+len(b)/2+16)}
	if err := t.value(0); err != nil {
		return nil, nil, fmt.Errorf("wire: invalid msgpack: %w", err)
	}
	if r.Len() != 0 {
		return nil, nil, errors.New("wire: invalid msgpack: trailing bytes")
	}
	return t.out, t.atts, nil
}

// AppendJSNumber appends f as JavaScript's String(f) writes it, the form
// JSON.stringify uses; NaN and infinities become null, as in JSON.
func AppendJSNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(b, "null"...)
	case f == 0:
		return append(b, '0')
	}
	if abs := math.Abs(f); abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+21, 1.5e-07
	if n := len(s); n >= 3 && s[n-2] == '0' && (s[n-3] == '-' || s[n-3] == '+') {
		s = s[:n-2] + s[n-1:]
	}
	return append(b, s...)
}

// JSString returns String(v) of a JSON scalar as JavaScript would give it:
// the text of a string, the JavaScript form of a number. Room names may be
// numbers in JavaScript.
func JSString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0 {
			return string(raw[1 : len(raw)-1]), true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !math.IsInf(f, 0) {
			return "", false
		}
		if math.IsInf(f, 1) {
			return "Infinity", true
		}
		if math.IsInf(f, -1) {
			return "-Infinity", true
		}
		return string(AppendJSNumber(nil, f)), true
	}
	return "", false
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as JSON.stringify writes it
// (invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
