package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/internal/gopool"
	"github.com/go-sio/sio/parser/sio"
)

// Reason says why a socket disconnected. The values are the reference's,
// and are what the client sees mapped to its own reasons.
type Reason string

// Disconnect reasons.
const (
	ReasonTransportError       Reason = "transport error"
	ReasonTransportClose       Reason = "transport close"
	ReasonForcedClose          Reason = "forced close"
	ReasonPingTimeout          Reason = "ping timeout"
	ReasonParseError           Reason = "parse error"
	ReasonServerShuttingDown   Reason = "server shutting down"
	ReasonForcedServerClose    Reason = "forced server close"
	ReasonClientNamespaceClose Reason = "client namespace disconnect"
	ReasonServerNamespaceClose Reason = "server namespace disconnect"
	// ReasonWriteBufferFull: the client did not take what was sent to it
	// and more than Config.MaxWriteBuffer bytes were held for it. Not a
	// reference reason.
	ReasonWriteBufferFull Reason = "write buffer full"
)

// Errors.
var (
	// ErrDisconnected is returned for operations on a disconnected socket.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrAckTimeout is returned when an acknowledgement did not arrive in
	// time.
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrReservedEvent is returned when emitting a reserved event name.
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrNoAck is returned by Event.Ack when the client asked for none.
	ErrNoAck = errors.New("socketio: no acknowledgement requested")
	// ErrAckSent is returned by a second Event.Ack.
	ErrAckSent = errors.New("socketio: acknowledgement already sent")
	// ErrBadArguments wraps argument binding failures.
	ErrBadArguments = errors.New("socketio: bad event arguments")
)

// Handshake describes the connection of a socket, as the reference's
// socket.handshake does.
type Handshake struct {
	Headers http.Header
	Time    time.Time
	Address string
	XDomain bool
	Secure  bool
	URL     string
	// RawQuery is the query string of the connection's first request;
	// Query parses it.
	RawQuery string
	// Auth is the payload of the client's CONNECT packet (the auth option
	// of socket.io-client; for 2.x clients, the query of the namespace).
	Auth json.RawMessage
}

// Socket is a client's connection to one namespace.
//
// Handlers registered on a socket run one at a time, in the order the
// client sent the packets, on a goroutine that exists while the socket has
// work (never the goroutine that reads the network). Methods are safe for
// concurrent use.
type Socket struct {
	idp    atomic.Pointer[string] // set again when the socket is recovered
	ns     *Namespace
	client *client
	hs     Handshake
	exec   executor

	data atomic.Pointer[any]

	hasOutgoing atomic.Bool // OnAnyOutgoing was called

	// Connection state recovery: pid is the private session id given to
	// the client; recovered is set when the socket took back a
	// disconnected session; while recovering, packets broadcast to the
	// socket are held in pending (under recMu) until the missed ones have
	// been sent.
	pid        string
	recovered  bool
	recovering atomic.Bool
	recMu      sync.Mutex
	pending    []heldPacket
	overflow   bool // more than maxHeld packets were held
	// replayed is the offset of the last stored packet the recovery sent
	// (or the client had): a copy of one at or before it that arrives
	// later is not sent again (a cluster adapter's stream reader may be
	// behind what the restore read).
	replayed atomic.Pointer[string]
	// closed is closed when a socket of a server with recovery on is
	// done disconnecting (its session kept, if it was to be).
	closed     chan struct{}
	closedOnce sync.Once

	// gone is closed once the socket has left its rooms for good. prev is
	// the previous socket of the same namespace on a protocol 4
	// connection, which has the same id: its room cleanup must be over
	// before this one joins any room.
	gone     chan struct{}
	goneOnce sync.Once
	prev     *Socket

	mu              sync.Mutex
	state           uint8          // connecting, connected, closed
	joined          bool           // passed the middlewares
	left            bool           // left its rooms for good: Join does nothing
	handlers        []eventHandler // few per socket: a slice is smaller than a map
	anyHandlers     []func(*Event)
	anyOutgoing     []func(event string, args []any)
	middlewares     []func(*Event) error
	onDisconnect    []func(Reason)
	onDisconnecting []func(Reason)
	acks            map[uint64]func(*sio.Packet)
}

