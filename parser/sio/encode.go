package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendPacket appends the text form of p to dst and returns the extended
// buffer. The caller sends it as one text Engine.IO message, followed by each
// of p.Attachments as a binary message, in order.
//
// p.Data is written verbatim: it must already be valid JSON of the right
// shape, with placeholders for the attachments (see EncodeArgs). An EVENT or
// ACK with attachments is written as BINARY_EVENT or BINARY_ACK. The
// namespace is omitted when it is "" or "/". With V4, a CONNECT packet with a
// Query is written as "0/nsp?query,".
func AppendPacket(dst []byte, proto Protocol, p *Packet) []byte {
	t := p.Type
	if len(p.Attachments) > 0 {
		switch t {
		case Event:
			t = BinaryEvent
		case Ack:
			t = BinaryAck
		}
	}
	dst = strconv.AppendUint(dst, uint64(t), 10)
	if t.IsBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	nsp := p.Namespace
	withQuery := proto == V4 && t == Connect && p.Query != ""
	if (nsp != "" && nsp != "/") || withQuery {
		if nsp == "" {
			nsp = "/"
		}
		dst = append(dst, nsp...)
		if withQuery {
			dst = append(dst, '?')
			dst = append(dst, p.Query...)
		}
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// maxEncodeDepth bounds the nesting of []any / map[string]any values given to
// EncodeArgs, which also stops cyclic maps.
const maxEncodeDepth = 1000

// EncodeArgs builds the payload of an EVENT ([event, args...]) or, when event
// is "", of an ACK ([args...]).
//
// Every []byte, including one nested in []any, map[string]any or [][]byte
// values, becomes a placeholder {"_placeholder":true,"num":N} and is returned
// as attachment N, in order of appearance (map keys are visited in sorted
// order). json.RawMessage is embedded as is after validation. Strings,
// booleans, numbers, nil, []string, []any and map[string]any are written
// directly; any other value goes through encoding/json (without HTML
// escaping), so []byte fields inside structs become base64 strings, as
// encoding/json does.
//
// The attachments alias the caller's slices. Peers using the reference
// parser reject packets with more than 10 attachments by default.
func EncodeArgs(event string, args []any) ([]byte, [][]byte, error) {
	return AppendArgs(make([]byte, 0, 64), event, args)
}

// AppendArgs is EncodeArgs appending the payload to dst. On error the
// returned buffer is nil.
func AppendArgs(dst []byte, event string, args []any) ([]byte, [][]byte, error) {
	e := argEncoder{buf: dst}
	e.buf = append(e.buf, '[')
	first := true
	if event != "" {
		e.buf = appendString(e.buf, event)
		first = false
	}
	for _, a := range args {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		if err := e.value(a, 0); err != nil {
			return nil, nil, err
		}
	}
	e.buf = append(e.buf, ']')
	return e.buf, e.att, nil
}

// argEncoder stays on the caller's stack: only the encoding/json fallback
// allocates, its writer and encoder made once per call that needs them.
type argEncoder struct {
	buf []byte
	att [][]byte
	w   *bufWriter
	enc *json.Encoder
}

// bufWriter lets the encoding/json fallback append to a buffer directly.
type bufWriter struct{ buf []byte }

func (w *bufWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

var errUnsupportedFloat = errors.New("sio: cannot encode NaN or infinite number")

func (e *argEncoder) value(v any, depth int) error {
	if depth > maxEncodeDepth {
		return errors.New("sio: value nested too deeply (or cyclic)")
	}
	b := e.buf
	switch x := v.(type) {
	case nil:
		b = append(b, "null"...)
	case []byte:
		b = appendPlaceholder(b, len(e.att))
		e.att = append(e.att, x)
	case json.RawMessage:
		raw := trimSpace(x)
		if len(raw) == 0 {
			b = append(b, "null"...)
		} else if !validJSON(raw) {
			return fmt.Errorf("sio: invalid json.RawMessage argument")
		} else {
			b = append(b, raw...)
		}
	case string:
		b = appendString(b, x)
	case bool:
		b = strconv.AppendBool(b, x)
	case int:
		b = strconv.AppendInt(b, int64(x), 10)
	case int8:
		b = strconv.AppendInt(b, int64(x), 10)
	case int16:
		b = strconv.AppendInt(b, int64(x), 10)
	case int32:
		b = strconv.AppendInt(b, int64(x), 10)
	case int64:
		b = strconv.AppendInt(b, x, 10)
	case uint:
		b = strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		b = strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		b = strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		b = strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		b = strconv.AppendUint(b, x, 10)
	case float64:
		var err error
		if b, err = appendFloat(b, x, 64); err != nil {
			return err
		}
	case float32:
		var err error
		if b, err = appendFloat(b, float64(x), 32); err != nil {
			return err
		}
	case json.Number:
		if x == "" {
			b = append(b, '0')
		} else if !isNumberLiteral(string(x)) {
			return fmt.Errorf("sio: invalid json.Number %q", string(x))
		} else {
			b = append(b, x...)
		}
	case []string:
		if x == nil {
			b = append(b, "null"...)
			break
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	case [][]byte:
		if x == nil {
			b = append(b, "null"...)
			break
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPlaceholder(b, len(e.att))
			e.att = append(e.att, s)
		}
		b = append(b, ']')
	case []any:
		if x == nil {
			e.buf = append(b, "null"...)
			return nil
		}
		e.buf = append(b, '[')
		for i, elem := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(elem, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case map[string]any:
		if x == nil {
			e.buf = append(b, "null"...)
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(x[k], depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	default:
		if e.enc == nil {
			e.w = &bufWriter{}
			e.enc = json.NewEncoder(e.w)
			e.enc.SetEscapeHTML(false)
		}
		// Encode writes the value and a newline in one call, or nothing.
		e.w.buf = b
		err := e.enc.Encode(v)
		e.buf, e.w.buf = e.w.buf, nil
		if err != nil {
			return err
		}
		if n := len(e.buf); n > 0 && e.buf[n-1] == '\n' {
			e.buf = e.buf[:n-1]
		}
		return nil
	}
	e.buf = b
	return nil
}

func appendPlaceholder(b []byte, num int) []byte {
	b = append(b, `{"_placeholder":true,"num":`...)
	b = strconv.AppendInt(b, int64(num), 10)
	return append(b, '}')
}

// appendFloat writes f like encoding/json (and like JavaScript's
// JSON.stringify for the common range): shortest representation, exponent
// form only below 1e-6 or from 1e21 on.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errUnsupportedFloat
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-07 -> e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// isNumberLiteral reports whether s is a JSON number.
func isNumberLiteral(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. It escapes '"', '\\', control
// characters, U+2028 and U+2029, and replaces invalid UTF-8 with U+FFFD,
// like encoding/json, but leaves <, > and & alone, like JSON.stringify.
func appendString(b []byte, s string) []byte {
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
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// SplitArgs splits an EVENT payload, a JSON array [event, args...], into the
// event name and the raw arguments (sub-slices of data, whitespace trimmed).
// The event name is the first element: a string, or a number converted to
// its JavaScript string form (the reference parser accepts numeric event
// names). For ACK payloads use SplitAck or Packet.Args.
func SplitArgs(data json.RawMessage) (event string, args []json.RawMessage, err error) {
	return SplitArgsTo(make([]json.RawMessage, 0, 4), data)
}

// SplitArgsTo is SplitArgs appending the arguments to dst[:0] (args
// shares dst's array when it is large enough): a caller that keeps a small
// array for them splits without allocating.
func SplitArgsTo(dst []json.RawMessage, data json.RawMessage) (event string, args []json.RawMessage, err error) {
	elems, err := splitPayloadTo(dst[:0], data)
	if err != nil {
		return "", nil, err
	}
	if len(elems) == 0 {
		return "", nil, fmt.Errorf("%w: empty event payload", ErrInvalidPayload)
	}
	first := elems[0]
	switch {
	case first[0] == '"' && bytes.IndexByte(first, '\\') < 0:
		event = string(first[1 : len(first)-1])
	case first[0] == '"':
		var name string // escapes: declared here, it costs only this case
		if err := json.Unmarshal(first, &name); err != nil {
			return "", nil, fmt.Errorf("%w: event name: %v", ErrInvalidPayload, err)
		}
		event = name
	case first[0] == '-' || isDigit(first[0]):
		event = jsNumberString(first)
	default:
		return "", nil, fmt.Errorf("%w: event name must be a string or a number", ErrInvalidPayload)
	}
	return event, elems[1:], nil
}

// SplitAck splits an ACK payload, a JSON array, into its raw elements
// (sub-slices of data, whitespace trimmed). An empty array gives no elements.
func SplitAck(data json.RawMessage) ([]json.RawMessage, error) {
	return splitPayload(data)
}

func splitPayload(data json.RawMessage) ([]json.RawMessage, error) {
	return splitPayloadTo(make([]json.RawMessage, 0, 4), data)
}

func splitPayloadTo(out []json.RawMessage, data json.RawMessage) ([]json.RawMessage, error) {
	b := trimSpace(data)
	if len(b) == 0 || b[0] != '[' {
		return nil, fmt.Errorf("%w: payload is not an array", ErrInvalidPayload)
	}
	if _, ok := scanArray(b, &out); !ok {
		return nil, fmt.Errorf("%w: malformed JSON", ErrInvalidPayload)
	}
	return out, nil
}

// jsNumberString converts the JSON number lit to the string JavaScript's
// String(Number(lit)) gives, which is the property key an EventEmitter
// would use for a numeric event name.
func jsNumberString(lit []byte) string {
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !math.IsInf(f, 0) {
		return string(lit)
	}
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	if abs := math.Abs(f); abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // like 1e+21 or 1.5e-07
	if n := len(s); n >= 2 && s[n-2] == '0' && (s[n-3] == '-' || s[n-3] == '+') {
		s = s[:n-2] + s[n-1:]
	}
	return s
}

// Reconstruct decodes the JSON value raw (for example one argument from
// SplitArgs) into Go values as json.Unmarshal does into an any, replacing
// every placeholder with the []byte attachment it references.
//
// Pass p.Attachments for BINARY_EVENT/BINARY_ACK packets; pass nil for other
// packets, which disables replacement (placeholder-shaped objects are then
// ordinary data). An object carrying a "_placeholder" key that is not a
// valid placeholder, or an index out of range, gives ErrIllegalAttachments.
func Reconstruct(raw json.RawMessage, attachments [][]byte) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	if attachments == nil {
		return v, nil
	}
	return replacePlaceholders(v, attachments)
}

// replacePlaceholders recurses at most as deep as encoding/json's nesting limit.
func replacePlaceholders(v any, attachments [][]byte) (any, error) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			r, err := replacePlaceholders(e, attachments)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	case map[string]any:
		if ph, ok := x["_placeholder"]; ok {
			num, isNum := x["num"].(float64)
			if ph != true || !isNum || len(x) != 2 || num != math.Trunc(num) ||
				num < 0 || num >= float64(len(attachments)) {
				return nil, fmt.Errorf("%w: malformed placeholder", ErrIllegalAttachments)
			}
			return attachments[int(num)], nil
		}
		for k, e := range x {
			r, err := replacePlaceholders(e, attachments)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	}
	return v, nil
}
