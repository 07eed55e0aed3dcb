package redis

import (
	"context"
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
	_ adapter.Adapter   = (*Adapter)(nil)
	_ ServerSideEmitter = (*Adapter)(nil)
)

func newAdapter(n *node, ns adapter.Namespace) *Adapter {
	mem, _ := adapter.NewMemory(ns).(*adapter.Memory)
	a := &Adapter{
		Memory:   mem,
		node:     n,
		ns:       ns,
		name:     ns.Name(),
		ch:       wire.NewChannels(n.opts.Key, ns.Name()),
		log:      n.log.With("nsp", ns.Name()),
		requests: map[string]*request{},
		acks:     map[string]*ackRequest{},
	}
	a.specific = a.ch.SpecificResponse(n.uid)
	a.life, a.stop = context.WithCancel(context.Background())
	return a
}

// ServerID is the uid this server publishes with.
func (a *Adapter) ServerID() string { return a.node.uid }

// request is a request waiting for the responses of the other nodes.
type request struct {
	typ       wire.RequestType
	numSub    int // responses expected, this node included for 0, 1 and 5
	msgCount  int
	sockets   []adapter.SocketInfo
	ids       []string
	rooms     map[string]struct{}
	responses []json.RawMessage
	done      chan struct{}
	finished  bool
	err       error // set when the adapter closed first
}

// ackRequest routes the responses to a broadcast with acknowledgements.
type ackRequest struct {
	onCount func(int)
	onAck   adapter.AckFunc
}

// errRequestTimeout is the cause of a request context that timed out on
// the adapter's own bound.
var errRequestTimeout = errors.New("request timeout")

// opContext bounds ctx with d (RequestsTimeout when d <= 0).
func (a *Adapter) opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = a.node.opts.RequestsTimeout
	}
	return context.WithTimeoutCause(ctx, d, errRequestTimeout)
}

// clusterError wraps the failure of the cluster part of op.
func clusterError(op string, err error) error {
	if errors.Is(err, adapter.ErrTimeout) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("adapter/redis: %s: %w", op, err)
	}
	return fmt.Errorf("adapter/redis: %s: %w: %w", op, adapter.ErrTimeout, err)
}

func (a *Adapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

func (a *Adapter) publish(ctx context.Context, channel string, payload []byte) error {
	err := a.node.client.Publish(ctx, channel, payload).Err()
	a.node.redisResult(err)
	return err
}

// respond publishes a response in the background.
func (a *Adapter) respond(channel string, payload []byte) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.life, a.node.opts.RequestsTimeout)
		defer cancel()
		if err := a.publish(ctx, channel, payload); err != nil {
			a.log.Debug("adapter/redis: publishing a response", "channel", channel, "err", err)
		}
	}()
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
	if a.isClosed() {
		return ErrClosed
	}
	o := wire.OptsOf(opts)
	msg, err := wire.EncodeBroadcast(a.node.uid, a.name, p, o)
	if err != nil {
		return fmt.Errorf("adapter/redis: encoding broadcast: %w", err)
	}
	ctx, cancel := a.opContext(ctx, 0)
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
	if err := a.publish(pctx, a.ch.Request, msg); err != nil {
		forget()
		return fmt.Errorf("adapter/redis: publishing broadcast: %w", err)
	}
	return nil
}

// ServerCount is the number of servers subscribed to this namespace's
// request channel (PUBSUB NUMSUB, summed over the nodes of a Redis
// Cluster), at least 1.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	var total int64
	switch c := a.node.client.(type) {
	case *goredis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error {
			m, err := shard.PubSubNumSub(ctx, a.ch.Request).Result()
			mu.Lock()
			total += m[a.ch.Request]
			mu.Unlock()
			return err
		})
		if err != nil {
			a.node.redisResult(err)
			return 0, fmt.Errorf("adapter/redis: server count: %w", err)
		}
	default:
		m, err := c.PubSubNumSub(ctx, a.ch.Request).Result()
		if err != nil {
			a.node.redisResult(err)
			return 0, fmt.Errorf("adapter/redis: server count: %w", err)
		}
		total = m[a.ch.Request]
	}
	return max(int(total), 1), nil
}

// startRequest registers req and publishes r for it; the returned
// function unregisters it.
func (a *Adapter) startRequest(ctx context.Context, r *wire.Request, req *request) (func(), error) {
	r.UID = a.node.uid
	r.RequestID = randomID(8)
	msg, err := wire.EncodeRequest(r)
	if err != nil {
		return nil, err
	}
	req.done = make(chan struct{})
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	a.requests[r.RequestID] = req
	a.mu.Unlock()
	unregister := func() {
		a.mu.Lock()
		delete(a.requests, r.RequestID)
		a.mu.Unlock()
	}
	if err := a.publish(ctx, a.ch.Request, msg); err != nil {
		unregister()
		return nil, err
	}
	return unregister, nil
}

// wait waits for req to complete; the error wraps adapter.ErrTimeout when
// ctx expired.
func (a *Adapter) wait(ctx context.Context, req *request) error {
	select {
	case <-req.done:
		a.mu.Lock()
		defer a.mu.Unlock()
		return req.err
	case <-ctx.Done():
		cause := context.Cause(ctx)
		if errors.Is(cause, errRequestTimeout) || errors.Is(cause, context.DeadlineExceeded) {
			a.mu.Lock()
			got, want := req.msgCount, req.numSub
			a.mu.Unlock()
			return fmt.Errorf("%w: %d of %d responses", adapter.ErrTimeout, got, want)
		}
		return ctx.Err()
	}
}

// finish completes req. Called with mu held.
func (req *request) finish() {
	if !req.finished {
		req.finished = true
		close(req.done)
	}
}