const (
	stateConnecting uint8 = iota
	stateConnected
	stateClosed
)

func newSocket(n *Namespace, c *client, auth json.RawMessage) *Socket {
	ehs := c.conn.Handshake()
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	origin := ehs.Header.Get("Origin")
	id := newSocketID()
	if c.proto == sio.V4 {
		// socket.io-client 2.x computes the id itself, as the reference
		// assigns it: the session id, prefixed with "<nsp>#" outside the
		// main namespace.
		id = c.conn.ID()
		if n.name != "/" {
			id = n.name + "#" + id
		}
	}
	s := &Socket{
		ns:     n,
		client: c,
		hs: Handshake{
			Headers:  ehs.Header,
			Time:     ehs.Time,
			Address:  remoteIP(ehs.RemoteAddr),
			XDomain:  origin != "",
			Secure:   ehs.Secure,
			URL:      ehs.URL,
			RawQuery: ehs.RawQuery,
			Auth:     auth,
		},
	}
	s.idp.Store(&id)
	if n.srv.cfg.ConnectionStateRecovery != nil {
		s.closed = make(chan struct{})
	}
	s.exec.cork = c.conn
	s.exec.busy = &n.srv.busy
	s.exec.owner = s
	return s
}

// remoteIP is the address without its port, as the reference reports it.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Query parses the query string of the connection's first request.
func (h *Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.RawQuery)
	return q
}

// BindAuth decodes the auth payload into v.
func (h *Handshake) BindAuth(v any) error {
	if err := json.Unmarshal(h.Auth, v); err != nil {
		return fmt.Errorf("%w: auth: %v", ErrBadArguments, err)
	}
	return nil
}

// newSocketID returns 20 characters of base64url from 15 random bytes.
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID is the socket's public id: 20 characters, distinct from the
// Engine.IO session id, except for socket.io-client 2.x (protocol 4), whose
// sockets have the ids the client computes and the reference assigns, the
// session id ("<nsp>#<session id>" outside the main namespace).
func (s *Socket) ID() string { return *s.idp.Load() }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns the connection details.
func (s *Socket) Handshake() *Handshake { return &s.hs }

// Transport is the current transport name ("polling" or "websocket").
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Conn returns the Engine.IO session under the socket.
func (s *Socket) Conn() *engineio.Session { return s.client.conn }

// SetData attaches application data to the socket. It is what
// FetchSockets reports (as JSON) on any node.
func (s *Socket) SetData(v any) { s.data.Store(&v) }

// Data returns the value given to SetData, or nil.
func (s *Socket) Data() any {
	if p := s.data.Load(); p != nil {
		return *p
	}
	return nil
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected
}

// On registers the handler of event, replacing any previous one. A
// returned error goes to Config.OnError.
func (s *Socket) On(event string, fn func(*Event) error) {
	s.mu.Lock()
	for i := range s.handlers {
		if s.handlers[i].event == event {
			s.handlers[i].fn = fn
			s.mu.Unlock()
			return
		}
	}
	s.handlers = append(s.handlers, eventHandler{event, fn})
	s.mu.Unlock()
}

// Off removes the handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.handlers = slices.DeleteFunc(s.handlers, func(h eventHandler) bool { return h.event == event })
	s.mu.Unlock()
}

// OnAny registers a handler called for every incoming event, before the
// event's own handler.
func (s *Socket) OnAny(fn func(*Event)) {
	s.mu.Lock()
	s.anyHandlers = append(s.anyHandlers, fn)
	s.mu.Unlock()
}

