package engineio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sio/sio/internal/gopool"
	"github.com/go-sio/sio/parser/eio"
	"github.com/go-sio/sio/transport/websocket"
)

// Reason says why a session closed. The values are the reference's.
type Reason string

// Close reasons.
const (
	ReasonTransportClose Reason = "transport close"
	ReasonTransportError Reason = "transport error"
	ReasonPingTimeout    Reason = "ping timeout"
	ReasonForcedClose    Reason = "forced close"
	ReasonParseError     Reason = "parse error"
	// ReasonWriteBufferFull: the client did not take what was sent to it
	// fast enough, and more than Config.MaxWriteBuffer bytes were held for
	// it (a slow consumer). Not a reference reason.
	ReasonWriteBufferFull Reason = "write buffer full"
)

// Handshake is what a session keeps of the request that opened it.
type Handshake struct {
	Header     http.Header
	RawQuery   string // the query string of the handshake request
	RemoteAddr string
	Host       string
	URL        string // request URI
	Secure     bool
	Time       time.Time
}

const (
	stateOpen uint8 = iota
	stateClosing
	stateClosed
)

// Session is one Engine.IO connection, whatever its transport. Its methods
// are safe for concurrent use.
type Session struct {
	srv *Server
	id  string
	rev eio.Revision
	hs  Handshake

	data atomic.Pointer[any]
	hb   wheelEntry // heartbeat deadline, guarded by srv.wheel

	mu         sync.Mutex
	state      uint8
	websocket  bool            // current transport
	ws         *websocket.Conn // current WebSocket, when websocket
	probe      *websocket.Conn // WebSocket being upgraded to
	upgrading  bool
	upgraded   bool
	awaitPong  bool
	flushing   bool
	corked     int  // Cork depth
	wsSetup    bool // WebSocket not attached yet: writes are held, flush inline
	queue      []*Message
	queued     int           // bytes in queue (see msgBytes)
	pollWait   chan struct{} // set while a GET waits for packets
	getActive  bool
	postActive bool
	noB64      bool   // revision 3: client accepts binary payloads
	jsonp      string // JSONP callback index, "" for XHR
	upTimer    *time.Timer
	noopTimer  *time.Timer
	closeTimer *time.Timer
	reason     Reason

	inMu        sync.Mutex
	inbox       []inEvent
	dispatching bool
	closePosted bool
}

// keptBatch is the largest inbox or queue capacity a session keeps for
// its next burst once it has delivered or written one.
const keptBatch = 8

type inEvent struct {
	data   []byte
	binary bool
	close  bool
	reason Reason
	err    error
}

// Query parses the query string of the handshake request (it is kept
// unparsed: most sessions never read it again).
func (h *Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.RawQuery)
	return q
}

// ID is the session id (sid).
func (s *Session) ID() string { return s.id }

// Protocol is the Engine.IO protocol revision, 3 or 4.
func (s *Session) Protocol() int { return int(s.rev) }

// Handshake returns the request data the session was opened with.
func (s *Session) Handshake() *Handshake { return &s.hs }

// Transport is the current transport name.
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.websocket {
		return WebSocket
	}
	return Polling
}

// SetData attaches a value to the session (typically in Handler.OnOpen).
func (s *Session) SetData(v any) { s.data.Store(&v) }

// Data returns the value given to SetData, or nil.
func (s *Session) Data() any {
	if p := s.data.Load(); p != nil {
		return *p
	}
	return nil
}

// Send queues m for the client. It never blocks on the network: the
// message is written at once on a WebSocket (what the socket does not take
// is held by the poller), or held for the next poll. It returns
// ErrSessionClosed once the session is closing.
//
// The bytes held for a client (its queue, and what its WebSocket holds)
// are bounded by Config.MaxWriteBuffer: a Send that would go past it
// closes the session with ReasonWriteBufferFull instead (and returns
// ErrSessionClosed). A Send to a client for which nothing is held always
// queues, whatever the size of the messages.
//
// Several messages given in one call are queued together: no message of
// another call comes between them.
func (s *Session) Send(msgs ...*Message) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if held := s.heldLocked(); held > 0 && held+msgBytes(msgs) > s.srv.cfg.MaxWriteBuffer {
		s.writeBufferFull(held)
		return ErrSessionClosed
	}
	s.push(msgs...)
	s.kick()
	return nil
}

// SendVolatile is Send for messages that may be lost: they are dropped,
// returning false, when the transport cannot take them at once (a polling
// client with no poll waiting, an upgrade in progress, a WebSocket with
// writes already pending or more than volatileSlack bytes held).
func (s *Session) SendVolatile(msgs ...*Message) bool {
	s.mu.Lock()
	if s.state != stateOpen || s.upgrading || len(s.queue) > 0 || s.flushing ||
		(s.websocket && (s.ws == nil || s.ws.Buffered() > volatileSlack)) ||
		(!s.websocket && s.pollWait == nil) {
		s.mu.Unlock()
		s.srv.stats.volatileDropped.Add(1)
		return false
	}
	s.push(msgs...)
	s.kick()
	return true
}

