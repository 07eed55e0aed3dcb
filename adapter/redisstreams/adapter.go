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
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
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

	life context.Context // canceled by Close
	stop context.CancelFunc

	mu       sync.Mutex
	closed   bool
	requests map[string]*request
	acks     map[string]*ackRequest
	handlers []func(*ServerSideEvent)
	queue    []func() // server-side events waiting for the handlers
	running  bool
	wg       sync.WaitGroup // response publishers
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
		Memory:   mem,
		node:     n,
		ns:       ns,
		name:     name,
		stream:   StreamName(n.opts.StreamName, n.opts.StreamCount, name),
		public:   n.opts.ChannelPrefix + "#" + name + "#",
		private:  n.opts.ChannelPrefix + "#" + name + "#" + n.uid + "#",
		log:      n.log.With("nsp", name),
		requests: map[string]*request{},
		acks:     map[string]*ackRequest{},
	}
	a.life, a.stop = context.WithCancel(context.Background())
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

// errRequestTimeout is the cause of a context that timed out on the
// adapter's own bound.
var errRequestTimeout = errors.New("request timeout")

// opContext bounds ctx with d (RequestTimeout when d <= 0).
func (a *Adapter) opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = a.node.opts.RequestTimeout
	}
	return context.WithTimeoutCause(ctx, d, errRequestTimeout)
}

// clusterError wraps the failure of the cluster part of op; a Redis error
// is reported as a timeout (wrapping adapter.ErrTimeout and the cause).
func clusterError(op string, err error) error {
	if errors.Is(err, adapter.ErrTimeout) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("adapter/redisstreams: %s: %w", op, err)
	}
	return fmt.Errorf("adapter/redisstreams: %s: %w: %w", op, adapter.ErrTimeout, err)
}

func (a *Adapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
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
	ctx, cancel := a.opContext(ctx, 0)
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
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	err = a.node.client.Publish(ctx, channel, payload).Err()
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
	channel := a.node.opts.ChannelPrefix + "#" + a.name + "#" + uid + "#"
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.life, a.node.opts.RequestTimeout)
		defer cancel()
		err := a.node.client.Publish(ctx, channel, payload).Err()
		a.node.redisResult(err)
		if err != nil {
			a.log.Debug("adapter/redisstreams: publishing a response", "channel", channel, "err", err)
		}
	}()
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
	if a.isClosed() {
		_ = a.Memory.Broadcast(ctx, p, opts)
		return ErrClosed
	}
	m := a.message(wire.ClusterBroadcast)
	m.Packet, m.Opts = p, wire.OptsOf(opts)
	if !a.recovery() || !adapter.Storable(p, opts) {
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
	opts.Flags.Offset = id
	return a.Memory.Broadcast(ctx, adapter.WithOffset(p, id), opts)
}

// ackRequest routes the responses to a broadcast with acknowledgements.
type ackRequest struct {
	onCount func(int)
	onAck   adapter.AckFunc
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
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.acks[id] = &ackRequest{onCount: onCount, onAck: onAck}
	a.mu.Unlock()
	forget := func() {
		a.mu.Lock()
		delete(a.acks, id)
		a.mu.Unlock()
	}
	if d := opts.Flags.Timeout; d > 0 {
		time.AfterFunc(d, forget)
	}
	context.AfterFunc(ctx, forget)

	_ = a.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck)

	pctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	if err := a.node.client.Publish(pctx, a.public, payload).Err(); err != nil {
		forget()
		return fmt.Errorf("adapter/redisstreams: broadcast: %w", err)
	}
	return nil
}

// ServerCount is the number of servers subscribed to this namespace's
// public channel (PUBSUB NUMSUB, summed over the nodes of a Redis
// Cluster), at least 1.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	var total int64
	switch c := a.node.client.(type) {
	case *goredis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error {
			m, err := shard.PubSubNumSub(ctx, a.public).Result()
			mu.Lock()
			total += m[a.public]
			mu.Unlock()
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("adapter/redisstreams: server count: %w", err)
		}
	default:
		m, err := c.PubSubNumSub(ctx, a.public).Result()
		if err != nil {
			return 0, fmt.Errorf("adapter/redisstreams: server count: %w", err)
		}
		total = m[a.public]
	}
	return max(int(total), 1), nil
}

