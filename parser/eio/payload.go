package eio

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// separator delimits packets in a revision 4 payload (ASCII record separator).
const separator = 0x1e

var (
	errEmptyBody       = fmt.Errorf("%w: empty body", ErrInvalidPayload)
	errBinaryBodyRev4  = fmt.Errorf("%w: binary body not allowed in revision 4", ErrInvalidPayload)
	errPayloadRevision = fmt.Errorf("%w: unsupported protocol revision", ErrInvalidPayload)
)

// payloadError reports a problem with the packet at index idx that starts at
// byte offset off of the body. cause may wrap ErrInvalidPacket.
func payloadError(idx, off int, cause error) error {
	return fmt.Errorf("%w: packet %d at offset %d: %w", ErrInvalidPayload, idx, off, cause)
}

// framingError reports a problem with the payload framing itself.
func framingError(off int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidPayload, what, off)
}

// DecodePayload decodes the body of an HTTP long-polling POST request and
// calls fn for each packet, in order. It stops at the first error, from
// parsing or from fn, and returns it; errors returned by fn are passed through
// unchanged, parsing errors wrap ErrInvalidPayload (and also ErrInvalidPacket
// when a single packet is malformed). Packets before a malformed one have
// already been passed to fn by then. A nil fn only validates the body.
//
// binaryBody is true when the request Content-Type is
// application/octet-stream; this selects the revision 3 binary payload format
// and is an error for revision 4.
//
// The Data of text packets, and of binary packets in a revision 3 binary body,
// aliases body: fn must copy it to keep it beyond the life of body. The Data
// of base64-encoded packets is freshly allocated.
//
// Formats (see the package documentation for details):
//
//   - revision 4: packets separated by 0x1e, each "<type char>[<data>]" or
//     "b<base64>" for a binary message;
//   - revision 3, text body: "<length>:<packet>" repeated, where length is the
//     decimal number of UTF-16 code units of the packet and the packet is
//     "<type char>[<data>]" or "b<type char><base64>"; the body must be valid
//     UTF-8;
//   - revision 3, binary body: for each packet a marker byte (0 text, 1 binary),
//     the decimal length in bytes written as byte values 0 to 9, the byte 0xFF,
//     then the packet: "<type char>[<UTF-8 data>]" for text, "<type byte><data>"
//     for binary.
//
// The body is read once from start to end (the work is linear in its size).
// An empty body, an empty packet, a trailing separator, an unknown packet
// type, invalid base64 and, in revision 3, a length that is missing, not
// decimal, zero, or larger than what remains of the body are all errors.
func DecodePayload(rev Revision, body []byte, binaryBody bool, fn func(Packet) error) error {
	switch {
	case !rev.Valid():
		return errPayloadRevision
	case rev == Rev4 && binaryBody:
		return errBinaryBodyRev4
	case len(body) == 0:
		return errEmptyBody
	case rev == Rev4:
		return decodePayloadRev4(body, fn)
	case binaryBody:
		return decodePayloadRev3Binary(body, fn)
	default:
		return decodePayloadRev3String(body, fn)
	}
}

func decodePayloadRev4(body []byte, fn func(Packet) error) error {
	for i, idx := 0, 0; ; idx++ {
		seg := body[i:]
		end := bytes.IndexByte(seg, separator)
		if end >= 0 {
			seg = seg[:end]
		}
		var p Packet
		var err error
		if len(seg) > 0 && seg[0] == 'b' {
			p, err = decodeBase64Rev4(seg)
		} else {
			p, err = decodeTextPacket(seg)
		}
		if err != nil {
			return payloadError(idx, i, err)
		}
		if fn != nil {
			if err := fn(p); err != nil {
				return err
			}
		}
		if end < 0 {
			return nil
		}
		i += end + 1
	}
}

// decodeStringPacketRev3 decodes one packet of a revision 3 payload in text
// form: "<type char>[<data>]" or "b<type char><base64>".
func decodeStringPacketRev3(msg []byte) (Packet, error) {
	if len(msg) > 0 && msg[0] == 'b' {
		return decodeBase64Rev3(msg)
	}
	return decodeTextPacket(msg)
}

func decodePayloadRev3String(body []byte, fn func(Packet) error) error {
	for i, idx := 0, 0; i < len(body); idx++ {
		start := i
		n := 0
		for ; i < len(body) && body[i] != ':'; i++ {
			c := body[i] - '0'
			if c > 9 {
				return framingError(i, "non-decimal length")
			}
			n = n*10 + int(c)
			// A UTF-16 code unit takes at least one byte: any length larger
			// than the body cannot fit. This also bounds n far below overflow.
			if n > len(body) {
				return framingError(start, "length exceeds body")
			}
		}
		if i == len(body) {
			return framingError(start, "missing ':' after length")
		}
		if i == start {
			return framingError(i, "empty length")
		}
		if n == 0 {
			return framingError(start, "zero length")
		}
		i++ // ':'
		size, ok := skipUTF16(body[i:], n)
		if !ok {
			return framingError(start, "length exceeds body or splits a character")
		}
		p, err := decodeStringPacketRev3(body[i : i+size])
		if err != nil {
			return payloadError(idx, i, err)
		}
		if fn != nil {
			if err := fn(p); err != nil {
				return err
			}
		}
		i += size
	}
	return nil
}

