package engineio

import (
	"net/http"
	"sync/atomic"
	"unsafe"

	"github.com/go-sio/sio/parser/eio"
)

// Stats is a snapshot of a server's counters and gauges, as Server.Stats
// returns it. Counters (the uint64 fields and maps) only grow during the
// life of the server; gauges (the int fields) are the state at the time of
// the snapshot.
type Stats struct {
	// PollingSessions and WebSocketSessions are the open sessions by
	// current transport (a session counts as polling until its upgrade
	// completes).
	PollingSessions   int
	WebSocketSessions int

	// SessionsOpened counts the sessions opened (successful handshakes).
	SessionsOpened uint64
	// Upgrades counts the sessions moved from polling to WebSocket.
	Upgrades uint64
	// SessionsClosed counts closed sessions by reason. Every reason
	// defined by this package has an entry, zero or not; other reasons
	// are counted together under "other".
	SessionsClosed map[Reason]uint64

	// MessagesReceived counts the message packets read from clients, and
	// BytesReceived their payload bytes (without the Engine.IO framing;
	// control packets such as pings are not counted).
	MessagesReceived uint64
	BytesReceived    uint64
	// MessagesSent counts the message packets written to clients, and
	// BytesSent their payload bytes, once per recipient: a message sent
	// to a thousand sessions counts a thousand times. A message counts
	// when it is written to a WebSocket or handed to a poll response, not
	// when it is queued.
	MessagesSent uint64
	BytesSent    uint64
	// VolatileDropped counts the Session.SendVolatile calls whose
	// messages were dropped because the transport could not take them at
	// once.
	VolatileDropped uint64

	// HandlerPanics counts the panics recovered from Handler calls.
	HandlerPanics uint64
	// RequestErrors counts the HTTP requests refused with an Engine.IO
	// error reply, by code. Every code has an entry. UnknownSID typically
	// means sessions reaching the wrong node of a cluster (no sticky
	// sessions) or clients resuming after a restart.
	RequestErrors map[ErrorCode]uint64
}

// Sessions is the number of open sessions.
func (st Stats) Sessions() int { return st.PollingSessions + st.WebSocketSessions }

// Stats returns a snapshot of the server's counters and gauges. It takes
// no lock that the sessions use; the fields are read one by one, so a
// snapshot taken while sessions come and go may be off by the events of
// that instant.
func (srv *Server) Stats() Stats {
	c := &srv.stats
	st := Stats{
		PollingSessions:   int(max(c.polling.Load(), 0)),
		WebSocketSessions: int(max(c.websocket.Load(), 0)),
		SessionsOpened:    c.opened.Load(),
		Upgrades:          c.upgrades.Load(),
		SessionsClosed:    make(map[Reason]uint64, len(reasons)),
		VolatileDropped:   c.volatileDropped.Load(),
		HandlerPanics:     c.panics.Load(),
		RequestErrors:     make(map[ErrorCode]uint64, len(c.requestErrors)),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		st.MessagesReceived += sh.msgsIn.Load()
		st.BytesReceived += sh.bytesIn.Load()
		st.MessagesSent += sh.msgsOut.Load()
		st.BytesSent += sh.bytesOut.Load()
	}
	for i, r := range reasons {
		st.SessionsClosed[r] = c.closed[i].Load()
	}
	if n := c.closed[len(reasons)].Load(); n > 0 {
		st.SessionsClosed[reasonOther] = n
	}
	for code := range c.requestErrors {
		st.RequestErrors[ErrorCode(code)] = c.requestErrors[code].Load()
	}
	return st
}

// reasons lists the close reasons counted one by one; anything else counts
// as reasonOther.
var reasons = [...]Reason{
	ReasonTransportClose,
	ReasonTransportError,
	ReasonPingTimeout,
	ReasonForcedClose,
	ReasonParseError,
	ReasonWriteBufferFull,
}

// reasonOther is the SessionsClosed key of reasons not in the list.
const reasonOther Reason = "other"

