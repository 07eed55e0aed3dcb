package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/cluster"
	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/parser/sio"
)

// ErrClosed is returned by the operations of a closed adapter, and by
// requests under way when it closes.
var ErrClosed = errors.New("adapter/redis: adapter closed")

// Adapter is the adapter of one namespace. Besides adapter.Adapter it
// offers ClusterRooms and the server-side events of ServerSideEmitter;
// reach it with a type assertion on the namespace's adapter:
//
//	a := io.Of("/").Adapter().(*redis.Adapter)
type Adapter struct {
	*adapter.Memory
	node     *node
	ns       adapter.Namespace
	name     string
	ch       wire.Channels
	specific string // this node's response channel
	log      *slog.Logger
	core     *cluster.Core[*ServerSideEvent, wire.RequestType]
}

var (
	_ adapter.Adapter   = (*Adapter)(nil)
	_ ServerSideEmitter = (*Adapter)(nil)
)

func newAdapter(n *node, ns adapter.Namespace) *Adapter {
	mem, _ := adapter.NewMemory(ns).(*adapter.Memory)
	a := &Adapter{
		Memory: mem,
		node:   n,
		ns:     ns,
		name:   ns.Name(),
		ch:     wire.NewChannels(n.opts.Key, ns.Name()),
		log:    n.log.With("nsp", ns.Name()),
	}
	a.specific = a.ch.SpecificResponse(n.uid)
	a.core = cluster.New[*ServerSideEvent, wire.RequestType](cluster.Config{
		Prefix:      "adapter/redis",
		ErrClosed:   ErrClosed,
		Timeout:     n.opts.RequestsTimeout,
		Log:         a.log,
		Publish:     a.publish,
		ServerCount: a.ServerCount,
	})
	return a
}

// ServerID is the uid this server publishes with.
func (a *Adapter) ServerID() string { return a.node.uid }

// request is a request waiting for the responses of the other nodes. Want
// counts this node too for RemoteFetch and AllRooms (whose Got starts at
// 1), not for ServerSideEmit.
type request = cluster.Request[wire.RequestType]

func (a *Adapter) publish(ctx context.Context, channel string, payload []byte) error {
	err := a.node.client.Publish(ctx, channel, payload).Err()
	a.node.redisResult(err)
	return err
}

// responseChannel is where this node answers a request of uid.
func (a *Adapter) responseChannel(uid string) string {
	if a.node.opts.PublishOnSpecificResponseChannel {
		return a.ch.SpecificResponse(uid)
	}
	return a.ch.Response
}

// ---------------------------------------------------------------------------
// Operations

// Broadcast delivers p to the local sockets selected by opts and, unless
// opts.Flags.Local, publishes it for the other nodes. The error reports a
// failure to publish; local delivery has happened anyway.
func (a *Adapter) Broadcast(ctx context.Context, p *sio.Packet, opts adapter.Options) error {
	_ = a.Memory.Broadcast(ctx, p, opts)
	if opts.Flags.Local {
		return nil
	}
	if a.core.Closed() {
		return ErrClosed
	}
	o := wire.OptsOf(opts)
	msg, err := wire.EncodeBroadcast(a.node.uid, a.name, p, o)
	if err != nil {
		return fmt.Errorf("adapter/redis: encoding broadcast: %w", err)
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	if err := a.publish(ctx, a.ch.ForRooms(o.Rooms), msg); err != nil {
		return fmt.Errorf("adapter/redis: publishing broadcast: %w", err)
	}
	return nil
}

// BroadcastWithAck delivers p to the local sockets and, unless
// opts.Flags.Local, asks the other nodes to deliver it too. onCount is
// called once per node with the number of sockets it reached; onAck for
// each acknowledgement (with an empty socket id when it comes from another
// node). Acknowledgements are routed until opts.Flags.Timeout has passed
// or ctx is done (with neither, until Close). The error reports a failure
// to publish; the local sockets have been reached anyway.
func (a *Adapter) BroadcastWithAck(ctx context.Context, p *sio.Packet, opts adapter.Options, onCount func(int), onAck adapter.AckFunc) error {
	if opts.Flags.Local {
		return a.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck)
	}
	o := wire.OptsOf(opts)
	id := randomID(8)
	cp := *p
	cp.Namespace = a.name
	msg, err := wire.EncodeRequest(&wire.Request{Type: wire.BroadcastWithAck, UID: a.node.uid, RequestID: id, Packet: &cp, Opts: &o})
	if err != nil {
		return fmt.Errorf("adapter/redis: encoding broadcast: %w", err)
	}
	return a.core.BroadcastWithAck(ctx, id, a.Memory, p, opts, onCount, onAck, func(ctx context.Context) error {
		if err := a.publish(ctx, a.ch.Request, msg); err != nil {
			return fmt.Errorf("adapter/redis: publishing broadcast: %w", err)
		}
		return nil
	})
}

