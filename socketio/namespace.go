package socketio

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/internal/gopool"
	"github.com/go-sio/sio/parser/sio"
)

// Namespace is a communication channel multiplexed over the connections:
// it has its own middlewares, connection handlers, sockets and rooms (held
// by its adapter).
type Namespace struct {
	srv     *Server
	name    string
	parent  *ParentNamespace
	adapter adapter.Adapter
	ackIDs  atomic.Uint64

	mu          sync.RWMutex
	sockets     map[string]*Socket
	pids        map[string]*Socket // by private session id, with recovery on
	middlewares []Middleware
	onConn      []func(*Socket)
}

func newNamespace(srv *Server, name string, parent *ParentNamespace) *Namespace {
	n := &Namespace{srv: srv, name: name, parent: parent, sockets: map[string]*Socket{}}
	n.adapter = srv.cfg.Adapter(nsEmitter{n})
	return n
}

// Name is the namespace name.
func (n *Namespace) Name() string { return n.name }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() adapter.Adapter { return n.adapter }

// Use adds a middleware, run in order for each connecting client.
func (n *Namespace) Use(mw Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, mw)
	n.mu.Unlock()
}

// OnConnection adds a handler called for each connected socket. Events the
// client sends wait until the connection handlers have returned, so the
// handlers registered there see every event.
func (n *Namespace) OnConnection(fn func(*Socket)) {
	n.mu.Lock()
	n.onConn = append(n.onConn, fn)
	n.mu.Unlock()
}

func (n *Namespace) middlewareList() []Middleware {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.parent != nil {
		return append(n.parent.middlewareList(), n.middlewares...)
	}
	return n.middlewares
}

func (n *Namespace) connectionHandlers() []func(*Socket) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.parent != nil {
		return append(n.parent.connectionHandlers(), n.onConn...)
	}
	return n.onConn
}

// Sockets returns the local connected sockets.
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// Socket returns the local socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.ID()] = s
	if s.pid != "" {
		if n.pids == nil {
			n.pids = map[string]*Socket{}
		}
		n.pids[s.pid] = s
	}
	n.mu.Unlock()
}

// byPID returns the local socket holding the private session id pid.
func (n *Namespace) byPID(pid string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.pids[pid]
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.ID()] == s {
		delete(n.sockets, s.ID())
	}
	if s.pid != "" && n.pids[s.pid] == s {
		delete(n.pids, s.pid)
	}
	empty := len(n.sockets) == 0
	n.mu.Unlock()
	if empty && n.parent != nil && n.srv.cfg.CleanupEmptyChildNamespaces {
		n.parent.removeChild(n)
	}
}

func (n *Namespace) nextAckID() uint64 { return n.ackIDs.Add(1) - 1 }

func (n *Namespace) operator() BroadcastOperator {
	return BroadcastOperator{ns: n, flags: adapter.Flags{Compress: true}}
}

// To selects the sockets in rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// Except excludes the sockets in rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.operator().Except(rooms...) }

// Volatile marks the broadcast as volatile.
func (n *Namespace) Volatile() BroadcastOperator { return n.operator().Volatile() }

// Local restricts the broadcast to this node.
func (n *Namespace) Local() BroadcastOperator { return n.operator().Local() }

// Compress sets the compression flag.
func (n *Namespace) Compress(c bool) BroadcastOperator { return n.operator().Compress(c) }

// Timeout sets the acknowledgement timeout.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.operator().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// FetchSockets describes the sockets of the namespace, on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(ctx context.Context, rooms ...string) error {
	return n.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(ctx context.Context, rooms ...string) error {
	return n.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return n.operator().DisconnectSockets(ctx, close)
}

// nsEmitter implements adapter.Namespace for a Namespace.
type nsEmitter struct{ n *Namespace }

func (e nsEmitter) Name() string { return e.n.name }

// Recovery implements adapter.RecoveryNamespace.
func (e nsEmitter) Recovery() adapter.RecoveryConfig {
	if r := e.n.srv.cfg.ConnectionStateRecovery; r != nil {
		return adapter.RecoveryConfig{MaxDisconnectionDuration: r.MaxDisconnectionDuration, MaxBytes: r.MaxBytes}
	}
	return adapter.RecoveryConfig{}
}

// encoded is a packet encoded once per protocol, for every recipient.
type encoded struct {
	p        *sio.Packet
	compress bool
	v5, v4   []*engineio.Message
}

func (enc *encoded) forProto(proto sio.Protocol) []*engineio.Message {
	if proto == sio.V4 {
		if enc.v4 == nil {
			enc.v4 = encodePacket(nil, enc.p, sio.V4, enc.compress)
		}
		return enc.v4
	}
	if enc.v5 == nil {
		enc.v5 = encodePacket(nil, enc.p, sio.V5, enc.compress)
	}
	return enc.v5
}

func (e nsEmitter) Send(ids []string, p *sio.Packet, flags adapter.Flags) {
	e.send(ids, p, flags, nil)
}

// fanoutPart is the number of recipients per goroutine when a broadcast is
// large enough to be written by several goroutines at once.
const fanoutPart = 256