// OnAnyOutgoing registers a handler called for every event emitted to
// this socket, directly or by a broadcast, before it is sent. For a direct
// emit args are the values given to Emit; for a broadcast they are decoded
// from the packet (JSON numbers as float64, binary as []byte), as every
// recipient gets the same bytes. The handler runs on the emitting
// goroutine: keep it short.
func (s *Socket) OnAnyOutgoing(fn func(event string, args []any)) {
	s.mu.Lock()
	s.anyOutgoing = append(s.anyOutgoing, fn)
	s.hasOutgoing.Store(true)
	s.mu.Unlock()
}

// Use adds a per-packet middleware, run before the handlers of each
// incoming event; an error stops the event and goes to Config.OnError. A
// middleware that refuses an event the client wants acknowledged should
// call ev.Ack itself (with an error value the application defines), or the
// client waits until its own timeout.
func (s *Socket) Use(fn func(*Event) error) {
	s.mu.Lock()
	s.middlewares = append(s.middlewares, fn)
	s.mu.Unlock()
}

// OnDisconnecting registers a handler called when the socket is about to
// disconnect, while it is still in its rooms.
func (s *Socket) OnDisconnecting(fn func(reason Reason)) {
	s.mu.Lock()
	s.onDisconnecting = append(s.onDisconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnect registers a handler called once the socket has
// disconnected.
func (s *Socket) OnDisconnect(fn func(reason Reason)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, fn)
	s.mu.Unlock()
}

// Join adds the socket to rooms. Room names share one space with socket
// ids (every socket is in the room named by its id), so prefix room names
// chosen by users (for example "room:"+name) to keep them from addressing
// another socket's private room. It does nothing once the socket has
// left its rooms on disconnection (or on a refused connection), so that no
// room outlives its sockets.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.left {
		s.ns.adapter.AddAll(s.ID(), rooms...)
	}
}

// leaveAll removes the socket from every room for good. A concurrent Join
// either completes before (and is undone here) or sees left.
func (s *Socket) leaveAll() {
	s.mu.Lock()
	s.left = true
	s.mu.Unlock()
	s.ns.adapter.DelAll(s.ID())
}

// markGone records that the socket has left its rooms for good.
func (s *Socket) markGone() {
	s.goneOnce.Do(func() {
		if s.gone != nil {
			close(s.gone)
		}
	})
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.ns.adapter.Del(s.ID(), room) }

// Rooms returns the socket's rooms (its own id first).
func (s *Socket) Rooms() []string { return s.ns.adapter.Rooms(s.ID()) }

// Emit sends an event to the client. Arguments are encoded as JSON;
// []byte values (also nested in []any and map[string]any) travel as binary
// attachments.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emitter().Emit(event, args...)
}

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx ends.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (*AckReply, error) {
	return s.emitter().EmitWithAck(ctx, event, args...)
}

func (s *Socket) emitter() SocketEmitter { return SocketEmitter{s: s, compress: true} }

// Timeout returns an emitter whose acknowledgements time out after d.
func (s *Socket) Timeout(d time.Duration) SocketEmitter { return s.emitter().Timeout(d) }

// Volatile returns an emitter whose events may be dropped when the
// client cannot take them at once.
func (s *Socket) Volatile() SocketEmitter { return s.emitter().Volatile() }

// Compress returns an emitter with the compression flag set to c.
func (s *Socket) Compress(c bool) SocketEmitter { return s.emitter().Compress(c) }

// To selects the sockets in rooms, except this one.
func (s *Socket) To(rooms ...string) BroadcastOperator {
	return s.ns.To(rooms...).Except(s.ID())
}

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except selects every socket of the namespace but this one and those in
// rooms.
func (s *Socket) Except(rooms ...string) BroadcastOperator {
	return s.ns.Except(append([]string{s.ID()}, rooms...)...)
}

// Broadcast selects every socket of the namespace but this one.
func (s *Socket) Broadcast() BroadcastOperator { return s.ns.Except(s.ID()) }

// Disconnect disconnects the socket from its namespace, and closes the
// whole connection when close is true. The client sees "io server
// disconnect".
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.disconnectAll()
		return
	}
	s.disconnect()
}