// volatileSlack is the most bytes a WebSocket may hold for its client
// (what the kernel did not take yet) for a volatile message to be sent.
const volatileSlack = 16 << 10

// msgBytes is what msgs count against Config.MaxWriteBuffer: their
// payloads and a few bytes of framing each.
func msgBytes(msgs []*Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.data) + 2
	}
	return n
}

// push appends to the queue. Called with mu held.
func (s *Session) push(msgs ...*Message) {
	s.queue = append(s.queue, msgs...)
	s.queued += msgBytes(msgs)
}

// take empties the queue and returns what it held. Called with mu held.
func (s *Session) take() []*Message {
	q := s.queue
	s.queue, s.queued = nil, 0
	return q
}

// heldLocked is the number of bytes held for the client: queued, and not
// yet taken by the kernel from its WebSocket. Called with mu held.
func (s *Session) heldLocked() int {
	n := s.queued
	if s.websocket && s.ws != nil {
		n += s.ws.Buffered()
	}
	return n
}

// Buffered is the number of bytes held for the client: queued for it, and
// written to its WebSocket but not yet taken by the kernel. It is what
// Config.MaxWriteBuffer bounds.
func (s *Session) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heldLocked()
}

// writeBufferFull closes a session whose client does not take what is
// sent to it. The close is logged once, at Debug level, as every close a
// client can cause at will; Stats counts them by reason. Called with mu
// held; releases it.
func (s *Session) writeBufferFull(held int) {
	err := fmt.Errorf("%w: %d bytes held for the client (%s), MaxWriteBuffer %d",
		ErrWriteBufferFull, held, s.transportLocked(), s.srv.cfg.MaxWriteBuffer)
	s.closeLocked(ReasonWriteBufferFull, err)
}

func (s *Session) transportLocked() string {
	if s.websocket {
		return WebSocket
	}
	return Polling
}

// SendText sends a text message.
func (s *Session) SendText(data []byte) error { return s.Send(NewTextMessage(data)) }

// SendBinary sends a binary message.
func (s *Session) SendBinary(data []byte) error { return s.Send(NewBinaryMessage(data)) }

// Close closes the session gracefully: queued packets are delivered first,
// then the transport is closed. The handler sees ReasonForcedClose.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return nil
	}
	s.state = stateClosing
	s.reason = ReasonForcedClose
	if s.websocket {
		// What is queued (or being written by a flush under way) goes
		// out first, corked or not; the flush then closes the session.
		s.kickf(true)
		return nil
	}
	// A polling client gets what is queued and the close packet on its
	// pending or next poll (waited for up to 30 s, as the reference does).
	if s.pollWait != nil {
		close(s.pollWait)
		s.pollWait = nil
	}
	s.closeTimer = time.AfterFunc(30*time.Second, func() {
		s.mu.Lock()
		s.closeLocked(ReasonForcedClose, nil)
	})
	s.mu.Unlock()
	return nil
}

// kick starts delivery of the queue. Called with mu held; releases it.
func (s *Session) kick() { s.kickf(false) }

// kickf is kick; force writes even when corked.
func (s *Session) kickf(force bool) {
	if !s.websocket {
		if s.pollWait != nil {
			close(s.pollWait)
			s.pollWait = nil
		}
		s.mu.Unlock()
		return
	}
	if s.flushing || s.ws == nil || (!force && s.corked > 0 && len(s.queue) < corkLimit) {
		s.mu.Unlock()
		return
	}
	s.flushing = true
	if s.ws.Evented() || s.wsSetup {
		s.flush()
		return
	}
	s.mu.Unlock()
	go func() {
		s.mu.Lock()
		s.flush()
	}()
}

// corkLimit is the queue length past which a corked session writes anyway.
const corkLimit = 64

// Cork holds WebSocket writes of the session in its queue until the
// matching Uncork, so that the packets of several handlers go out in one
// write. Cork and Uncork nest. Polling is not affected (a poll takes the
// whole queue anyway). A corked session still writes once corkLimit
// packets are queued.
func (s *Session) Cork() {
	s.mu.Lock()
	s.corked++
	s.mu.Unlock()
}

// Uncork releases one Cork; the last one writes what is queued.
func (s *Session) Uncork() {
	s.mu.Lock()
	if s.corked > 0 {
		s.corked--
	}
	if s.corked == 0 && len(s.queue) > 0 && s.state != stateClosed {
		s.kick()
		return
	}
	s.mu.Unlock()
}

