// Package emitter sends Socket.IO events to the clients of a cluster
// from any Go process, through Redis, without being a Socket.IO server:
// the Go counterpart of Node's @socket.io/redis-emitter 5.x. It publishes
// exactly what that emitter publishes, so the servers it reaches may be Go
// servers with package adapter/redis, Node servers with
// @socket.io/redis-adapter (createAdapter), or both.
//
//	e := emitter.New(rdb, emitter.Options{})
//	err := e.To("room1").Except("room2").Emit(ctx, "news", item)
//	err = e.Of("/admin").Emit(ctx, "alert", "hi")
//	err = e.In("room1").SocketsJoin(ctx, "room2")
//
// An emitter only publishes: there are no acknowledgements, and the
// errors it returns are Redis errors (whether a server received the
// message is not known). Emitters and operators are immutable values,
// safe for concurrent use.
//
// Arguments are encoded as socketio's Emit encodes them: []byte values
// (also nested in []any and map[string]any) travel as binary, other values
// through encoding/json (structs use their JSON tags), json.RawMessage as
// is.
package emitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/parser/sio"
)

// ErrReservedEvent is returned when emitting a reserved event name
// ("connect", "disconnect", ...).
var ErrReservedEvent = errors.New("emitter: reserved event name")

// Options configure an Emitter.
type Options struct {
	// Key is the channel prefix, the Key of the servers' adapters.
	// Default "socket.io".
	Key string
}

// Emitter publishes to the servers of one namespace ("/" for the one New
// returns).
type Emitter struct {
	client goredis.UniversalClient
	key    string
	nsp    string
	ch     wire.Channels
}

// New returns an emitter of the main namespace. client is not closed by
// the emitter.
func New(client goredis.UniversalClient, opts Options) *Emitter {
	if client == nil {
		panic("emitter: nil Redis client")
	}
	key := opts.Key
	if key == "" {
		key = wire.DefaultKey
	}
	return &Emitter{client: client, key: key, nsp: "/", ch: wire.NewChannels(key, "/")}
}

// Of returns an emitter of namespace nsp (a missing leading slash is
// added).
func (e *Emitter) Of(nsp string) *Emitter {
	if !strings.HasPrefix(nsp, "/") {
		nsp = "/" + nsp
	}
	return &Emitter{client: e.client, key: e.key, nsp: nsp, ch: wire.NewChannels(e.key, nsp)}
}

// Namespace is the emitter's namespace.
func (e *Emitter) Namespace() string { return e.nsp }

func (e *Emitter) op() BroadcastOperator { return BroadcastOperator{e: e} }

// To selects the sockets in rooms.
func (e *Emitter) To(rooms ...string) BroadcastOperator { return e.op().To(rooms...) }

// In is To.
func (e *Emitter) In(rooms ...string) BroadcastOperator { return e.op().To(rooms...) }

// Except excludes the sockets in rooms.
func (e *Emitter) Except(rooms ...string) BroadcastOperator { return e.op().Except(rooms...) }

// Volatile marks events as volatile: clients that cannot take them at
// once miss them.
func (e *Emitter) Volatile() BroadcastOperator { return e.op().Volatile() }

// Compress sets the compression flag.
func (e *Emitter) Compress(c bool) BroadcastOperator { return e.op().Compress(c) }

// Emit sends an event to every socket of the namespace.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	return e.op().Emit(ctx, event, args...)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.op().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.op().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace (close also
// closes the underlying connections).
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.op().DisconnectSockets(ctx, close)
}

// ServerSideEmit sends an event to the servers of the namespace (their
// server-side handlers; Node's io.on(event)). Acknowledgements are not
// supported. Arguments travel as JSON (encoding/json: []byte becomes a
// base64 string).
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(append([]any{event}, args...)); err != nil {
		return fmt.Errorf("emitter: encoding %q: %w", event, err)
	}
	data := bytes.TrimRight(buf.Bytes(), "\n")
	return e.publishRequest(ctx, &wire.Request{Type: wire.ServerSideEmit, UID: wire.EmitterUID, Data: data})
}

func (e *Emitter) publishRequest(ctx context.Context, r *wire.Request) error {
	msg, err := wire.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	if err := e.client.Publish(ctx, e.ch.Request, msg).Err(); err != nil {
		return fmt.Errorf("emitter: publishing: %w", err)
	}
	return nil
}

// BroadcastOperator selects the recipients of an emission. It is an
// immutable value: each method returns a modified copy.
type BroadcastOperator struct {
	e      *Emitter
	rooms  []string
	except []string
	flags  wire.Flags
}

// add appends rooms to set, skipping those already in it (the emitter's
// rooms are JavaScript Sets).
func add(set []string, rooms []string) []string {
	out := slices.Clip(set)
	for _, r := range rooms {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// To adds rooms to the selection.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = add(b.rooms, rooms)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = add(b.except, rooms)
	return b
}

// Volatile returns a volatile copy.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	b.flags.Volatile = true
	return b
}

// Compress returns a copy with the compression flag set to c.
func (b BroadcastOperator) Compress(c bool) BroadcastOperator {
	b.flags.Compress = &c
	return b
}

// Emit sends an event to the selected sockets.
func (b BroadcastOperator) Emit(ctx context.Context, event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, atts, err := sio.EncodeArgs(event, args)
	if err != nil {
		return fmt.Errorf("emitter: encoding %q: %w", event, err)
	}
	p := &sio.Packet{Type: sio.Event, Namespace: b.e.nsp, Data: data}
	if len(atts) > 0 {
		p.Type, p.Attachments = sio.BinaryEvent, atts
	}
	rooms, except := b.rooms, b.except
	if rooms == nil {
		rooms = []string{}
	}
	if except == nil {
		except = []string{}
	}
	msg, err := wire.EncodeBroadcast(wire.EmitterUID, b.e.nsp, p, wire.Opts{Rooms: rooms, Except: except, Flags: b.flags})
	if err != nil {
		return fmt.Errorf("emitter: encoding %q: %w", event, err)
	}
	if err := b.e.client.Publish(ctx, b.e.ch.ForRooms(rooms), msg).Err(); err != nil {
		return fmt.Errorf("emitter: publishing: %w", err)
	}
	return nil
}

func (b BroadcastOperator) selection() *wire.Opts {
	o := &wire.Opts{Rooms: b.rooms, Except: b.except}
	if o.Rooms == nil {
		o.Rooms = []string{}
	}
	if o.Except == nil {
		o.Except = []string{}
	}
	return o
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.e.publishRequest(ctx, &wire.Request{Type: wire.RemoteJoin, Opts: b.selection(), Rooms: nonNil(rooms)})
}

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.e.publishRequest(ctx, &wire.Request{Type: wire.RemoteLeave, Opts: b.selection(), Rooms: nonNil(rooms)})
}

// DisconnectSockets disconnects the selected sockets (close also closes
// the underlying connections).
func (b BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.e.publishRequest(ctx, &wire.Request{Type: wire.RemoteDisconnect, Opts: b.selection(), Close: close})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