func (s *Socket) disconnect() {
	s.mu.Lock()
	connected := s.state == stateConnected
	s.mu.Unlock()
	if !connected {
		return
	}
	_ = s.client.sendPacket(&sio.Packet{Type: sio.Disconnect, Namespace: s.ns.name}, false)
	s.close(ReasonServerNamespaceClose)
}

// SocketEmitter emits to one socket with flags; it is an immutable value.
type SocketEmitter struct {
	s        *Socket
	timeout  time.Duration
	volatile bool
	compress bool
}

// Timeout returns a copy whose acknowledgements time out after d.
func (e SocketEmitter) Timeout(d time.Duration) SocketEmitter { e.timeout = d; return e }

// Volatile returns a volatile copy.
func (e SocketEmitter) Volatile() SocketEmitter { e.volatile = true; return e }

// Compress returns a copy with the compression flag set to c.
func (e SocketEmitter) Compress(c bool) SocketEmitter { e.compress = c; return e }

// Emit sends an event.
func (e SocketEmitter) Emit(event string, args ...any) error {
	p, err := eventPacket(e.s.ns.name, event, args)
	if err != nil {
		return err
	}
	return e.s.send(p, event, args, e.volatile, e.compress)
}

// EmitWithAck sends an event and waits for its acknowledgement until the
// emitter's timeout (if any) or ctx ends.
func (e SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (*AckReply, error) {
	p, err := eventPacket(e.s.ns.name, event, args)
	if err != nil {
		return nil, err
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.timeout, ErrAckTimeout)
		defer cancel()
	}
	ch := make(chan *sio.Packet, 1)
	id := e.s.ns.nextAckID()
	p.ID, p.HasID = id, true
	if !e.s.addAck(id, func(ack *sio.Packet) { ch <- ack }) {
		return nil, ErrDisconnected
	}
	if err := e.s.send(p, event, args, e.volatile, e.compress); err != nil {
		e.s.removeAck(id)
		return nil, err
	}
	// Waiting for the client: write now even if the connection is corked
	// by a burst of handlers (this one may be among them).
	e.s.client.conn.Flush()
	select {
	case ack := <-ch:
		if ack == nil {
			return nil, ErrDisconnected
		}
		return newAckReply(ack)
	case <-ctx.Done():
		e.s.removeAck(id)
		if cause := context.Cause(ctx); errors.Is(cause, ErrAckTimeout) {
			e.s.ns.srv.stats.ackTimeouts.Add(1)
			return nil, ErrAckTimeout
		}
		return nil, ctx.Err()
	}
}

// eventPacket builds an EVENT packet from Go values.
func eventPacket(nsp, event string, args []any) (*sio.Packet, error) {
	if sio.IsReservedEvent(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, atts, err := sio.EncodeArgs(event, args)
	if err != nil {
		return nil, fmt.Errorf("socketio: encoding %q: %w", event, err)
	}
	t := sio.Event
	if len(atts) > 0 {
		t = sio.BinaryEvent
	}
	return &sio.Packet{Type: t, Namespace: nsp, Data: data, Attachments: atts}, nil
}

func (s *Socket) send(p *sio.Packet, event string, args []any, volatile, compress bool) error {
	s.mu.Lock()
	if s.state != stateConnected {
		s.mu.Unlock()
		return ErrDisconnected
	}
	outgoing := s.anyOutgoing
	s.mu.Unlock()
	for _, fn := range outgoing {
		fn(event, args)
	}
	if s.ns.srv.cfg.ConnectionStateRecovery != nil && !p.HasID && !volatile {
		// Stored for recovery like a broadcast to the socket's own room,
		// as the reference does.
		opts := adapter.Options{Rooms: []string{s.ID()}, Flags: adapter.Flags{Compress: compress}}
		return s.ns.adapter.Broadcast(context.Background(), p, opts)
	}
	var arr [1]*engineio.Message
	msgs := encodePacket(arr[:0], p, s.client.proto, compress)
	if volatile {
		s.client.conn.SendVolatile(msgs...)
		return nil
	}
	if err := s.client.conn.Send(msgs...); err != nil {
		return ErrDisconnected
	}
	return nil
}

func (s *Socket) addAck(id uint64, fn func(*sio.Packet)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return false
	}
	if s.acks == nil {
		s.acks = map[uint64]func(*sio.Packet){}
	}
	s.acks[id] = fn
	return true
}

