package redisstreams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
var ErrClosed = errors.New("adapter/redisstreams: adapter closed")

// Adapter is the adapter of one namespace. Besides adapter.Adapter and
// adapter.SessionStore it offers the server-side events of
// ServerSideEmitter; reach it with a type assertion on the namespace's
// adapter:
//
//	a := io.Of("/").Adapter().(*redisstreams.Adapter)
type Adapter struct {
	*adapter.Memory
	node    *node
	ns      adapter.Namespace
	name    string
	stream  string
	public  string // <prefix>#<nsp>#
	private string // <prefix>#<nsp>#<uid>#
	log     *slog.Logger
	core    *cluster.Core[*ServerSideEvent, wire.ClusterType]
}

var (
	_ adapter.Adapter      = (*Adapter)(nil)
	_ adapter.SessionStore = (*Adapter)(nil)
	_ ServerSideEmitter    = (*Adapter)(nil)
)

// plainNamespace hides the recovery side of a namespace from the embedded
// in-memory adapter: the stream stores the packets, not the process.
type plainNamespace struct{ adapter.Namespace }

func newAdapter(n *node, ns adapter.Namespace) *Adapter {
	mem, _ := adapter.NewMemory(plainNamespace{ns}).(*adapter.Memory)
	name := ns.Name()
	a := &Adapter{
		Memory:  mem,
		node:    n,
		ns:      ns,
		name:    name,
		stream:  StreamName(n.opts.StreamName, n.opts.StreamCount, name),
		public:  n.opts.ChannelPrefix + "#" + name + "#",
		private: n.opts.ChannelPrefix + "#" + name + "#" + n.uid + "#",
		log:     n.log.With("nsp", name),
	}
	a.core = cluster.New[*ServerSideEvent, wire.ClusterType](cluster.Config{
		Prefix:          "adapter/redisstreams",
		ErrClosed:       ErrClosed,
		Timeout:         n.opts.RequestTimeout,
		Log:             a.log,
		Publish:         a.publishPayload,
		ServerCount:     a.ServerCount,
		WaitForHandlers: true,
	})
	return a
}

// ServerID is the uid this server publishes with.
func (a *Adapter) ServerID() string { return a.node.uid }

// Stream is the stream of the namespace.
func (a *Adapter) Stream() string { return a.stream }

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recovery reports whether the server has connection state recovery on.
func (a *Adapter) recovery() bool {
	_, ok := adapter.Recovery(a.ns)
	return ok
}

// message returns a message of this server and namespace.
func (a *Adapter) message(t wire.ClusterType) *wire.ClusterMessage {
	return &wire.ClusterMessage{Type: t, UID: a.node.uid, Nsp: a.name}
}

