package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Opcodes of RFC 6455 section 5.2.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close codes of RFC 6455 section 7.4.1 used by this package.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005
	CloseAbnormal        = 1006
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseInternalError   = 1011
)

// CloseError is the error a connection ends with when a close frame was
// exchanged: the code and reason received from the peer, or the ones this
// side sent when it failed the connection.
type CloseError struct {
	Code   int
	Reason string
	// Local is true when this side failed the connection (a protocol
	// violation by the peer), false when the peer sent the close frame.
	Local bool
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket: close %d", e.Code)
	}
	return fmt.Sprintf("websocket: close %d: %s", e.Code, e.Reason)
}

// ErrClosed is returned by writes on a closed connection.
var ErrClosed = errors.New("websocket: connection closed")

func protocolError(reason string) *CloseError {
	return &CloseError{Code: CloseProtocolError, Reason: reason, Local: true}
}

// AppendFrame appends one unmasked (server-to-client) frame to dst.
func AppendFrame(dst []byte, fin, rsv1 bool, op byte, payload []byte) []byte {
	return append(AppendFrameHeader(dst, fin, rsv1, op, len(payload)), payload...)
}

// AppendFrameHeader appends the header of an unmasked frame carrying n
// payload bytes to dst; the payload follows it.
func AppendFrameHeader(dst []byte, fin, rsv1 bool, op byte, n int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xFFFF:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// MaxHeaderSize is the largest header of an unmasked frame.
const MaxHeaderSize = 10

// FrameSize is the size of an unmasked frame carrying n payload bytes.
func FrameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	default:
		return 10 + n
	}
}

// AppendClose appends a close frame with code and reason (reason is cut to
// fit the 125-byte control frame limit).
func AppendClose(dst []byte, code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return AppendFrame(dst, true, false, OpClose, nil)
	}
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	var p [125]byte
	binary.BigEndian.PutUint16(p[:2], uint16(code))
	n := 2 + copy(p[2:], reason)
	return AppendFrame(dst, true, false, OpClose, p[:n])
}

// reader is the incremental decoder of client frames for one connection.
// It is driven by one goroutine at a time (the poller or the connection's
// reader goroutine) and holds memory only while a frame or a fragmented
// message is incomplete.
type reader struct {
	maxMessage int64 // 0: no limit
	maxFrags   int
	deflate    bool // permessage-deflate negotiated

	pending []byte // bytes of an incomplete frame; nil while idle
	msg     []byte // fragments of an incomplete message; nil while idle
	inMsg   bool
	msgOp   byte
	msgRSV1 bool
	frags   int
}

// events receives what the reader decodes.
type events interface {
	message(op byte, compressed bool, data []byte) *CloseError
	control(op byte, data []byte) *CloseError
}

// feed decodes all complete frames in data. data may be modified (unmasked
// in place). Incomplete trailing bytes are kept. A non-nil CloseError means
// the connection must be failed (or was closed by the peer, for OpClose
// handled by control).
func (r *reader) feed(data []byte, ev events) *CloseError {
	if len(r.pending) > 0 {
		r.pending = append(r.pending, data...)
		data = r.pending
	}
	for {
		n, cerr := r.frame(data, ev)
		if cerr != nil {
			r.pending = nil
			return cerr
		}
		if n == 0 {
			break
		}
		data = data[n:]
		if len(data) == 0 {
			break
		}
	}
	if len(data) == 0 {
		r.pending = nil
		return nil
	}
	if len(r.pending) > 0 && &data[0] == &r.pending[0] {
		return nil // nothing consumed from the buffered bytes
	}
	// Keep the incomplete frame in a buffer of its own.
	buf := make([]byte, len(data), max(len(data), 64))
	copy(buf, data)
	r.pending = buf
	return nil
}