func (s *Socket) removeAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// onPacket handles a packet from the client for this socket.
func (s *Socket) onPacket(p *sio.Packet) {
	switch p.Type {
	case sio.Event, sio.BinaryEvent:
		s.mu.Lock()
		open := s.state != stateClosed
		s.mu.Unlock()
		if open {
			s.exec.runEvent(p)
		}
	case sio.Ack, sio.BinaryAck:
		s.mu.Lock()
		fn := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if fn != nil {
			fn(p)
		}
	case sio.Disconnect:
		// The state changes now; events queued before still run.
		s.close(ReasonClientNamespaceClose)
	}
}

func (s *Socket) onEvent(p *sio.Packet) {
	s.mu.Lock()
	if !s.joined {
		s.mu.Unlock()
		return // the connection was refused
	}
	mws, anys := s.middlewares, s.anyHandlers
	s.mu.Unlock()
	ev, err := newEvent(s, p)
	if err != nil {
		s.ns.srv.reportError(s, err)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.ns.srv.reportError(s, recovered(r))
		}
	}()
	for _, mw := range mws {
		if err := mw(ev); err != nil {
			s.ns.srv.reportError(s, &EventError{Event: ev.name, Err: err})
			return
		}
	}
	for _, fn := range anys {
		fn(ev)
	}
	s.mu.Lock()
	var h func(*Event) error
	for i := range s.handlers {
		if s.handlers[i].event == ev.name {
			h = s.handlers[i].fn
			break
		}
	}
	s.mu.Unlock()
	if h == nil {
		return
	}
	if err := h(ev); err != nil {
		s.ns.srv.reportError(s, &EventError{Event: ev.name, Err: err})
	}
}

// runConnect runs the namespace middlewares, then connects the socket and
// runs the connection handlers. It runs on the socket's executor, so
// events sent by the client meanwhile wait for it.
func (s *Socket) runConnect() {
	n := s.ns
	if prev := s.prev; prev != nil {
		// Same id: the previous socket's DelAll must not undo this one's
		// rooms.
		<-prev.gone
		s.prev = nil
	}
	rec := n.srv.cfg.ConnectionStateRecovery
	var missed []adapter.StoredPacket
	var last string
	if rec != nil && s.client.proto == sio.V5 {
		missed, last = s.tryRestore()
		if !s.recovered {
			s.pid = newSocketID()
		}
	}
	if !s.recovered || !rec.SkipMiddlewares {
		for _, mw := range n.middlewareList() {
			err := safeMiddleware(mw, s)
			if err != nil {
				n.srv.stats.connectErrors.Add(1)
				s.client.remove(s)
				s.mu.Lock()
				s.state = stateClosed
				s.mu.Unlock()
				if s.recovered {
					s.abortRecovery(false)
				}
				s.leaveAll() // rooms a middleware joined
				s.markGone()
				_ = s.client.sendPacket(&sio.Packet{Type: sio.ConnectError, Namespace: n.name, Data: connectErrorData(err, s.client.proto)}, false)
				return
			}
		}
	}
	s.mu.Lock()
	if s.state != stateConnecting || s.client.closedNow() || n.srv.closed.Load() {
		s.state = stateClosed
		s.mu.Unlock()
		s.client.remove(s)
		if s.recovered {
			s.abortRecovery(true)
		}
		s.leaveAll()
		s.markGone()
		return
	}
	s.state = stateConnected
	s.joined = true
	s.mu.Unlock()
	n.add(s)
	n.srv.stats.connects.Add(1)
	n.adapter.AddAll(s.ID(), s.ID())
	reply := &sio.Packet{Type: sio.Connect, Namespace: n.name}
	if s.client.proto == sio.V5 {
		reply.Data, _ = json.Marshal(struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{s.ID(), s.pid})
	}
	if s.recovered {
		n.srv.stats.recoveries.Add(1)
		s.finishRecovery(missed, last, reply)
	} else {
		_ = s.client.sendPacket(reply, false)
	}
	s.client.connected()
	for _, fn := range n.connectionHandlers() {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.ns.srv.reportError(s, recovered(r))
				}
			}()
			fn(s)
		}()
	}
	if n.srv.closed.Load() {
		// The server began shutting down after the check above, perhaps
		// without seeing this socket.
		s.close(ReasonServerShuttingDown)
	}
}

