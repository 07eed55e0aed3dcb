package engineio

import (
	"sync/atomic"

	"github.com/go-sio/sio/parser/eio"
	"github.com/go-sio/sio/transport/websocket"
)

// Message is an outbound Engine.IO packet. A Message is immutable once
// created and may be sent to any number of sessions: its WebSocket frame is
// built once per wire form (text, or binary for each protocol revision,
// each plain or compressed) and the same bytes are written to every
// recipient.
type Message struct {
	typ      eio.PacketType
	binary   bool
	compress bool
	data     []byte
	frames   [4]atomic.Pointer[[]byte]
	// inplace is the plain text frame when it was built in the headroom
	// in front of data (NewTextMessageAt); frames[0] then points to it.
	inplace []byte
}

// NewTextMessage returns a text message packet. data is retained: do not
// modify it afterwards.
func NewTextMessage(data []byte) *Message {
	return &Message{typ: eio.Message, data: data, compress: true}
}

// TextHeadroom is the space NewTextMessageAt needs in front of the
// payload: the Engine.IO packet type and the largest WebSocket header.
const TextHeadroom = 1 + websocket.MaxHeaderSize

// NewTextMessageAt returns a text message packet whose payload is
// buf[off:]. buf[:off], at least TextHeadroom bytes, must be free: the
// message writes its WebSocket frame header and Engine.IO type there, so
// that the frame every WebSocket recipient gets is a sub-slice of buf and
// nothing is copied. buf is retained: do not modify it afterwards.
func NewTextMessageAt(buf []byte, off int) *Message {
	if off < TextHeadroom {
		panic("engineio: NewTextMessageAt needs TextHeadroom bytes in front of the payload")
	}
	m := &Message{typ: eio.Message, data: buf[off:], compress: true}
	n := 1 + len(m.data)
	start := off - (websocket.FrameSize(n) - len(m.data))
	h := websocket.AppendFrameHeader(buf[start:start], true, false, websocket.OpText, n)
	h = eio.AppendText(h, eio.Message, nil)
	m.inplace = buf[start:]
	if len(h) != off-start { // unreachable: FrameSize and AppendFrameHeader agree
		panic("engineio: frame header size mismatch")
	}
	m.frames[0].Store(&m.inplace)
	return m
}

// NewBinaryMessage returns a binary message packet. data is retained.
func NewBinaryMessage(data []byte) *Message {
	return &Message{typ: eio.Message, binary: true, data: data, compress: true}
}

// NoCompress returns a copy of m that is never compressed.
func (m *Message) NoCompress() *Message {
	c := &Message{typ: m.typ, binary: m.binary, data: m.data}
	if m.inplace != nil {
		c.inplace = m.inplace
		c.frames[0].Store(&c.inplace)
	}
	return c
}

// Binary reports whether m is a binary message.
func (m *Message) Binary() bool { return m.binary }

// Data returns the message payload; it must not be modified.
func (m *Message) Data() []byte { return m.data }

func controlMessage(t eio.PacketType, data string) *Message {
	return &Message{typ: t, data: []byte(data)}
}

var (
	msgPing      = controlMessage(eio.Ping, "")
	msgPong      = controlMessage(eio.Pong, "")
	msgPongProbe = controlMessage(eio.Pong, "probe")
	msgNoop      = controlMessage(eio.Noop, "")
	msgClose     = controlMessage(eio.Close, "")
)

func (m *Message) packet() eio.Packet {
	return eio.Packet{Type: m.typ, Data: m.data, Binary: m.binary}
}

// frame returns the WebSocket frame of m for a session of revision rev,
// compressed when deflate is set and m is large enough.
func (m *Message) frame(rev eio.Revision, deflate bool, threshold int) []byte {
	deflate = deflate && m.compress && len(m.data) >= threshold
	i := 0
	if m.binary && rev == eio.Rev3 {
		i = 1
	}
	if deflate {
		i += 2
	}
	if p := m.frames[i].Load(); p != nil {
		return *p
	}
	var f []byte
	if deflate {
		var payload []byte
		if m.binary {
			payload = eio.AppendBinary(make([]byte, 0, len(m.data)+1), rev, m.data)
		} else {
			payload = eio.AppendText(make([]byte, 0, len(m.data)+1), m.typ, m.data)
		}
		f = websocket.AppendMessageFrame(nil, m.binary, payload, true)
	} else {
		// Header, Engine.IO type and payload in one buffer.
		n := len(m.data) + 1
		if m.binary && rev != eio.Rev3 {
			n--
		}
		f = make([]byte, 0, websocket.FrameSize(n))
		f = websocket.AppendFrameHeader(f, true, false, opcode(m.binary), n)
		if m.binary {
			f = eio.AppendBinary(f, rev, m.data)
		} else {
			f = eio.AppendText(f, m.typ, m.data)
		}
	}
	m.frames[i].Store(&f)
	return f
}

func opcode(binary bool) byte {
	if binary {
		return websocket.OpBinary
	}
	return websocket.OpText
}
