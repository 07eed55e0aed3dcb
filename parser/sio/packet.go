package sio

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Protocol is a Socket.IO protocol revision.
type Protocol int

const (
	// V4 is the protocol of Socket.IO 1.x/2.x (socket.io-client 2.x, Engine.IO EIO=3).
	V4 Protocol = 4
	// V5 is the protocol of Socket.IO 3.x/4.x (socket.io-client 3.x/4.x, Engine.IO EIO=4).
	V5 Protocol = 5
)

// PacketType is the Socket.IO packet type, the first character of an encoded packet.
type PacketType byte

const (
	Connect    PacketType = iota // 0
	Disconnect                   // 1
	Event                        // 2
	Ack                          // 3
	// ConnectError is packet type 4. Protocol 4 calls it ERROR; the code is the same.
	ConnectError
	BinaryEvent // 5
	BinaryAck   // 6
)

var packetTypeNames = [...]string{
	Connect:      "CONNECT",
	Disconnect:   "DISCONNECT",
	Event:        "EVENT",
	Ack:          "ACK",
	ConnectError: "CONNECT_ERROR",
	BinaryEvent:  "BINARY_EVENT",
	BinaryAck:    "BINARY_ACK",
}

// String returns the protocol name of t, such as "BINARY_EVENT".
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// IsBinary reports whether t is BINARY_EVENT or BINARY_ACK, the types whose
// text form carries an attachment count and whose payload may hold placeholders.
func (t PacketType) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// Packet is a decoded Socket.IO packet.
//
// Data is the raw JSON payload (nil when absent), kept raw so relays need not
// re-encode it. For EVENT/ACK it is the JSON array text; for CONNECT the auth
// object (or nil); for CONNECT_ERROR the error object or string.
//
// For BINARY_EVENT/BINARY_ACK, Data still contains the placeholders
// {"_placeholder":true,"num":N} and Attachments holds the binary attachments in
// order; N indexes Attachments. A decoded binary packet keeps its wire type
// (BinaryEvent/BinaryAck), so placeholders are only meaningful when
// p.Type.IsBinary() is true; in a plain EVENT/ACK a placeholder-shaped object
// is ordinary data.
type Packet struct {
	Type        PacketType
	Namespace   string // "/" when absent; otherwise starts with '/' and contains no ','
	ID          uint64 // ack id, valid when HasID
	HasID       bool
	Data        json.RawMessage
	Attachments [][]byte
	Query       string // protocol 4 only: the query string after '?' in a CONNECT namespace
}

// Args splits the payload of an EVENT/BINARY_EVENT into the event name and
// its arguments (see SplitArgs), or the payload of an ACK/BINARY_ACK into its
// arguments with an empty event name (see SplitAck).
func (p *Packet) Args() (event string, args []json.RawMessage, err error) {
	switch p.Type {
	case Event, BinaryEvent:
		return SplitArgs(p.Data)
	case Ack, BinaryAck:
		args, err = SplitAck(p.Data)
		return "", args, err
	}
	return "", nil, errors.New("sio: " + p.Type.String() + " packet has no arguments")
}

// Errors returned by the decoder and the payload helpers. Returned errors wrap
// one (or, for reserved events, two) of these with detail; test with errors.Is.
var (
	ErrInvalidPacket      = errors.New("sio: invalid packet")
	ErrInvalidPayload     = errors.New("sio: invalid payload")
	ErrIllegalAttachments = errors.New("sio: illegal attachments")
	ErrTooManyAttachments = errors.New("sio: too many attachments")
	// ErrUnexpectedBinary: binary data arrived when no attachment was awaited.
	ErrUnexpectedBinary = errors.New("sio: got binary data when not reconstructing a packet")
	// ErrUnexpectedText: a text message arrived while attachments were awaited.
	ErrUnexpectedText = errors.New("sio: got plaintext data when reconstructing a packet")
	// ErrReservedEvent: the event name is reserved. Such errors also match ErrInvalidPayload.
	ErrReservedEvent = errors.New("sio: reserved event name")
)

// reservedEvents are the event names a peer may not send (they have a local
// meaning for the EventEmitter or the socket life cycle).
var reservedEvents = [...]string{
	"connect",
	"connect_error",
	"disconnect",
	"disconnecting",
	"newListener",
	"removeListener",
}

// IsReservedEvent reports whether name may not be used as an event name.
func IsReservedEvent(name string) bool {
	for _, r := range reservedEvents {
		if name == r {
			return true
		}
	}
	return false
}
