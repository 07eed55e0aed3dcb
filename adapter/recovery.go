package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/go-sio/sio/parser/sio"
)

// Connection state recovery
//
// When a server enables connection state recovery, its namespaces
// implement [RecoveryNamespace], and an adapter that supports recovery
// (it implements [SessionStore]):
//
//   - stores every broadcast EVENT packet that has no ack id and is not
//     volatile (a socket's own emits are broadcasts to its own room then),
//     and appends the packet's offset to its data array as a last string
//     argument, before sending it: clients send back the last offset they
//     saw when they reconnect;
//   - passes that offset in Flags.Offset to Namespace.Send;
//   - keeps the sessions of sockets disconnected for a recoverable reason
//     (PersistSession) for RecoveryConfig.MaxDisconnectionDuration;
//   - gives a session back once (RestoreSession) with the stored packets
//     after the client's offset that the session's rooms select.
//
// Offsets are two decimal numbers joined by a dash, "<a>-<b>", the form
// of Redis stream entry ids; a later packet has a greater offset (see
// CompareOffsets).

// RecoveryConfig is the connection state recovery setting of a server.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long the session of a disconnected
	// socket, and the packets it may have missed, are kept.
	MaxDisconnectionDuration time.Duration
	// MaxBytes caps the bytes of stored packets kept per namespace by an
	// adapter that keeps them in memory; the oldest go first.
	MaxBytes int
}

// RecoveryNamespace is implemented by the namespaces of a server with
// connection state recovery enabled.
type RecoveryNamespace interface {
	Namespace
	Recovery() RecoveryConfig
}

// Recovery returns the recovery setting of ns, and whether recovery is
// enabled.
func Recovery(ns Namespace) (RecoveryConfig, bool) {
	if r, ok := ns.(RecoveryNamespace); ok {
		cfg := r.Recovery()
		return cfg, cfg.MaxDisconnectionDuration > 0
	}
	return RecoveryConfig{}, false
}

// Session is the state a socket leaves when it disconnects for a
// recoverable reason.
type Session struct {
	// SID is the socket id, given back to the recovered socket.
	SID string
	// PID is the private session id, the client's credential.
	PID string
	// Rooms are the socket's rooms, its own id included.
	Rooms []string
	// Data is the socket's data as JSON ("null" when unset).
	Data json.RawMessage
	// Value is the socket's data as the Go value it was, kept by adapters
	// that hold sessions in process (nil from other nodes).
	Value any
}

// StoredPacket is a packet a recovered session missed.
type StoredPacket struct {
	// Offset is the packet's offset, already the last element of its data.
	Offset string
	Packet *sio.Packet
}

// SessionStore is implemented by adapters that support connection state
// recovery.
type SessionStore interface {
	// PersistSession keeps s for the recovery duration.
	PersistSession(ctx context.Context, s Session) error
	// RestoreSession takes the session of pid, which can be restored once,
	// and returns it with the stored packets after offset that its rooms
	// select, oldest first. ok is false when the session is unknown or
	// expired, or the offset is unknown or no longer stored.
	RestoreSession(ctx context.Context, pid, offset string) (s Session, missed []StoredPacket, ok bool, err error)
	// StoredAfter returns the stored packets after offset that rooms
	// select, oldest first; ok is false when offset is unknown or no
	// longer stored. A restored socket joins its rooms, then asks for
	// what was stored since its last missed packet, so that nothing
	// broadcast during its restoration is lost.
	StoredAfter(ctx context.Context, rooms []string, offset string) (missed []StoredPacket, ok bool, err error)
}

// ErrRecoveryDisabled is returned by the SessionStore methods of an
// adapter serving a namespace without connection state recovery.
var ErrRecoveryDisabled = errors.New("adapter: connection state recovery is not enabled")

// Storable reports whether a broadcast of p with opts is stored for
// recovery: an EVENT without ack id that is not volatile.
func Storable(p *sio.Packet, opts Options) bool {
	return (p.Type == sio.Event || p.Type == sio.BinaryEvent) && !p.HasID && !opts.Flags.Volatile
}

// WithOffset returns a copy of p whose data array ends with offset.
func WithOffset(p *sio.Packet, offset string) *sio.Packet {
	cp := *p
	data := []byte(p.Data)
	end := len(data) - 1
	for end >= 0 && data[end] != ']' {
		end--
	}
	if end < 0 {
		return &cp
	}
	quoted := strconv.Quote(offset) // offsets are ASCII digits and a dash
	out := make([]byte, 0, len(data)+len(quoted)+1)
	out = append(out, data[:end]...)
	if !emptyArray(data[:end]) {
		out = append(out, ',')
	}
	out = append(out, quoted...)
	out = append(out, data[end:]...)
	cp.Data = out
	return &cp
}

// emptyArray reports whether b, the data before the closing bracket, is
// "[" and blanks.
func emptyArray(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
		case '[':
			return true
		default:
			return false
		}
	}
	return true
}

// ShouldInclude reports whether a stored packet sent with opts reaches a
// session in rooms: opts.Rooms is empty or shares a room with it, and
// none of its rooms is in opts.Except.
func ShouldInclude(rooms []string, opts Options) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		for _, x := range opts.Except {
			if x == r {
				return false
			}
		}
		if !in {
			for _, x := range opts.Rooms {
				if x == r {
					in = true
					break
				}
			}
		}
	}
	return in
}

// ParseOffset splits an offset "<a>-<b>" into its numbers.
func ParseOffset(s string) (a, b uint64, ok bool) {
	left, right, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(left, 10, 64)
	b, err2 := strconv.ParseUint(right, 10, 64)
	return a, b, err1 == nil && err2 == nil
}

// CompareOffsets orders two valid offsets: -1, 0 or 1. An invalid offset
// sorts first.
func CompareOffsets(x, y string) int {
	xa, xb, xok := ParseOffset(x)
	ya, yb, yok := ParseOffset(y)
	switch {
	case !xok && !yok:
		return 0
	case !xok:
		return -1
	case !yok:
		return 1
	case xa != ya:
		if xa < ya {
			return -1
		}
		return 1
	case xb != yb:
		if xb < yb {
			return -1
		}
		return 1
	}
	return 0
}