// frame decodes one frame at the start of b. It returns the number of bytes
// consumed, or 0 when the frame is incomplete.
func (r *reader) frame(b []byte, ev events) (int, *CloseError) {
	if len(b) < 2 {
		return 0, nil
	}
	b0, b1 := b[0], b[1]
	fin := b0&0x80 != 0
	rsv1 := b0&0x40 != 0
	op := b0 & 0x0F
	if b0&0x30 != 0 {
		return 0, protocolError("reserved bits set")
	}
	if b1&0x80 == 0 {
		return 0, protocolError("unmasked client frame")
	}
	control := op&0x8 != 0
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return 0, protocolError("unknown opcode")
	}
	if rsv1 && (control || op == OpContinuation || !r.deflate) {
		return 0, protocolError("unexpected RSV1")
	}
	plen := uint64(b1 & 0x7F)
	hdr := 2
	switch plen {
	case 126:
		if len(b) < 4 {
			return 0, nil
		}
		plen = uint64(binary.BigEndian.Uint16(b[2:4]))
		hdr = 4
	case 127:
		if len(b) < 10 {
			return 0, nil
		}
		plen = binary.BigEndian.Uint64(b[2:10])
		if plen>>63 != 0 {
			return 0, protocolError("invalid payload length")
		}
		hdr = 10
	}
	if control {
		if !fin {
			return 0, protocolError("fragmented control frame")
		}
		if plen > 125 {
			return 0, protocolError("control frame too long")
		}
	} else {
		// Reject oversized data before buffering any of it.
		if r.maxMessage > 0 && plen+uint64(len(r.msg)) > uint64(r.maxMessage) {
			return 0, &CloseError{Code: CloseTooBig, Reason: "message too big", Local: true}
		}
		if op == OpContinuation && !r.inMsg {
			return 0, protocolError("continuation without a message")
		}
		if op != OpContinuation && r.inMsg {
			return 0, protocolError("new message inside a fragmented message")
		}
	}
	total := uint64(hdr) + 4 + plen
	if uint64(len(b)) < total {
		return 0, nil
	}
	var key [4]byte
	copy(key[:], b[hdr:hdr+4])
	payload := b[hdr+4 : total]
	mask(key, payload)

	if control {
		return int(total), ev.control(op, payload)
	}
	switch {
	case op != OpContinuation && fin:
		if cerr := r.complete(op, rsv1, payload, ev); cerr != nil {
			return 0, cerr
		}
	case op != OpContinuation:
		r.inMsg, r.msgOp, r.msgRSV1, r.frags = true, op, rsv1, 1
		r.msg = append(make([]byte, 0, len(payload)), payload...)
	default:
		r.frags++
		if r.maxFrags > 0 && r.frags > r.maxFrags {
			return 0, &CloseError{Code: ClosePolicyViolation, Reason: "too many fragments", Local: true}
		}
		r.msg = append(r.msg, payload...)
		if fin {
			msg, op, rsv1 := r.msg, r.msgOp, r.msgRSV1
			r.msg, r.inMsg, r.frags = nil, false, 0
			if cerr := r.complete(op, rsv1, msg, ev); cerr != nil {
				return 0, cerr
			}
		}
	}
	return int(total), nil
}

func (r *reader) complete(op byte, compressed bool, payload []byte, ev events) *CloseError {
	if compressed {
		out, err := inflate(payload, r.maxMessage)
		if err != nil {
			if errors.Is(err, errInflateTooBig) {
				return &CloseError{Code: CloseTooBig, Reason: "message too big", Local: true}
			}
			return &CloseError{Code: CloseInvalidPayload, Reason: "invalid compressed data", Local: true}
		}
		payload = out
	}
	if op == OpText && !utf8.Valid(payload) {
		return &CloseError{Code: CloseInvalidPayload, Reason: "invalid UTF-8", Local: true}
	}
	return ev.message(op, compressed, payload)
}

// mask applies the client masking key in place.
func mask(key [4]byte, b []byte) {
	if len(b) >= 8 {
		k := binary.LittleEndian.Uint32(key[:])
		k64 := uint64(k) | uint64(k)<<32
		for len(b) >= 8 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// validCloseCode reports whether a peer may send code in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
