package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// BroadcastOperator selects sockets of a namespace and acts on them. It
// is an immutable value: every method returns a modified copy, so an
// operator can be kept and shared between goroutines.
//
//	io.To("room1", "room2").Except("muted").Emit("news", item)
//
// To (or In) selects the sockets in any of the rooms (each socket once),
// every socket of the namespace when no room is given; Except removes the
// sockets in its rooms. Volatile events are dropped for clients that
// cannot take them at once. Local keeps the operation on this node.
// Timeout bounds the wait for acknowledgements.
type BroadcastOperator struct {
	ns     *Namespace
	rooms  []string
	except []string
	flags  adapter.Flags
}

// To adds rooms to the selection.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = append(slices.Clip(b.rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = append(slices.Clip(b.except), rooms...)
	return b
}

// Volatile returns a volatile copy.
func (b BroadcastOperator) Volatile() BroadcastOperator { b.flags.Volatile = true; return b }

// Local returns a copy restricted to this node.
func (b BroadcastOperator) Local() BroadcastOperator { b.flags.Local = true; return b }

// Compress returns a copy with the compression flag set to c.
func (b BroadcastOperator) Compress(c bool) BroadcastOperator { b.flags.Compress = c; return b }

// Timeout returns a copy whose acknowledgements time out after d.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator { b.flags.Timeout = d; return b }

func (b BroadcastOperator) opts() adapter.Options {
	return adapter.Options{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets. The packet is encoded once
// and the same bytes go to every recipient.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	p, err := eventPacket(b.ns.name, event, args)
	if err != nil {
		return err
	}
	return b.ns.adapter.Broadcast(context.Background(), p, b.opts())
}

// BroadcastReply is one socket's acknowledgement of a broadcast.
type BroadcastReply struct {
	SocketID string
	Reply    *AckReply
}

// EmitWithAckEach sends an event expecting an acknowledgement from every
// selected socket, and calls each with every reply as it arrives (one
// call at a time). It returns when every socket has replied, or with
// ErrAckTimeout when the operator's timeout passes first, or with ctx's
// error.
func (b BroadcastOperator) EmitWithAckEach(ctx context.Context, each func(BroadcastReply), event string, args ...any) error {
	p, err := eventPacket(b.ns.name, event, args)
	if err != nil {
		return err
	}
	if b.flags.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, b.flags.Timeout, ErrAckTimeout)
		defer cancel()
	}
	var (
		mu       sync.Mutex
		expected int
		counted  int
		got      int
		servers  = -1
		done     = make(chan struct{})
		finished bool
	)
	check := func() {
		if !finished && servers >= 0 && counted == servers && got == expected {
			finished = true
			close(done)
		}
	}
	onCount := func(n int) {
		mu.Lock()
		expected += n
		counted++
		check()
		mu.Unlock()
	}
	onAck := func(sid string, ack *sio.Packet) {
		reply, err := newAckReply(ack)
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		got++
		if err == nil && each != nil {
			each(BroadcastReply{SocketID: sid, Reply: reply})
		}
		check()
	}
	stop := func() {
		mu.Lock()
		finished = true
		mu.Unlock()
	}
	if err := b.ns.adapter.BroadcastWithAck(ctx, p, b.opts(), onCount, onAck); err != nil {
		stop()
		return err
	}
	n := 1
	if !b.flags.Local {
		if n, err = b.ns.adapter.ServerCount(ctx); err != nil {
			stop()
			return err
		}
	}
	mu.Lock()
	servers = n
	check()
	mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		stop()
		if errors.Is(context.Cause(ctx), ErrAckTimeout) {
			b.ns.srv.stats.broadcastAckTimeouts.Add(1)
			return ErrAckTimeout
		}
		return ctx.Err()
	}
}

// EmitWithAck is EmitWithAckEach collecting the replies. On ErrAckTimeout
// the replies received in time are returned with the error.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]BroadcastReply, error) {
	var replies []BroadcastReply
	err := b.EmitWithAckEach(ctx, func(r BroadcastReply) { replies = append(replies, r) }, event, args...)
	return replies, err
}

// RemoteSocket describes a socket of the selection, on this node or
// another one.
type RemoteSocket struct {
	ID        string
	Handshake json.RawMessage
	Rooms     []string
	Data      json.RawMessage
	ns        *Namespace
}

// Emit sends an event to the socket, wherever it is.
func (r RemoteSocket) Emit(event string, args ...any) error {
	return r.ns.To(r.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r RemoteSocket) Join(ctx context.Context, rooms ...string) error {
	return r.ns.To(r.ID).SocketsJoin(ctx, rooms...)
}

// Leave makes the socket leave rooms.
func (r RemoteSocket) Leave(ctx context.Context, rooms ...string) error {
	return r.ns.To(r.ID).SocketsLeave(ctx, rooms...)
}

// Disconnect disconnects the socket.
func (r RemoteSocket) Disconnect(ctx context.Context, close bool) error {
	return r.ns.To(r.ID).DisconnectSockets(ctx, close)
}

// FetchSockets describes the selected sockets.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	infos, err := b.ns.adapter.FetchSockets(ctx, b.opts())
	if err != nil {
		return nil, err
	}
	out := make([]RemoteSocket, len(infos))
	for i, in := range infos {
		out[i] = RemoteSocket{ID: in.ID, Handshake: in.Handshake, Rooms: in.Rooms, Data: in.Data, ns: b.ns}
	}
	return out, nil
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.AddSockets(ctx, b.opts(), rooms)
}

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.DelSockets(ctx, b.opts(), rooms)
}

// DisconnectSockets disconnects the selected sockets; close also closes
// their connections.
func (b BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.ns.adapter.DisconnectSockets(ctx, b.opts(), close)
}