// xadd appends m to the stream and returns the entry id.
func (a *Adapter) xadd(ctx context.Context, m *wire.ClusterMessage) (string, error) {
	fields, err := m.StreamFields()
	if err != nil {
		return "", err
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	id, err := a.node.client.XAdd(ctx, &goredis.XAddArgs{
		Stream: a.stream,
		MaxLen: a.node.opts.MaxLen,
		Approx: true,
		ID:     "*",
		Values: fields,
	}).Result()
	a.node.redisResult(err)
	return id, err
}

// publish sends m on channel.
func (a *Adapter) publish(ctx context.Context, channel string, m *wire.ClusterMessage) error {
	payload, err := wire.EncodeClusterMessage(m)
	if err != nil {
		return err
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	return a.publishPayload(ctx, channel, payload)
}

// publishPayload sends payload on channel.
func (a *Adapter) publishPayload(ctx context.Context, channel string, payload []byte) error {
	err := a.node.client.Publish(ctx, channel, payload).Err()
	a.node.redisResult(err)
	return err
}

// respond publishes a response to the server uid in the background.
func (a *Adapter) respond(uid string, m *wire.ClusterMessage) {
	payload, err := wire.EncodeClusterMessage(m)
	if err != nil {
		a.node.faults.Warn(a.log, "adapter/redisstreams: cannot encode a response", "type", m.Type, "err", err)
		return
	}
	a.core.Respond(a.node.opts.ChannelPrefix+"#"+a.name+"#"+uid+"#", payload)
}

// ---------------------------------------------------------------------------
// Operations

// Broadcast delivers p to the local sockets selected by opts and, unless
// opts.Flags.Local, appends it to the stream for the other servers. With
// connection state recovery on, a storable packet (adapter.Storable) gets
// its stream entry id appended to its data as its offset, here and on
// every server, and every server delivers such packets in stream order:
// here, the local delivery waits until this server's stream reader is at
// the entry (at most RequestTimeout, then it goes ahead). The error
// reports a failure to append; local delivery has happened anyway.
func (a *Adapter) Broadcast(ctx context.Context, p *sio.Packet, opts adapter.Options) error {
	if opts.Flags.Local {
		return a.Memory.Broadcast(ctx, p, opts)
	}
	if a.core.Closed() {
		_ = a.Memory.Broadcast(ctx, p, opts)
		return ErrClosed
	}
	m := a.message(wire.ClusterBroadcast)
	m.Packet, m.Opts = p, wire.OptsOf(opts)
	// The reader waits for the broadcaster of every entry of this server
	// it finds storable (node.ownTurnFor), and a stream entry carries no
	// ack id: a packet with one takes its turn too, without an offset.
	noID := *p
	noID.ID, noID.HasID = 0, false
	if !a.recovery() || !adapter.Storable(&noID, opts) {
		_ = a.Memory.Broadcast(ctx, p, opts)
		if _, err := a.xadd(ctx, m); err != nil {
			return fmt.Errorf("adapter/redisstreams: broadcast: %w", err)
		}
		return nil
	}
	id, err := a.xadd(ctx, m)
	if err != nil {
		_ = a.Memory.Broadcast(ctx, p, opts)
		return fmt.Errorf("adapter/redisstreams: broadcast: %w", err)
	}
	// Delivered in stream order (see reader): once the reader is at the
	// entry, at most RequestTimeout from now.
	delivered := func() {}
	if r := a.node.readerOf(a.stream); r != nil {
		delivered = r.turn(ctx, id, a.node.opts.RequestTimeout)
	}
	defer delivered()
	if !adapter.Storable(p, opts) {
		return a.Memory.Broadcast(ctx, p, opts)
	}
	opts.Flags.Offset = id
	return a.Memory.Broadcast(ctx, adapter.WithOffset(p, id), opts)
}

// BroadcastWithAck delivers p to the local sockets and, unless
// opts.Flags.Local, asks the other servers to deliver it too. onCount is
// called once per server with the number of sockets it reached; onAck for
// each acknowledgement (with an empty socket id when it comes from
// another server). Acknowledgements are routed until opts.Flags.Timeout
// has passed or ctx is done (with neither, until Close). The error
// reports a failure to publish; the local sockets have been reached
// anyway.
func (a *Adapter) BroadcastWithAck(ctx context.Context, p *sio.Packet, opts adapter.Options, onCount func(int), onAck adapter.AckFunc) error {
	if opts.Flags.Local {
		return a.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck)
	}
	id := randomID()
	m := a.message(wire.ClusterBroadcast)
	m.Packet, m.Opts, m.RequestID = p, wire.OptsOf(opts), id
	payload, err := wire.EncodeClusterMessage(m)
	if err != nil {
		return fmt.Errorf("adapter/redisstreams: broadcast: %w", err)
	}
	return a.core.BroadcastWithAck(ctx, id, a.Memory, p, opts, onCount, onAck, func(ctx context.Context) error {
		if err := a.node.client.Publish(ctx, a.public, payload).Err(); err != nil {
			return fmt.Errorf("adapter/redisstreams: broadcast: %w", err)
		}
		return nil
	})
}

// ServerCount is the number of servers subscribed to this namespace's
// public channel (PUBSUB NUMSUB, summed over the nodes of a Redis
// Cluster), at least 1.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	n, err := cluster.ServerCount(ctx, a.node.client, a.public)
	if err != nil {
		return 0, fmt.Errorf("adapter/redisstreams: server count: %w", err)
	}
	return n, nil
}