// FetchSockets describes the selected sockets of every node.
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
	o := wire.OptsOf(opts)
	req := &request{typ: wire.RemoteFetch, numSub: n, msgCount: 1, sockets: local}
	unregister, err := a.startRequest(ctx, &wire.Request{Type: wire.RemoteFetch, Opts: &o}, req)
	if err != nil {
		return nil, clusterError("fetchSockets", err)
	}
	defer unregister()
	if err := a.wait(ctx, req); err != nil {
		return nil, clusterError("fetchSockets", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return req.sockets, nil
}

// ClusterRooms returns the names of the rooms of every node (socket ids
// included), as Node's adapter.allRooms().
func (a *Adapter) ClusterRooms(ctx context.Context) ([]string, error) {
	local := a.Memory.AllRooms()
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, clusterError("allRooms", err)
	}
	if n <= 1 {
		return local, nil
	}
	req := &request{typ: wire.AllRooms, numSub: n, msgCount: 1, rooms: map[string]struct{}{}}
	for _, r := range local {
		req.rooms[r] = struct{}{}
	}
	unregister, err := a.startRequest(ctx, &wire.Request{Type: wire.AllRooms}, req)
	if err != nil {
		return nil, clusterError("allRooms", err)
	}
	defer unregister()
	if err := a.wait(ctx, req); err != nil {
		return nil, clusterError("allRooms", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(req.rooms))
	for r := range req.rooms {
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
	if a.isClosed() {
		return ErrClosed
	}
	if r.Rooms == nil && (r.Type == wire.RemoteJoin || r.Type == wire.RemoteLeave) {
		r.Rooms = []string{}
	}
	msg, err := wire.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("adapter/redis: %s: %w", op, err)
	}
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	if err := a.publish(ctx, a.ch.Request, msg); err != nil {
		return clusterError(op, err)
	}
	return nil
}

// Close unsubscribes the namespace, fails the requests under way with
// ErrClosed and stops routing acknowledgements. It does not close the
// Redis client.
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

// dispatch handles one message of this namespace's channels. It runs on
// the node's receiving goroutine.
func (a *Adapter) dispatch(m *goredis.Message) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("adapter/redis: panic handling a message", "channel", m.Channel, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if a.isClosed() {
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

func (a *Adapter) ownRequest(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, own := a.requests[id]
	if !own {
		_, own = a.acks[id]
	}
	return own
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
		if r.UID == a.node.uid || a.ownRequest(r.RequestID) {
			return
		}
		ids := a.Memory.Sockets(r.Rooms...)
		a.respond(a.responseChannel(r.UID), wire.EncodeSocketsResponse(r.RequestID, ids))
	case wire.AllRooms:
		if r.UID == a.node.uid || a.ownRequest(r.RequestID) {
			return
		}
		a.respond(a.responseChannel(r.UID), wire.EncodeRoomsResponse(r.RequestID, a.Memory.AllRooms()))
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
		if r.UID == a.node.uid || a.ownRequest(r.RequestID) {
			return
		}
		infos, _ := a.Memory.FetchSockets(ctx, selection())
		a.respond(a.responseChannel(r.UID), wire.EncodeFetchResponse(r.RequestID, infos))
	case wire.ServerSideEmit:
		if r.UID == a.node.uid {
			return
		}
		a.onServerSideEmit(r)
	case wire.BroadcastWithAck:
		if r.UID == a.node.uid || a.ownRequest(r.RequestID) {
			return
		}
		ch, id := a.responseChannel(r.UID), r.RequestID
		p := r.Packet
		p.Namespace = a.name
		_ = a.Memory.BroadcastWithAck(ctx, p, selection(),
			func(n int) { a.respond(ch, wire.EncodeClientCount(id, n)) },
			func(_ string, ack *sio.Packet) {
				msg, err := wire.EncodeBroadcastAck(id, ack)
				if err != nil {
					a.log.Debug("adapter/redis: cannot relay an acknowledgement", "err", err) // the client's ack
					return
				}
				a.respond(ch, msg)
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
		a.respond(a.responseChannel(r.UID), wire.EncodeLegacyResponse(r.RequestID))
	}
}

func (a *Adapter) onResponse(channel string, payload []byte) {
	res, err := wire.DecodeResponse(payload)
	if err != nil {
		a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed response", "channel", channel, "err", err)
		return
	}
	a.mu.Lock()
	if ar := a.acks[res.RequestID]; ar != nil {
		a.mu.Unlock()
		switch res.Type {
		case wire.BroadcastClientCount:
			if ar.onCount != nil {
				ar.onCount(res.ClientCount)
			}
		case wire.BroadcastAck:
			if ar.onAck != nil {
				ar.onAck("", res.Ack)
			}
		}
		return
	}
	defer a.mu.Unlock()
	req := a.requests[res.RequestID]
	if req == nil || req.finished {
		return
	}
	switch req.typ {
	case wire.RemoteFetch:
		req.msgCount++
		if !res.HasSockets {
			return
		}
		for _, raw := range res.Sockets {
			info, err := wire.DecodeSocketInfo(raw)
			if err != nil {
				a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed socket description", "err", err)
				continue
			}
			req.sockets = append(req.sockets, info)
		}
	case wire.AllRooms:
		req.msgCount++
		if !res.HasRooms {
			return
		}
		for _, r := range res.Rooms {
			req.rooms[r] = struct{}{}
		}
	case wire.ServerSideEmit:
		req.msgCount++
		data := res.Data
		if data == nil {
			data = json.RawMessage("null")
		}
		req.responses = append(req.responses, data)
	default:
		return
	}
	if req.msgCount >= req.numSub {
		req.finish()
	}
}
