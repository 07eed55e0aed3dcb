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
}

// NewTextMessage returns a text message packet. data is retained: do not
// modify it afterwards.
func NewTextMessage(data []byte) *Message {
	return &Message{typ: eio.Message, data: data, compress: true}
}

// NewBinaryMessage returns a binary message packet. data is retained.
func NewBinaryMessage(data []byte) *Message {
	return &Message{typ: eio.Message, binary: true, data: data, compress: true}
}

// NoCompress returns a copy of m that is never compressed.
func (m *Message) NoCompress() *Message {
	return &Message{typ: m.typ, binary: m.binary, data: m.data}
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
	var payload []byte
	if m.binary {
		payload = eio.AppendBinary(make([]byte, 0, len(m.data)+1), rev, m.data)
	} else {
		payload = eio.AppendText(make([]byte, 0, len(m.data)+1), m.typ, m.data)
	}
	var f []byte
	if deflate {
		f = websocket.AppendMessageFrame(nil, m.binary, payload, true)
	} else {
		f = websocket.AppendFrame(make([]byte, 0, websocket.FrameSize(len(payload))), true, false, opcode(m.binary), payload)
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