// ServerCount is the number of servers subscribed to this namespace's
// request channel (PUBSUB NUMSUB, summed over the nodes of a Redis
// Cluster), at least 1.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	n, err := cluster.ServerCount(ctx, a.node.client, a.ch.Request)
	if err != nil {
		a.node.redisResult(err)
		return 0, fmt.Errorf("adapter/redis: server count: %w", err)
	}
	return n, nil
}

// ask publishes r for req and waits for req to complete or ctx to end.
func (a *Adapter) ask(ctx context.Context, r *wire.Request, req *request) error {
	unregister, err := a.startRequest(ctx, r, req)
	if err != nil {
		return err
	}
	defer unregister()
	return a.core.Await(ctx, req)
}

// startRequest registers req and publishes r (from this node, with a
// fresh request id) for it; the returned function unregisters it.
func (a *Adapter) startRequest(ctx context.Context, r *wire.Request, req *request) (func(), error) {
	r.UID = a.node.uid
	r.RequestID = randomID(8)
	msg, err := wire.EncodeRequest(r)
	if err != nil {
		return nil, err
	}
	return a.core.Start(ctx, r.RequestID, req, func(ctx context.Context) error {
		return a.publish(ctx, a.ch.Request, msg)
	})
}

// FetchSockets describes the selected sockets of every node.
func (a *Adapter) FetchSockets(ctx context.Context, opts adapter.Options) ([]adapter.SocketInfo, error) {
	local, _ := a.Memory.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	o := wire.OptsOf(opts)
	req := &request{Type: wire.RemoteFetch, Got: 1, Sockets: local}
	err := a.core.Collect(ctx, "fetchSockets", opts.Flags.Timeout, func(ctx context.Context, servers int) error {
		req.Want = servers
		return a.ask(ctx, &wire.Request{Type: wire.RemoteFetch, Opts: &o}, req)
	})
	if err != nil {
		return nil, err
	}
	return req.Sockets, nil
}

// ClusterRooms returns the names of the rooms of every node (socket ids
// included), as Node's adapter.allRooms().
func (a *Adapter) ClusterRooms(ctx context.Context) ([]string, error) {
	local := a.Memory.AllRooms()
	req := &request{Type: wire.AllRooms, Got: 1}
	err := a.core.Collect(ctx, "allRooms", 0, func(ctx context.Context, servers int) error {
		req.Want, req.Rooms = servers, map[string]struct{}{}
		for _, r := range local {
			req.Rooms[r] = struct{}{}
		}
		return a.ask(ctx, &wire.Request{Type: wire.AllRooms}, req)
	})
	if err != nil {
		return nil, err
	}
	if req.Rooms == nil {
		return local, nil // this node is alone
	}
	out := make([]string, 0, len(req.Rooms))
	for r := range req.Rooms {
		out = append(out, r)
	}
	return out, nil
}

