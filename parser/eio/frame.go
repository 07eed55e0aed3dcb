package eio

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// b64 is the base64 alphabet used by every revision: standard alphabet with
// padding. Decoding is strict (non-zero padding bits are rejected).
var b64 = base64.StdEncoding.Strict()

var (
	errEmptyPacket  = fmt.Errorf("%w: empty packet", ErrInvalidPacket)
	errUnknownType  = fmt.Errorf("%w: unknown packet type", ErrInvalidPacket)
	errBadBase64    = fmt.Errorf("%w: invalid base64 data", ErrInvalidPacket)
	errBadRevision  = fmt.Errorf("%w: unsupported protocol revision", ErrInvalidPacket)
	errBase64NoType = fmt.Errorf("%w: missing packet type in base64 packet", ErrInvalidPacket)
)

// decodeBase64 decodes strict standard base64 into a new slice. Unlike
// encoding/base64 alone it also rejects embedded CR and LF characters.
func decodeBase64(src []byte) ([]byte, error) {
	if bytes.IndexByte(src, '\n') >= 0 || bytes.IndexByte(src, '\r') >= 0 {
		return nil, errBadBase64
	}
	dst := make([]byte, b64.DecodedLen(len(src)))
	n, err := b64.Decode(dst, src)
	if err != nil {
		return nil, errBadBase64
	}
	return dst[:n], nil
}

// decodeTextPacket decodes "<type char>[<data>]"; Data aliases p.
func decodeTextPacket(p []byte) (Packet, error) {
	if len(p) == 0 {
		return Packet{}, errEmptyPacket
	}
	t, ok := typeFromChar(p[0])
	if !ok {
		return Packet{}, errUnknownType
	}
	return Packet{Type: t, Data: p[1:]}, nil
}

// decodeBase64Rev4 decodes the revision 4 form "b<base64>", always a binary
// message. p[0] must be 'b'.
func decodeBase64Rev4(p []byte) (Packet, error) {
	data, err := decodeBase64(p[1:])
	if err != nil {
		return Packet{}, err
	}
	return Packet{Type: Message, Data: data, Binary: true}, nil
}

// decodeBase64Rev3 decodes the revision 3 form "b<type char><base64>". p[0]
// must be 'b'.
func decodeBase64Rev3(p []byte) (Packet, error) {
	if len(p) < 2 {
		return Packet{}, errBase64NoType
	}
	t, ok := typeFromChar(p[1])
	if !ok {
		return Packet{}, errUnknownType
	}
	data, err := decodeBase64(p[2:])
	if err != nil {
		return Packet{}, err
	}
	return Packet{Type: t, Data: data, Binary: true}, nil
}

// DecodeText decodes one WebSocket text frame, "<type char>[<data>]": "4hello"
// is a Message with Data "hello", "2probe" a Ping with Data "probe", "3" a
// Pong with empty Data. For text packets Data aliases frame (it is frame[1:]).
//
// A frame starting with 'b' is a base64-encoded binary packet, as sent by
// clients that were told to avoid binary frames: "b<base64>" in revision 4
// (always a Message) and "b<type char><base64>" in revision 3. Since strict
// padded base64 always has a length that is a multiple of four, the two forms
// cannot be confused and DecodeText accepts both without being told the
// revision. Such packets have Binary set and Data freshly allocated.
//
// An empty frame, an unknown type character or invalid base64 is an error
// wrapping ErrInvalidPacket.
func DecodeText(frame []byte) (Packet, error) {
	if len(frame) > 0 && frame[0] == 'b' {
		if len(frame)%4 == 2 { // one type char plus a multiple of four
			return decodeBase64Rev3(frame)
		}
		return decodeBase64Rev4(frame)
	}
	return decodeTextPacket(frame)
}

// DecodeBinary decodes one WebSocket binary frame.
//
// In revision 4 the whole frame is the data of a binary Message (an empty
// frame is an empty message). In revision 3 the first byte is the packet type
// as a byte value 0..6 and the rest is the data; an empty frame or an unknown
// type byte is an error.
//
// Data aliases frame. Errors wrap ErrInvalidPacket.
func DecodeBinary(rev Revision, frame []byte) (Packet, error) {
	switch rev {
	case Rev4:
		return Packet{Type: Message, Data: frame, Binary: true}, nil
	case Rev3:
		if len(frame) == 0 {
			return Packet{}, errEmptyPacket
		}
		t := PacketType(frame[0])
		if !t.Valid() {
			return Packet{}, errUnknownType
		}
		return Packet{Type: t, Data: frame[1:], Binary: true}, nil
	}
	return Packet{}, errBadRevision
}

// AppendText appends the WebSocket text frame for a packet of type t with the
// given data ('0'+t followed by data) to dst and returns the extended buffer.
// t must be a valid type and data should be valid UTF-8, as required of
// WebSocket text frames.
func AppendText(dst []byte, t PacketType, data []byte) []byte {
	dst = append(dst, '0'+byte(t))
	return append(dst, data...)
}

// AppendBinary appends the WebSocket binary frame carrying a binary Message
// with the given data to dst and returns the extended buffer. In revision 4 the
// frame is the data itself; in revision 3 it is the type byte 0x04 followed by
// the data. Any revision other than Rev3 uses the revision 4 form.
func AppendBinary(dst []byte, rev Revision, data []byte) []byte {
	if rev == Rev3 {
		dst = append(dst, byte(Message))
	}
	return append(dst, data...)
}

// AppendBase64 appends the base64 text form of a binary Message with the given
// data, for clients that cannot receive binary WebSocket frames (the b64 query
// parameter): "b<base64>" in revision 4, "b4<base64>" in revision 3. Any
// revision other than Rev3 uses the revision 4 form.
func AppendBase64(dst []byte, rev Revision, data []byte) []byte {
	dst = append(dst, 'b')
	if rev == Rev3 {
		dst = append(dst, '0'+byte(Message))
	}
	return b64.AppendEncode(dst, data)
}