func decodePayloadRev3Binary(body []byte, fn func(Packet) error) error {
	for i, idx := 0, 0; i < len(body); idx++ {
		start := i
		marker := body[i]
		if marker > 1 {
			return framingError(i, "invalid marker byte")
		}
		i++
		n, digits := 0, 0
		for ; i < len(body) && body[i] != 0xff; i++ {
			c := body[i]
			if c > 9 {
				return framingError(i, "invalid length digit")
			}
			n = n*10 + int(c)
			if n > len(body) {
				return framingError(start, "length exceeds body")
			}
			digits++
		}
		if i == len(body) {
			return framingError(start, "missing 0xFF after length")
		}
		if digits == 0 {
			return framingError(i, "empty length")
		}
		if n == 0 {
			return framingError(start, "zero length")
		}
		i++ // 0xFF
		if n > len(body)-i {
			return framingError(start, "length exceeds body")
		}
		msg := body[i : i+n]
		var p Packet
		var err error
		if marker == 0 {
			if !utf8.Valid(msg) {
				err = fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidPacket)
			} else {
				p, err = decodeStringPacketRev3(msg)
			}
		} else {
			t := PacketType(msg[0])
			if t.Valid() {
				p = Packet{Type: t, Data: msg[1:], Binary: true}
			} else {
				err = errUnknownType
			}
		}
		if err != nil {
			return payloadError(idx, i, err)
		}
		if fn != nil {
			if err := fn(p); err != nil {
				return err
			}
		}
		i += n
	}
	return nil
}

// AppendPayload appends the body of an HTTP long-polling GET response carrying
// packets to dst and returns the extended buffer. binaryBody reports whether
// the body uses the revision 3 binary format, in which case the response
// Content-Type must be application/octet-stream (otherwise it is text).
//
// Revision 4: packets joined by 0x1e, text packets as "<type char><data>",
// binary packets as "b<base64>" (revision 4 binary packets are always
// messages: the type of a binary packet is not encoded). Text data must not
// contain the byte 0x1e.
//
// Revision 3: if supportsBinary is true (the client did not send the b64 query
// parameter) and at least one packet is binary, the binary format; otherwise
// the string format "<length>:<packet>" with binary packets as
// "b<type char><base64>" ("b4..." for messages) and lengths counted in UTF-16
// code units. An empty packet list encodes as "0:", like the reference server.
// Bytes of text data that are not valid UTF-8 are written as U+FFFD, so that
// the declared lengths match what the client decodes.
//
// Any revision other than Rev3 uses the revision 4 format.
func AppendPayload(dst []byte, rev Revision, packets []Packet, supportsBinary bool) (out []byte, binaryBody bool) {
	if rev != Rev3 {
		return appendPayloadRev4(dst, packets), false
	}
	if supportsBinary && slices.ContainsFunc(packets, func(p Packet) bool { return p.Binary }) {
		return appendPayloadRev3Binary(dst, packets), true
	}
	return appendPayloadRev3String(dst, packets), false
}

func appendPayloadRev4(dst []byte, packets []Packet) []byte {
	size := 0
	for _, p := range packets {
		if p.Binary {
			size += 2 + b64.EncodedLen(len(p.Data))
		} else {
			size += 2 + len(p.Data)
		}
	}
	dst = slices.Grow(dst, size)
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, separator)
		}
		if p.Binary {
			dst = append(dst, 'b')
			dst = b64.AppendEncode(dst, p.Data)
		} else {
			dst = append(dst, '0'+byte(p.Type))
			dst = append(dst, p.Data...)
		}
	}
	return dst
}

func appendPayloadRev3String(dst []byte, packets []Packet) []byte {
	if len(packets) == 0 {
		return append(dst, '0', ':')
	}
	size := 0
	for _, p := range packets {
		if p.Binary {
			size += 24 + b64.EncodedLen(len(p.Data))
		} else {
			size += 22 + len(p.Data)
		}
	}
	dst = slices.Grow(dst, size)
	for _, p := range packets {
		if p.Binary {
			dst = strconv.AppendInt(dst, int64(2+b64.EncodedLen(len(p.Data))), 10)
			dst = append(dst, ':', 'b', '0'+byte(p.Type))
			dst = b64.AppendEncode(dst, p.Data)
			continue
		}
		units, valid := utf16Len(p.Data)
		dst = strconv.AppendInt(dst, int64(1+units), 10)
		dst = append(dst, ':', '0'+byte(p.Type))
		dst = appendUTF8(dst, p.Data, valid)
	}
	return dst
}

// appendBinaryLength appends n as decimal digits with byte values 0..9
// followed by 0xFF.
func appendBinaryLength(dst []byte, n int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(n), 10)
	for i := start; i < len(dst); i++ {
		dst[i] -= '0'
	}
	return append(dst, 0xff)
}

func appendPayloadRev3Binary(dst []byte, packets []Packet) []byte {
	size := 0
	for _, p := range packets {
		size += 23 + len(p.Data)
	}
	dst = slices.Grow(dst, size)
	for _, p := range packets {
		if p.Binary {
			dst = append(dst, 1)
			dst = appendBinaryLength(dst, 1+len(p.Data))
			dst = append(dst, byte(p.Type))
			dst = append(dst, p.Data...)
			continue
		}
		valid := utf8.Valid(p.Data)
		dst = append(dst, 0)
		dst = appendBinaryLength(dst, 1+utf8Len(p.Data, valid))
		dst = append(dst, '0'+byte(p.Type))
		dst = appendUTF8(dst, p.Data, valid)
	}
	return dst
}