// AddSockets makes the selected sockets of every node join rooms.
func (a *Adapter) AddSockets(ctx context.Context, opts adapter.Options, rooms []string) error {
	_ = a.Memory.AddSockets(ctx, opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	o := wire.OptsOf(opts)
	return a.notify(ctx, "socketsJoin", &wire.Request{Type: wire.RemoteJoin, UID: a.node.uid, Opts: &o, Rooms: rooms})
}

// DelSockets makes the selected sockets of every node leave rooms.
func (a *Adapter) DelSockets(ctx context.Context, opts adapter.Options, rooms []string) error {
	_ = a.Memory.DelSockets(ctx, opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	o := wire.OptsOf(opts)
	return a.notify(ctx, "socketsLeave", &wire.Request{Type: wire.RemoteLeave, UID: a.node.uid, Opts: &o, Rooms: rooms})
}

// DisconnectSockets disconnects the selected sockets of every node.
func (a *Adapter) DisconnectSockets(ctx context.Context, opts adapter.Options, close bool) error {
	_ = a.Memory.DisconnectSockets(ctx, opts, close)
	if opts.Flags.Local {
		return nil
	}
	o := wire.OptsOf(opts)
	return a.notify(ctx, "disconnectSockets", &wire.Request{Type: wire.RemoteDisconnect, UID: a.node.uid, Opts: &o, Close: close})
}

// notify publishes a request that expects no response.
func (a *Adapter) notify(ctx context.Context, op string, r *wire.Request) error {
	if a.core.Closed() {
		return ErrClosed
	}
	if r.Rooms == nil && (r.Type == wire.RemoteJoin || r.Type == wire.RemoteLeave) {
		r.Rooms = []string{}
	}
	msg, err := wire.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("adapter/redis: %s: %w", op, err)
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	if err := a.publish(ctx, a.ch.Request, msg); err != nil {
		return a.core.Error(op, err)
	}
	return nil
}

// Close unsubscribes the namespace, fails the requests under way with
// ErrClosed and stops routing acknowledgements. It does not close the
// Redis client.
func (a *Adapter) Close() error {
	a.core.Close(func() { a.node.remove(a) })
	return nil
}

// ---------------------------------------------------------------------------
// Receiving

// dispatch handles one message of this namespace's channels. It runs on
// the node's receiving goroutine.
func (a *Adapter) dispatch(m *goredis.Message) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("adapter/redis: panic handling a message", "channel", m.Channel, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if a.core.Closed() {
		return
	}
	payload := []byte(m.Payload)
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, payload)
	case m.Channel == a.ch.Request:
		a.onRequest(payload)
	default:
		a.onResponse(m.Channel, payload)
	}
}

func (a *Adapter) onBroadcast(channel string, payload []byte) {
	room, ok := a.ch.RoomOf(channel)
	if !ok {
		return
	}
	if room != "" && len(a.Memory.Sockets(room)) == 0 {
		return // no local socket in that room
	}
	m, err := wire.DecodeBroadcast(payload)
	if err != nil {
		a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed broadcast", "channel", channel, "err", err)
		return
	}
	if m.UID == a.node.uid || m.Packet.Namespace != a.name {
		return
	}
	_ = a.Memory.Broadcast(context.Background(), m.Packet, m.Opts.Adapter())
}

