// Package adapter holds the rooms of a Socket.IO namespace and carries its
// broadcasts: the in-memory default serves one process, cluster adapters
// (package adapter/redis) carry the same operations between nodes.
//
// An adapter serves one namespace. It never sees the server's types: it
// reaches the local sockets through the [Namespace] interface that the
// socketio package implements (send one packet to a list of socket ids,
// encoded once; disconnect sockets; describe a socket), so an adapter can
// be written, and tested, on its own.
package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-sio/sio/parser/sio"
)

// Flags modify a broadcast.
type Flags struct {
	// Volatile packets are dropped for clients that cannot take them at
	// once, instead of being queued.
	Volatile bool
	// Compress allows compression of the packet (the default of the
	// operators is true).
	Compress bool
	// Local restricts the broadcast to this node.
	Local bool
	// Timeout bounds a broadcast with acknowledgements, and cluster
	// requests.
	Timeout time.Duration
	// Offset is set by an adapter storing the packet for connection state
	// recovery (see SessionStore): the offset it appended to the data.
	// It never travels between nodes.
	Offset string
}

// Options select the recipients of an operation: the sockets in any of
// Rooms (every socket when Rooms is empty) and in none of Except.
type Options struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// SocketInfo describes a socket for FetchSockets, on any node.
type SocketInfo struct {
	ID        string
	Handshake json.RawMessage // the handshake as the reference serializes it
	Rooms     []string
	Data      json.RawMessage // the socket's data as JSON (null when unset)
}

// AckFunc receives one client's acknowledgement of a broadcast: the ACK
// packet (its Data is the JSON array of arguments, Attachments its binary
// parts).
type AckFunc func(socketID string, ack *sio.Packet)

// Namespace is what an adapter needs from the namespace it serves; the
// socketio package implements it.
type Namespace interface {
	// Name is the namespace name, "/" for the main one.
	Name() string
	// Send writes p to the local sockets ids. The packet is encoded once
	// and the same bytes go to every recipient.
	Send(ids []string, p *sio.Packet, flags Flags)
	// SendWithAck is Send for a broadcast expecting acknowledgements: p
	// gets a namespace-wide ack id and onAck is called for each reply. It
	// returns the number of sockets the packet was sent to.
	SendWithAck(ids []string, p *sio.Packet, flags Flags, onAck AckFunc) int
	// Disconnect disconnects the local sockets ids (close also closes
	// their underlying connection).
	Disconnect(ids []string, close bool)
	// Socket describes a local socket.
	Socket(id string) (SocketInfo, bool)
}

// Adapter is the per-namespace room registry and broadcaster. Methods are
// safe for concurrent use. The room operations are local and
// synchronous; the operations taking a context may involve other nodes.
type Adapter interface {
	// AddAll adds socket id to rooms.
	AddAll(id string, rooms ...string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from every room.
	DelAll(id string)
	// Rooms returns the rooms of a local socket (nil if unknown).
	Rooms(id string) []string
	// Sockets returns the local socket ids in any of rooms (all when
	// rooms is empty), each once.
	Sockets(rooms ...string) []string
	// AllRooms returns the names of the local rooms.
	AllRooms() []string

	// Broadcast sends p to the sockets selected by opts.
	Broadcast(ctx context.Context, p *sio.Packet, opts Options) error
	// BroadcastWithAck sends p expecting acknowledgements: onCount is
	// called with the number of clients reached (once per node), onAck for
	// each reply.
	BroadcastWithAck(ctx context.Context, p *sio.Packet, opts Options, onCount func(int), onAck AckFunc) error
	// FetchSockets describes the selected sockets.
	FetchSockets(ctx context.Context, opts Options) ([]SocketInfo, error)
	// AddSockets makes the selected sockets join rooms.
	AddSockets(ctx context.Context, opts Options, rooms []string) error
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(ctx context.Context, opts Options, rooms []string) error
	// DisconnectSockets disconnects the selected sockets.
	DisconnectSockets(ctx context.Context, opts Options, close bool) error
	// ServerCount is the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)
	// Close releases the adapter's resources.
	Close() error
}

// Factory creates the adapter of a namespace.
type Factory func(ns Namespace) Adapter

// ErrTimeout is returned (wrapped) when a cluster request gets no complete
// answer in time.
var ErrTimeout = errors.New("adapter: operation has timed out")