// request is a request waiting for the responses of the other servers.
type request = cluster.Request[wire.ClusterType]

// ask publishes m (given a fresh request id) on the public channel and
// waits for req to complete or ctx to end.
func (a *Adapter) ask(ctx context.Context, m *wire.ClusterMessage, req *request) error {
	m.RequestID = randomID()
	payload, err := wire.EncodeClusterMessage(m)
	if err != nil {
		return err
	}
	return a.core.Ask(ctx, m.RequestID, req, func(ctx context.Context) error {
		return a.node.client.Publish(ctx, a.public, payload).Err()
	})
}

// FetchSockets describes the selected sockets of every server. It waits
// for every other server until opts.Flags.Timeout (or RequestTimeout).
func (a *Adapter) FetchSockets(ctx context.Context, opts adapter.Options) ([]adapter.SocketInfo, error) {
	local, _ := a.Memory.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	req := &request{Type: wire.ClusterFetchSockets, Sockets: local}
	err := a.core.Collect(ctx, "fetchSockets", opts.Flags.Timeout, func(ctx context.Context, servers int) error {
		req.Want = servers - 1
		m := a.message(wire.ClusterFetchSockets)
		m.Opts = wire.OptsOf(opts)
		return a.ask(ctx, m, req)
	})
	if err != nil {
		return nil, err
	}
	return req.Sockets, nil
}