func reasonIndex(r Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return len(reasons)
}

// statShards spreads the per-message counters over cache lines: the
// sessions of a large broadcast are written by several goroutines at once.
const statShards = 16

type statShard struct {
	msgsIn, bytesIn, msgsOut, bytesOut atomic.Uint64
	_                                  [128 - 32]byte // one shard per cache line pair
}

// serverStats holds a server's counters. The hot ones (messages and
// bytes) are sharded by session; the others change once per session at
// most.
type serverStats struct {
	shards          [statShards]statShard
	polling         atomic.Int64
	websocket       atomic.Int64
	opened          atomic.Uint64
	upgrades        atomic.Uint64
	closed          [len(reasons) + 1]atomic.Uint64
	volatileDropped atomic.Uint64
	panics          atomic.Uint64
	requestErrors   [UnsupportedProtocolVersion + 1]atomic.Uint64
}

// shard picks the counters of session s from its address, which is fixed
// for the session's life (the heap does not move objects): no field is
// needed in the session.
func (c *serverStats) shard(s *Session) *statShard {
	h := uint64(uintptr(unsafe.Pointer(s))) * 0x9E3779B97F4A7C15
	return &c.shards[h>>60] // the top 4 bits: statShards = 16
}

// sessionOpened counts a session registered on transport ws or polling.
func (c *serverStats) sessionOpened(ws bool) {
	c.opened.Add(1)
	c.transport(ws).Add(1)
}

// sessionUpgraded moves a session from polling to WebSocket.
func (c *serverStats) sessionUpgraded() {
	c.upgrades.Add(1)
	c.polling.Add(-1)
	c.websocket.Add(1)
}

// sessionClosed counts the close of a session whose transport was ws or
// polling.
func (c *serverStats) sessionClosed(ws bool, reason Reason) {
	c.transport(ws).Add(-1)
	c.closed[reasonIndex(reason)].Add(1)
}

func (c *serverStats) transport(ws bool) *atomic.Int64 {
	if ws {
		return &c.websocket
	}
	return &c.polling
}

// received counts a message packet of n payload bytes read from s.
func (c *serverStats) received(s *Session, n int) {
	sh := c.shard(s)
	sh.msgsIn.Add(1)
	sh.bytesIn.Add(uint64(n))
}

// sent counts the message packets among msgs, written to s; nothing when
// the write failed.
func (c *serverStats) sent(s *Session, msgs []*Message, err error) {
	if err != nil {
		return
	}
	var n, bytes uint64
	for _, m := range msgs {
		if m.typ == eio.Message {
			n++
			bytes += uint64(len(m.data))
		}
	}
	if n > 0 {
		sh := c.shard(s)
		sh.msgsOut.Add(n)
		sh.bytesOut.Add(bytes)
	}
}

// refuse counts and writes the error reply to a request.
func (srv *Server) refuse(w http.ResponseWriter, e *RequestError) {
	srv.countRequestError(e)
	writeRequestError(w, e)
}

// refuseUpgrade counts and writes the error reply to a WebSocket upgrade
// request.
func (srv *Server) refuseUpgrade(w http.ResponseWriter, e *RequestError) {
	srv.countRequestError(e)
	writeUpgradeError(w, e)
}

func (srv *Server) countRequestError(e *RequestError) {
	if e.Code >= 0 && int(e.Code) < len(srv.stats.requestErrors) {
		srv.stats.requestErrors[e.Code].Add(1)
	}
	// A client can send bad requests at will: Debug level only.
	srv.cfg.Logger.Debug("engineio: request refused", "code", int(e.Code), "err", e)
}

// logClose logs the close of a session that ended on an error. A client
// causes most of them (bad packets, a dropped connection, a full write
// buffer): Debug level only.
func (srv *Server) logClose(s *Session, reason Reason, err error) {
	if err != nil {
		srv.cfg.Logger.Debug("engineio: session closed", "sid", s.id, "reason", string(reason), "err", err)
	}
}