func (e nsEmitter) send(ids []string, p *sio.Packet, flags adapter.Flags, perSocket func(*Socket)) int {
	enc := &encoded{p: p, compress: flags.Compress}
	e.n.mu.RLock()
	socks := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if s := e.n.sockets[id]; s != nil {
			socks = append(socks, s)
		}
	}
	e.n.mu.RUnlock()
	deliver := func(socks []*Socket) int {
		sent := 0
		for _, s := range socks {
			if flags.Offset != "" && s.alreadyReplayed(flags.Offset) {
				continue
			}
			if perSocket != nil {
				perSocket(s)
			}
			if s.hasOutgoing.Load() {
				s.notifyOutgoing(p)
			}
			msgs := enc.forProto(s.client.proto)
			if s.recovering.Load() && s.hold(msgs, flags) {
				sent++
				continue
			}
			if flags.Volatile {
				s.client.conn.SendVolatile(msgs...)
			} else if s.client.conn.Send(msgs...) != nil {
				continue
			}
			if perSocket != nil {
				// The caller waits for acknowledgements: write now even
				// on a connection corked by a burst of handlers.
				s.client.conn.Flush()
			}
			sent++
		}
		return sent
	}
	parts := min(runtime.GOMAXPROCS(0), len(socks)/fanoutPart)
	if parts < 2 {
		return deliver(socks)
	}
	// Large broadcast: encode for every protocol present first (the
	// encoding is then read-only), and write from several goroutines, so
	// the last recipient does not wait for a thousand writes before it.
	// The call returns when every part is written: broadcasts from one
	// goroutine reach each recipient in order.
	enc.forProto(sio.V5)
	for _, s := range socks {
		if s.client.proto == sio.V4 {
			enc.forProto(sio.V4)
			break
		}
	}
	size := (len(socks) + parts - 1) / parts
	var wg sync.WaitGroup
	var total atomic.Int64
	for i := size; i < len(socks); i += size {
		part := socks[i:min(i+size, len(socks))]
		wg.Add(1)
		gopool.Go(func() {
			defer wg.Done()
			total.Add(int64(deliver(part)))
		})
	}
	total.Add(int64(deliver(socks[:size])))
	wg.Wait()
	return int(total.Load())
}

func (e nsEmitter) SendWithAck(ids []string, p *sio.Packet, flags adapter.Flags, onAck adapter.AckFunc) int {
	id := e.n.nextAckID()
	cp := *p
	cp.ID, cp.HasID = id, true
	return e.send(ids, &cp, flags, func(s *Socket) {
		sid := s.ID()
		s.addAck(id, func(ack *sio.Packet) {
			if ack != nil {
				onAck(sid, ack)
			}
		})
	})
}

func (e nsEmitter) Disconnect(ids []string, close bool) {
	for _, id := range ids {
		if s := e.n.Socket(id); s != nil {
			s.Disconnect(close)
		}
	}
}

func (e nsEmitter) Socket(id string) (adapter.SocketInfo, bool) {
	s := e.n.Socket(id)
	if s == nil {
		return adapter.SocketInfo{}, false
	}
	return s.info(), true
}

// ParentNamespace creates child namespaces on demand for the names it
// matches; the children share its middlewares and connection handlers.
type ParentNamespace struct {
	srv   *Server
	match func(name string, auth json.RawMessage) bool

	mu          sync.RWMutex
	middlewares []Middleware
	onConn      []func(*Socket)
	children    map[string]*Namespace
}

// Use adds a middleware to every child.
func (p *ParentNamespace) Use(mw Middleware) {
	p.mu.Lock()
	p.middlewares = append(p.middlewares, mw)
	p.mu.Unlock()
}

// OnConnection adds a connection handler to every child.
func (p *ParentNamespace) OnConnection(fn func(*Socket)) {
	p.mu.Lock()
	p.onConn = append(p.onConn, fn)
	p.mu.Unlock()
}

// Children returns the child namespaces created so far.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*Namespace, 0, len(p.children))
	for _, c := range p.children {
		out = append(out, c)
	}
	return out
}

// Emit sends an event to every socket of every child.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	for _, c := range p.Children() {
		if err := c.Emit(event, args...); err != nil {
			return err
		}
	}
	return nil
}

func (p *ParentNamespace) middlewareList() []Middleware {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.middlewares)
}

func (p *ParentNamespace) connectionHandlers() []func(*Socket) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.onConn)
}

func (p *ParentNamespace) child(name string) *Namespace {
	srv := p.srv
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if n := srv.nsps[name]; n != nil {
		return n
	}
	n := newNamespace(srv, name, p)
	srv.nsps[name] = n
	p.mu.Lock()
	p.children[name] = n
	p.mu.Unlock()
	return n
}

func (p *ParentNamespace) removeChild(n *Namespace) {
	p.mu.Lock()
	if p.children[n.name] == n {
		delete(p.children, n.name)
	}
	p.mu.Unlock()
	p.srv.removeNamespace(n)
}
