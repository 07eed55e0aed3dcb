package eio

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"
)

var (
	errJSONPNoData   = fmt.Errorf("%w: jsonp body has no d field", ErrInvalidPayload)
	errJSONPTwice    = fmt.Errorf("%w: jsonp body has more than one d field", ErrInvalidPayload)
	errJSONPEmpty    = fmt.Errorf("%w: jsonp body has an empty d field", ErrInvalidPayload)
	errJSONPEscaping = fmt.Errorf("%w: jsonp body has an invalid percent-encoding", ErrInvalidPayload)
)

const hexDigits = "0123456789abcdef"

// AppendJSONP appends the JSONP response for an already encoded string
// payload to dst and returns the extended buffer. In revision 3 the payload
// comes from AppendPayload with supportsBinary false (JSONP clients send the
// b64 query parameter). The response is:
//
//	___eio[<index>]("<payload as a JavaScript string literal>");
//
// Like the reference server, only the ASCII digits of index (the j query
// parameter) are kept, and the payload is escaped as JSON.stringify does (\",
// \\, \b, \f, \n, \r, \t, and \u00xx with lower-case hexadecimal for the other
// control characters) with U+2028 and U+2029 also escaped as \u2028 and
// \u2029, since they are line terminators in JavaScript. Other characters are
// written as UTF-8; bytes that are not valid UTF-8 are written as U+FFFD.
func AppendJSONP(dst []byte, index string, payload []byte) []byte {
	dst = slices.Grow(dst, len(index)+len(payload)+12)
	dst = append(dst, "___eio["...)
	for i := 0; i < len(index); i++ {
		if c := index[i]; c >= '0' && c <= '9' {
			dst = append(dst, c)
		}
	}
	dst = append(dst, ']', '(', '"')
	for i := 0; i < len(payload); {
		c := payload[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(payload[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				dst = utf8.AppendRune(dst, utf8.RuneError)
			case r == '\u2028':
				dst = append(dst, `\u2028`...)
			case r == '\u2029':
				dst = append(dst, `\u2029`...)
			default:
				dst = append(dst, payload[i:i+size]...)
			}
			i += size
			continue
		}
		i++
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"', ')', ';')
}

// DecodeJSONPBody extracts the payload from the body of a JSONP POST request.
// The body is form-encoded (application/x-www-form-urlencoded) and carries the
// payload in the field d; other fields are ignored. The value is
// percent-decoded ('+' is a space), then the newline escaping applied by the
// client is undone as the reference server does: the two characters `\n`
// become a newline, and the three characters `\\n` become the two characters
// `\n`.
//
// The result is freshly allocated; pass it to DecodePayload. A body without a
// d field, with more than one, with an empty one, or with an invalid
// percent-encoding in it is an error wrapping ErrInvalidPayload.
func DecodeJSONPBody(body []byte) ([]byte, error) {
	var value []byte
	found := false
	for rest := body; len(rest) > 0; {
		var pair []byte
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, rest = rest, nil
		}
		key, val := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, val = pair[:i], pair[i+1:]
		}
		if string(key) != "d" && string(key) != "%64" {
			continue
		}
		if found {
			return nil, errJSONPTwice
		}
		found, value = true, val
	}
	if !found {
		return nil, errJSONPNoData
	}
	out, ok := percentDecode(make([]byte, 0, len(value)), value)
	if !ok {
		return nil, errJSONPEscaping
	}
	if len(out) == 0 {
		return nil, errJSONPEmpty
	}
	return unescapeNewlines(out), nil
}

// percentDecode appends the form-decoded src to dst.
func percentDecode(dst, src []byte) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(src) {
				return nil, false
			}
			h, ok1 := unhex(src[i+1])
			l, ok2 := unhex(src[i+2])
			if !ok1 || !ok2 {
				return nil, false
			}
			dst = append(dst, h<<4|l)
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeNewlines undoes the JSONP client's newline escaping in place, with
// the reference server's two passes: first `\n` becomes a newline while `\\n`
// is left alone, then `\\n` becomes `\n`.
func unescapeNewlines(p []byte) []byte {
	w := 0
	for r := 0; r < len(p); {
		switch {
		case p[r] == '\\' && r+2 < len(p) && p[r+1] == '\\' && p[r+2] == 'n':
			p[w], p[w+1], p[w+2] = '\\', '\\', 'n'
			w += 3
			r += 3
		case p[r] == '\\' && r+1 < len(p) && p[r+1] == 'n':
			p[w] = '\n'
			w++
			r += 2
		default:
			p[w] = p[r]
			w++
			r++
		}
	}
	p = p[:w]
	w = 0
	for r := 0; r < len(p); {
		if p[r] == '\\' && r+2 < len(p) && p[r+1] == '\\' && p[r+2] == 'n' {
			p[w], p[w+1] = '\\', 'n'
			w += 2
			r += 3
			continue
		}
		p[w] = p[r]
		w++
		r++
	}
	return p[:w]
}