func safeMiddleware(mw Middleware, s *Socket) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.ns.srv.reportError(s, recovered(r))
			err = errors.New("middleware error")
		}
	}()
	return mw(s)
}

// connectErrorData is the CONNECT_ERROR payload for a middleware error.
func connectErrorData(err error, proto sio.Protocol) json.RawMessage {
	var ce *ConnectError
	msg := err.Error()
	var data any
	if errors.As(err, &ce) {
		msg, data = ce.Message, ce.Data
	}
	if proto == sio.V4 {
		// socket.io-client 2.x receives err.data || err.message.
		if data != nil {
			if b, err := json.Marshal(data); err == nil {
				return b
			}
		}
		b, _ := json.Marshal(msg)
		return b
	}
	b, err := json.Marshal(struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{msg, data})
	if err != nil {
		b, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{msg})
	}
	return b
}

// close disconnects the socket for reason: disconnecting handlers run
// while it is still in its rooms, then it leaves them, then disconnect
// handlers run. Pending acknowledgements fail at once.
func (s *Socket) close(reason Reason) {
	s.mu.Lock()
	if s.state != stateConnected {
		wasConnecting := s.state == stateConnecting
		s.state = stateClosed
		s.mu.Unlock()
		if wasConnecting {
			s.client.remove(s)
		}
		return
	}
	s.state = stateClosed
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	s.ns.srv.stats.disconnected(reason)
	for _, fn := range acks {
		fn(nil)
	}
	// The namespace is free on the connection at once: a CONNECT right
	// behind the DISCONNECT (socket.disconnect().connect() in a client)
	// makes a new socket instead of being taken for a duplicate.
	s.client.remove(s)
	s.exec.run(func() {
		// The handlers are read here, on the executor: a connection
		// handler still running when the connection closed has registered
		// them by now.
		s.mu.Lock()
		disconnecting, disconnect := s.onDisconnecting, s.onDisconnect
		s.mu.Unlock()
		for _, fn := range disconnecting {
			s.safeCall(func() { fn(reason) })
		}
		var rooms []string
		keep := s.pid != "" && recoverable(reason)
		if keep {
			rooms = s.Rooms()
		}
		s.leaveAll()
		s.ns.remove(s)
		s.markGone()
		if keep {
			// Kept once the socket has left: a client recovering it at
			// once cannot have its rooms undone by this cleanup.
			s.persist(rooms)
		}
		s.doneClosing()
		for _, fn := range disconnect {
			s.safeCall(func() { fn(reason) })
		}
	})
}

// doneClosing signals that the socket is done disconnecting.
func (s *Socket) doneClosing() {
	if s.closed != nil {
		s.closedOnce.Do(func() { close(s.closed) })
	}
}

func (s *Socket) safeCall(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.ns.srv.reportError(s, recovered(r))
		}
	}()
	fn()
}