// Flush writes what is queued now, corked or not.
func (s *Session) Flush() {
	s.mu.Lock()
	if len(s.queue) == 0 || s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.kickf(true)
}

// flush writes the queue to the WebSocket in batches, one write per batch.
// Called with mu held and flushing set; releases mu.
func (s *Session) flush() {
	var arr [8][]byte
	for len(s.queue) > 0 && s.ws != nil && s.state != stateClosed {
		batch := s.take()
		ws := s.ws
		deflate, threshold := s.deflate(ws)
		s.mu.Unlock()
		frames := arr[:0]
		if len(batch) > len(arr) {
			frames = make([][]byte, 0, len(batch))
		}
		for _, m := range batch {
			frames = append(frames, m.frame(s.rev, deflate, threshold))
		}
		err := ws.WriteFrames(frames)
		s.srv.stats.sent(s, batch, err)
		clear(frames)
		s.mu.Lock()
		if err == nil {
			clear(batch)
			if s.queue == nil && cap(batch) <= keptBatch {
				s.queue = batch[:0] // for the next packets
			}
		}
		if err != nil {
			if errors.Is(err, websocket.ErrWriteBufferFull) && s.ws == ws && s.state != stateClosed {
				s.flushing = false
				s.writeBufferFull(s.heldLocked() + msgBytes(batch))
				return
			}
			break // the connection's close notification ends the session
		}
	}
	s.flushing = false
	if s.state == stateClosing && s.websocket {
		s.closeLocked(s.reason, nil) // Close waited for the queue
		return
	}
	s.mu.Unlock()
}

func (s *Session) deflate(ws *websocket.Conn) (bool, int) {
	if pd := s.srv.cfg.PerMessageDeflate; pd != nil && ws.Compression() {
		return true, pd.Threshold
	}
	return false, 0
}

// closeLocked ends the session. Called with mu held; releases it.
func (s *Session) closeLocked(reason Reason, err error) {
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	s.reason = reason
	s.srv.stats.sessionClosed(s.websocket, reason)
	s.stopUpgradeLocked()
	if s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	ws, probe := s.ws, s.probe
	s.ws, s.probe = nil, nil
	if s.pollWait != nil {
		close(s.pollWait) // the waiting poll answers with the close packet
		s.pollWait = nil
	}
	if s.websocket || !s.getActive {
		s.take()
	}
	s.mu.Unlock()

	s.srv.wheel.cancel(&s.hb)
	s.srv.removeSession(s)
	s.srv.logClose(s, reason, err)
	// The handler hears of the close first: in blocking mode the close
	// frame may wait (up to the write timeout) for a client that stopped
	// reading.
	s.post(inEvent{close: true, reason: reason, err: err})
	if probe != nil {
		_ = probe.CloseNow()
	}
	if ws != nil {
		switch reason {
		case ReasonForcedClose:
			_ = ws.Close(websocket.CloseNormal, "")
		case ReasonWriteBufferFull:
			// Nothing more reaches this client: what is held is dropped.
			_ = ws.CloseNow()
		default:
			_ = ws.Close(0, "")
		}
	}
}

// fail closes the session for a reason; safe to call without mu.
func (s *Session) fail(reason Reason, err error) {
	s.mu.Lock()
	s.closeLocked(reason, err)
}

func (s *Session) stopUpgradeLocked() {
	s.upgrading = false
	if s.upTimer != nil {
		s.upTimer.Stop()
		s.upTimer = nil
	}
	if s.noopTimer != nil {
		s.noopTimer.Stop()
		s.noopTimer = nil
	}
}

// post adds an event to the inbox and makes sure a goroutine delivers it.
func (s *Session) post(ev inEvent) {
	s.inMu.Lock()
	if s.closePosted {
		// A message read while the session was closing: OnClose is the
		// last call.
		s.inMu.Unlock()
		return
	}
	s.closePosted = ev.close
	s.inbox = append(s.inbox, ev)
	if s.dispatching {
		s.inMu.Unlock()
		return
	}
	s.dispatching = true
	s.inMu.Unlock()
	gopool.Go(s.dispatch)
}

// offerText offers a text message to the handler's TextTaker on the
// calling goroutine (the poller's, a WebSocket reader's or a POST's) when
// nothing of the session waits for delivery or is being delivered; it
// reports whether the handler took the message.
func (s *Session) offerText(data []byte) bool {
	t := s.srv.taker
	if t == nil {
		return false
	}
	s.inMu.Lock()
	if s.dispatching || s.closePosted {
		s.inMu.Unlock()
		return false
	}
	s.dispatching = true // a delivery runs: nothing else is delivered meanwhile
	s.inMu.Unlock()
	took := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				took = true
				s.handlerPanicked(r, true)
			}
		}()
		took = t.TakeText(s, data)
	}()
	s.inMu.Lock()
	if len(s.inbox) == 0 {
		s.dispatching = false
		s.inMu.Unlock()
		return took
	}
	// Events posted meanwhile (a close): deliver them as post would have.
	s.inMu.Unlock()
	gopool.Go(s.dispatch)
	return took
}

