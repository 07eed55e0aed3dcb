package eio

import (
	"errors"
	"strconv"
)

// Revision is an Engine.IO protocol revision, as sent by clients in the EIO
// query parameter.
type Revision int

// Supported protocol revisions.
const (
	// Rev3 is used by Engine.IO 3.x / Socket.IO 1.x and 2.x clients.
	Rev3 Revision = 3
	// Rev4 is used by Engine.IO 4.x and later / Socket.IO 3.x and later clients.
	Rev4 Revision = 4
)

// Valid reports whether r is a revision supported by this package.
func (r Revision) Valid() bool { return r == Rev3 || r == Rev4 }

// PacketType is the type of an Engine.IO packet. On the wire it is written as
// the ASCII digit '0'+t in text form and as the byte value t in revision 3
// binary form.
type PacketType byte

// Packet types.
const (
	Open PacketType = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

// numTypes is the number of defined packet types.
const numTypes = 7

var typeNames = [numTypes]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the lower-case protocol name of t ("open", "close", "ping",
// "pong", "message", "upgrade", "noop"), or "PacketType(n)" for an undefined
// value.
func (t PacketType) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the seven defined packet types.
func (t PacketType) Valid() bool { return t < numTypes }

// Packet is one Engine.IO packet. Data is the payload after the type (for text
// packets the UTF-8 text, for binary packets the raw bytes). Binary is true for
// binary packets.
type Packet struct {
	Type   PacketType
	Data   []byte
	Binary bool
}

// Errors returned by the decoders. Every decoding error wraps one (or both) of
// these, with detail added; test for them with errors.Is.
var (
	ErrInvalidPacket  = errors.New("eio: invalid packet")
	ErrInvalidPayload = errors.New("eio: invalid payload")
)

// typeFromChar maps a text-form type character ('0'..'6') to a PacketType.
func typeFromChar(c byte) (PacketType, bool) {
	t := PacketType(c - '0') // wraps around for c < '0'
	return t, t < numTypes
}