func (a *Adapter) onRequest(payload []byte) {
	r, err := wire.DecodeRequest(payload)
	if err != nil {
		a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed request", "err", err)
		return
	}
	ctx := context.Background()
	selection := func() adapter.Options {
		if r.Opts == nil {
			return adapter.Options{}
		}
		return adapter.Options{Rooms: r.Opts.Rooms, Except: r.Opts.Except, Flags: adapter.Flags{Compress: true}}
	}
	switch r.Type {
	case wire.Sockets:
		if r.UID == a.node.uid || a.core.Own(r.RequestID) {
			return
		}
		ids := a.Memory.Sockets(r.Rooms...)
		a.core.Respond(a.responseChannel(r.UID), wire.EncodeSocketsResponse(r.RequestID, ids))
	case wire.AllRooms:
		if r.UID == a.node.uid || a.core.Own(r.RequestID) {
			return
		}
		a.core.Respond(a.responseChannel(r.UID), wire.EncodeRoomsResponse(r.RequestID, a.Memory.AllRooms()))
	case wire.RemoteJoin, wire.RemoteLeave, wire.RemoteDisconnect:
		if r.Opts == nil {
			a.legacy(r)
			return
		}
		if r.UID == a.node.uid {
			return // applied locally when it was sent
		}
		switch r.Type {
		case wire.RemoteJoin:
			_ = a.Memory.AddSockets(ctx, selection(), r.Rooms)
		case wire.RemoteLeave:
			_ = a.Memory.DelSockets(ctx, selection(), r.Rooms)
		default:
			_ = a.Memory.DisconnectSockets(ctx, selection(), r.Close)
		}
	case wire.RemoteFetch:
		if r.UID == a.node.uid || a.core.Own(r.RequestID) {
			return
		}
		infos, _ := a.Memory.FetchSockets(ctx, selection())
		a.core.Respond(a.responseChannel(r.UID), wire.EncodeFetchResponse(r.RequestID, infos))
	case wire.ServerSideEmit:
		if r.UID == a.node.uid {
			return
		}
		a.onServerSideEmit(r)
	case wire.BroadcastWithAck:
		if r.UID == a.node.uid || a.core.Own(r.RequestID) {
			return
		}
		ch, id := a.responseChannel(r.UID), r.RequestID
		p := r.Packet
		p.Namespace = a.name
		_ = a.Memory.BroadcastWithAck(ctx, p, selection(),
			func(n int) { a.core.Respond(ch, wire.EncodeClientCount(id, n)) },
			func(_ string, ack *sio.Packet) {
				msg, err := wire.EncodeBroadcastAck(id, ack)
				if err != nil {
					a.log.Debug("adapter/redis: cannot relay an acknowledgement", "err", err) // the client's ack
					return
				}
				a.core.Respond(ch, msg)
			})
	default:
		a.log.Debug("adapter/redis: ignoring request of unknown type", "type", r.Type)
	}
}

// legacy serves the requests of adapters before 7.0 that name one socket.
func (a *Adapter) legacy(r *wire.Request) {
	if _, ok := a.ns.Socket(r.SID); !ok {
		return
	}
	switch r.Type {
	case wire.RemoteJoin:
		a.Memory.AddAll(r.SID, r.Room)
	case wire.RemoteLeave:
		a.Memory.Del(r.SID, r.Room)
	default:
		a.ns.Disconnect([]string{r.SID}, r.Close)
	}
	if r.RequestID != "" {
		a.core.Respond(a.responseChannel(r.UID), wire.EncodeLegacyResponse(r.RequestID))
	}
}

func (a *Adapter) onResponse(channel string, payload []byte) {
	res, err := wire.DecodeResponse(payload)
	if err != nil {
		a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed response", "channel", channel, "err", err)
		return
	}
	if acks := a.core.AcksOf(res.RequestID); acks != nil {
		switch res.Type {
		case wire.BroadcastClientCount:
			acks.Count(res.ClientCount)
		case wire.BroadcastAck:
			acks.Ack(res.Ack)
		}
		return
	}
	a.core.Update(res.RequestID, func(req *request) bool {
		switch req.Type {
		case wire.RemoteFetch:
			req.Got++
			if !res.HasSockets {
				return false
			}
			for _, raw := range res.Sockets {
				info, err := wire.DecodeSocketInfo(raw)
				if err != nil {
					a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed socket description", "err", err)
					continue
				}
				req.Sockets = append(req.Sockets, info)
			}
		case wire.AllRooms:
			req.Got++
			if !res.HasRooms {
				return false
			}
			for _, r := range res.Rooms {
				req.Rooms[r] = struct{}{}
			}
		case wire.ServerSideEmit:
			req.Got++
			data := res.Data
			if data == nil {
				data = json.RawMessage("null")
			}
			req.Responses = append(req.Responses, data)
		default:
			return false
		}
		return true
	})
}