// request is a request waiting for the responses of the other servers.
type request struct {
	typ       wire.ClusterType
	expected  int
	got       int
	sockets   []adapter.SocketInfo
	responses []json.RawMessage
	done      chan struct{}
	finished  bool
	err       error // set when the adapter closed first
}

// finish completes req. Called with mu held.
func (req *request) finish() {
	if !req.finished {
		req.finished = true
		close(req.done)
	}
}

// ask publishes m (given a fresh request id) on the public channel and
// waits for req to complete or ctx to end.
func (a *Adapter) ask(ctx context.Context, m *wire.ClusterMessage, req *request) error {
	m.RequestID = randomID()
	payload, err := wire.EncodeClusterMessage(m)
	if err != nil {
		return err
	}
	req.done = make(chan struct{})
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.requests[m.RequestID] = req
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, m.RequestID)
		a.mu.Unlock()
	}()
	if err := a.node.client.Publish(ctx, a.public, payload).Err(); err != nil {
		return err
	}
	select {
	case <-req.done:
		a.mu.Lock()
		defer a.mu.Unlock()
		return req.err
	case <-ctx.Done():
		cause := context.Cause(ctx)
		if errors.Is(cause, errRequestTimeout) || errors.Is(cause, context.DeadlineExceeded) {
			a.mu.Lock()
			got, want := req.got, req.expected
			a.mu.Unlock()
			return fmt.Errorf("%w: %d of %d responses", adapter.ErrTimeout, got, want)
		}
		return ctx.Err()
	}
}

// FetchSockets describes the selected sockets of every server. It waits
// for every other server until opts.Flags.Timeout (or RequestTimeout).
func (a *Adapter) FetchSockets(ctx context.Context, opts adapter.Options) ([]adapter.SocketInfo, error) {
	local, _ := a.Memory.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	ctx, cancel := a.opContext(ctx, opts.Flags.Timeout)
	defer cancel()
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, clusterError("fetchSockets", err)
	}
	if n <= 1 {
		return local, nil
	}
	m := a.message(wire.ClusterFetchSockets)
	m.Opts = wire.OptsOf(opts)
	req := &request{typ: wire.ClusterFetchSockets, expected: n - 1, sockets: local}
	if err := a.ask(ctx, m, req); err != nil {
		return nil, clusterError("fetchSockets", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return req.sockets, nil
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
	if a.isClosed() {
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
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for _, req := range a.requests {
		if !req.finished {
			req.err = ErrClosed
			req.finish()
		}
	}
	clear(a.acks)
	a.queue = nil
	a.mu.Unlock()
	a.stop()
	a.node.remove(a)
	a.wg.Wait()
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
	if m.UID == a.node.uid || m.Nsp != a.name || a.isClosed() {
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
	a.mu.Lock()
	if ar := a.acks[m.RequestID]; ar != nil {
		a.mu.Unlock()
		switch m.Type {
		case wire.ClusterBroadcastClientCount:
			if ar.onCount != nil {
				ar.onCount(m.ClientCount)
			}
		case wire.ClusterBroadcastAck:
			if ar.onAck != nil {
				ar.onAck("", m.Value)
			}
		}
		return
	}
	defer a.mu.Unlock()
	req := a.requests[m.RequestID]
	if req == nil || req.finished {
		return
	}
	switch {
	case req.typ == wire.ClusterFetchSockets && m.Type == wire.ClusterFetchSocketsResponse:
		req.sockets = append(req.sockets, m.Sockets...)
	case req.typ == wire.ClusterServerSideEmit && m.Type == wire.ClusterServerSideEmitResponse:
		v := json.RawMessage("null")
		if args, err := sio.SplitAck(m.Value.Data); err == nil && len(args) > 0 {
			v = args[0]
		}
		req.responses = append(req.responses, v)
	default:
		return
	}
	req.got++
	if req.got >= req.expected {
		req.finish()
	}
}