// dispatch delivers inbox events in order, then exits: no goroutine stays
// behind for an idle session.
func (s *Session) dispatch() {
	var spare []inEvent
	for {
		s.inMu.Lock()
		batch := s.inbox
		if len(batch) == 0 {
			if batch == nil {
				s.inbox = spare
			}
			s.dispatching = false
			s.inMu.Unlock()
			return
		}
		s.inbox = spare
		s.inMu.Unlock()
		for i := range batch {
			s.deliver(&batch[i])
			batch[i] = inEvent{}
		}
		spare = nil
		if cap(batch) > 1 && cap(batch) <= keptBatch {
			spare = batch[:0] // not a single event's: idle sessions keep nothing
		}
	}
}

func (s *Session) deliver(ev *inEvent) {
	if ev.close {
		defer s.srv.active.Add(-1) // after OnClose returned, or panicked
	}
	defer func() {
		if r := recover(); r != nil {
			s.handlerPanicked(r, !ev.close)
		}
	}()
	h := s.srv.handler
	switch {
	case ev.close:
		h.OnClose(s, ev.reason, ev.err)
	case ev.binary:
		h.OnBinary(s, ev.data)
	default:
		h.OnText(s, ev.data)
	}
}

// handlerPanicked counts and logs a handler's panic, and closes the
// session when fail is set.
func (s *Session) handlerPanicked(r any, fail bool) {
	s.srv.stats.panics.Add(1)
	s.srv.cfg.Logger.Error("engineio: handler panic", "sid", s.id, "panic", r, "stack", string(debug.Stack()))
	if fail {
		s.fail(ReasonTransportError, fmt.Errorf("engineio: handler panic: %v", r))
	}
}

var errHeartbeatDirection = errors.New("engineio: invalid heartbeat direction")

// onPacket handles a packet received on the session's transport.
// owned tells whether p.Data may be retained (otherwise it is copied).
func (s *Session) onPacket(p eio.Packet, owned bool) {
	switch p.Type {
	case eio.Message:
		s.srv.stats.received(s, len(p.Data))
		data := p.Data
		if !owned {
			data = append([]byte(nil), data...)
		}
		s.mu.Lock()
		open := s.state == stateOpen
		s.mu.Unlock()
		if open && (p.Binary || !s.offerText(data)) {
			s.post(inEvent{data: data, binary: p.Binary})
		}
	case eio.Ping:
		if s.rev != eio.Rev3 {
			s.fail(ReasonTransportError, errHeartbeatDirection)
			return
		}
		s.mu.Lock()
		if s.state != stateOpen {
			s.mu.Unlock()
			return
		}
		// Re-armed under mu and only while open, as for pongs: a closed
		// session must stay off the wheel.
		s.srv.wheel.schedule(&s.hb, s.srv.cfg.PingInterval+s.srv.cfg.PingTimeout)
		s.push(msgPong)
		s.kick()
	case eio.Pong:
		if s.rev == eio.Rev3 {
			s.fail(ReasonTransportError, errHeartbeatDirection)
			return
		}
		s.mu.Lock()
		if s.state == stateOpen {
			s.awaitPong = false
			s.srv.wheel.schedule(&s.hb, s.srv.cfg.PingInterval)
		}
		s.mu.Unlock()
	case eio.Close:
		s.fail(ReasonTransportClose, nil)
	default:
		// open, upgrade and noop mean nothing on an established transport.
	}
}

// heartbeat fires from the wheel.
func (s *Session) heartbeat() {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if s.rev == eio.Rev3 || s.awaitPong {
		if s.ws != nil && !s.ws.Evented() {
			// Its close frame may wait behind a write blocked on this
			// unresponsive client: not on the wheel, which serves every
			// session.
			s.mu.Unlock()
			go s.fail(ReasonPingTimeout, nil)
			return
		}
		s.closeLocked(ReasonPingTimeout, nil)
		return
	}
	s.awaitPong = true
	s.srv.wheel.schedule(&s.hb, s.srv.cfg.PingTimeout)
	s.push(msgPing)
	s.kick()
}

func (s *Session) startHeartbeat() {
	s.hb.fire = s.heartbeat
	if s.rev == eio.Rev3 {
		s.srv.wheel.schedule(&s.hb, s.srv.cfg.PingInterval+s.srv.cfg.PingTimeout)
	} else {
		s.srv.wheel.schedule(&s.hb, s.srv.cfg.PingInterval)
	}
}