// info describes the socket for FetchSockets.
func (s *Socket) info() adapter.SocketInfo {
	hs := struct {
		Headers map[string]string `json:"headers"`
		Time    string            `json:"time"`
		Address string            `json:"address"`
		XDomain bool              `json:"xdomain"`
		Secure  bool              `json:"secure"`
		Issued  int64             `json:"issued"`
		URL     string            `json:"url"`
		Query   map[string]string `json:"query"`
		Auth    json.RawMessage   `json:"auth"`
	}{
		Headers: map[string]string{},
		Time:    s.hs.Time.UTC().Format("Mon Jan 02 2006 15:04:05 GMT+0000") + " (Coordinated Universal Time)",
		Address: s.hs.Address,
		XDomain: s.hs.XDomain,
		Secure:  s.hs.Secure,
		Issued:  s.hs.Time.UnixMilli(),
		URL:     s.hs.URL,
		Query:   map[string]string{},
		Auth:    s.hs.Auth,
	}
	for k, v := range s.hs.Headers {
		if len(v) > 0 {
			hs.Headers[lowerASCII(k)] = strings.Join(v, ", ")
		}
	}
	if host := s.client.conn.Handshake().Host; host != "" {
		hs.Headers["host"] = host
	}
	for k, v := range s.hs.Query() {
		if len(v) > 0 {
			hs.Query[k] = v[0]
		}
	}
	hsJSON, _ := json.Marshal(hs)
	data, err := json.Marshal(s.Data())
	if err != nil {
		data = json.RawMessage("null")
	}
	return adapter.SocketInfo{ID: s.ID(), Handshake: hsJSON, Rooms: s.Rooms(), Data: data}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

type eventHandler struct {
	event string
	fn    func(*Event) error
}

// executor runs functions, and the socket's events, one at a time in
// order, on a goroutine that exists only while there is work.
type executor struct {
	mu      sync.Mutex
	q       []task
	head    int // q[head:] is waiting
	running bool
	// owner handles the queued events (the Socket).
	owner interface{ onEvent(*sio.Packet) }
	// cork, when set, holds the connection's writes while more work is
	// queued, so the packets of a burst of handlers leave in one write.
	cork interface {
		Cork()
		Uncork()
	}
	// busy, when set, counts the executors running (Server.Shutdown
	// waits for none).
	busy *atomic.Int64
}

// task is a function to run, or an event for onEvent when p is set.
type task struct {
	f func()
	p *sio.Packet
}

// keptQueue is the largest queue capacity an idle executor keeps for its
// next burst.
const keptQueue = 8

func (e *executor) run(f func()) { e.push(task{f: f}) }

func (e *executor) runEvent(p *sio.Packet) { e.push(task{p: p}) }

func (e *executor) push(t task) {
	e.mu.Lock()
	if e.head > 0 && len(e.q) == cap(e.q) {
		// Reuse the room of the tasks already taken rather than grow.
		n := copy(e.q, e.q[e.head:])
		clear(e.q[n:])
		e.q, e.head = e.q[:n], 0
	}
	e.q = append(e.q, t)
	if e.running {
		e.mu.Unlock()
		return
	}
	e.running = true
	e.mu.Unlock()
	if e.busy != nil {
		e.busy.Add(1)
	}
	gopool.Go(e.loop)
}

func (e *executor) loop() {
	if e.busy != nil {
		defer e.busy.Add(-1) // last: after the Uncork
	}
	corked := false
	defer func() {
		if corked {
			e.cork.Uncork()
		}
	}()
	for {
		e.mu.Lock()
		if e.head == len(e.q) {
			if cap(e.q) > keptQueue {
				e.q = nil
			} else {
				e.q = e.q[:0]
			}
			e.head = 0
			e.running = false
			e.mu.Unlock()
			return
		}
		t := e.q[e.head]
		e.q[e.head] = task{}
		e.head++
		more := e.head < len(e.q)
		e.mu.Unlock()
		if more && !corked && e.cork != nil {
			e.cork.Cork()
			corked = true
		}
		if t.p != nil {
			e.owner.onEvent(t.p)
		} else {
			t.f()
		}
		if corked {
			e.mu.Lock()
			drained := e.head == len(e.q)
			e.mu.Unlock()
			if drained {
				e.cork.Uncork()
				corked = false
			}
		}
	}
}