// AddSockets makes the selected sockets of every server join rooms.
func (a *Adapter) AddSockets(ctx context.Context, opts adapter.Options, rooms []string) error {
	_ = a.Memory.AddSockets(ctx, opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	m := a.message(wire.ClusterSocketsJoin)
	m.Opts, m.Rooms = wire.OptsOf(opts), rooms
	return a.notify(ctx, "socketsJoin", m)
}

// DelSockets makes the selected sockets of every server leave rooms.
func (a *Adapter) DelSockets(ctx context.Context, opts adapter.Options, rooms []string) error {
	_ = a.Memory.DelSockets(ctx, opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	m := a.message(wire.ClusterSocketsLeave)
	m.Opts, m.Rooms = wire.OptsOf(opts), rooms
	return a.notify(ctx, "socketsLeave", m)
}

// DisconnectSockets disconnects the selected sockets of every server.
func (a *Adapter) DisconnectSockets(ctx context.Context, opts adapter.Options, close bool) error {
	_ = a.Memory.DisconnectSockets(ctx, opts, close)
	if opts.Flags.Local {
		return nil
	}
	m := a.message(wire.ClusterDisconnectSockets)
	m.Opts, m.Close = wire.OptsOf(opts), close
	return a.notify(ctx, "disconnectSockets", m)
}

// notify appends a message that expects no response to the stream.
func (a *Adapter) notify(ctx context.Context, op string, m *wire.ClusterMessage) error {
	if a.core.Closed() {
		return ErrClosed
	}
	if _, err := a.xadd(ctx, m); err != nil {
		return fmt.Errorf("adapter/redisstreams: %s: %w", op, err)
	}
	return nil
}

// Close unsubscribes the namespace, fails the requests under way with
// ErrClosed and stops routing acknowledgements; closing the last adapter
// of a Factory stops its stream readers and subscription, and returns
// once their goroutines have ended. It does not close the Redis client.
func (a *Adapter) Close() error {
	a.core.Close(func() { a.node.remove(a) })
	return nil
}

// ---------------------------------------------------------------------------
// Receiving

// onPubSub handles a message of the public or private channel. It runs on
// the node's receiving goroutine.
func (a *Adapter) onPubSub(channel string, payload []byte) {
	m, err := wire.DecodeClusterMessage(payload)
	if err != nil {
		a.node.faults.Warn(a.log, "adapter/redisstreams: dropping malformed message", "channel", channel, "err", err)
		return
	}
	a.onMessage(m, "")
}

// onMessage handles a message of another server; offset is its stream
// entry id ("" for pub/sub). It runs on the node's receiving goroutine or
// on a stream reader.
func (a *Adapter) onMessage(m *wire.ClusterMessage, offset string) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("adapter/redisstreams: panic handling a message", "type", m.Type, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if m.UID == a.node.uid || m.Nsp != a.name || a.core.Closed() {
		return
	}
	ctx := context.Background()
	sel := func() adapter.Options {
		o := m.Opts.Adapter()
		o.Flags.Timeout = 0
		return o
	}
	switch m.Type {
	case wire.ClusterBroadcast:
		if m.RequestID != "" {
			a.onBroadcastWithAck(m)
			return
		}
		p, opts := m.Packet, m.Opts.Adapter()
		if offset != "" && a.recovery() && adapter.Storable(p, opts) {
			p = adapter.WithOffset(p, offset)
			opts.Flags.Offset = offset
		}
		_ = a.Memory.Broadcast(ctx, p, opts)
	case wire.ClusterSocketsJoin:
		_ = a.Memory.AddSockets(ctx, sel(), m.Rooms)
	case wire.ClusterSocketsLeave:
		_ = a.Memory.DelSockets(ctx, sel(), m.Rooms)
	case wire.ClusterDisconnectSockets:
		_ = a.Memory.DisconnectSockets(ctx, sel(), m.Close)
	case wire.ClusterFetchSockets:
		infos, _ := a.Memory.FetchSockets(ctx, sel())
		r := a.message(wire.ClusterFetchSocketsResponse)
		r.RequestID, r.Sockets = m.RequestID, infos
		a.respond(m.UID, r)
	case wire.ClusterServerSideEmit:
		a.onServerSideEmit(m)
	case wire.ClusterFetchSocketsResponse, wire.ClusterServerSideEmitResponse,
		wire.ClusterBroadcastClientCount, wire.ClusterBroadcastAck:
		a.onResponse(m)
	default:
		a.log.Debug("adapter/redisstreams: ignoring message of unknown type", "type", m.Type)
	}
}

func (a *Adapter) onBroadcastWithAck(m *wire.ClusterMessage) {
	uid, id := m.UID, m.RequestID
	opts := m.Opts.Adapter()
	_ = a.Memory.BroadcastWithAck(context.Background(), m.Packet, opts,
		func(n int) {
			r := a.message(wire.ClusterBroadcastClientCount)
			r.RequestID, r.ClientCount = id, n
			a.respond(uid, r)
		},
		func(_ string, ack *sio.Packet) {
			r := a.message(wire.ClusterBroadcastAck)
			r.RequestID, r.Value = id, ack
			a.respond(uid, r)
		})
}

func (a *Adapter) onResponse(m *wire.ClusterMessage) {
	if acks := a.core.AcksOf(m.RequestID); acks != nil {
		switch m.Type {
		case wire.ClusterBroadcastClientCount:
			acks.Count(m.ClientCount)
		case wire.ClusterBroadcastAck:
			acks.Ack(m.Value)
		}
		return
	}
	a.core.Update(m.RequestID, func(req *request) bool {
		switch {
		case req.Type == wire.ClusterFetchSockets && m.Type == wire.ClusterFetchSocketsResponse:
			req.Sockets = append(req.Sockets, m.Sockets...)
		case req.Type == wire.ClusterServerSideEmit && m.Type == wire.ClusterServerSideEmitResponse:
			v := json.RawMessage("null")
			if args, err := sio.SplitAck(m.Value.Data); err == nil && len(args) > 0 {
				v = args[0]
			}
			req.Responses = append(req.Responses, v)
		default:
			return false
		}
		req.Got++
		return true
	})
}
