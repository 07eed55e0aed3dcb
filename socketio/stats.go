package socketio

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/go-sio/sio/engineio"
)

// Stats is a snapshot of a server's counters and gauges, as Server.Stats
// returns it. Counters (the uint64 fields and maps) only grow during the
// life of the server; gauges are the state at the time of the snapshot.
type Stats struct {
	// Engine holds the counters and gauges of the Engine.IO server:
	// sessions by transport, messages and bytes in and out, dropped
	// volatile packets.
	Engine engineio.Stats

	// Namespaces describes each namespace of this node, sorted by name.
	Namespaces []NamespaceStats

	// Connects counts the sockets that connected to a namespace (passed
	// the middlewares).
	Connects uint64
	// Recoveries counts the connects that restored a disconnected socket
	// (connection state recovery): its id, rooms and data. They are
	// counted in Connects too.
	Recoveries uint64
	// ConnectErrors counts the connections a namespace middleware refused
	// (the client got a CONNECT_ERROR).
	ConnectErrors uint64
	// Disconnects counts the disconnections of connected sockets by
	// reason. Every reason defined by this package has an entry, zero or
	// not; other reasons are counted together under "other".
	Disconnects map[Reason]uint64
	// AckTimeouts counts the Socket EmitWithAck calls that ended with
	// ErrAckTimeout, and BroadcastAckTimeouts the broadcast ones.
	AckTimeouts          uint64
	BroadcastAckTimeouts uint64
	// HandlerPanics counts the panics recovered from event handlers,
	// connection handlers, middlewares and disconnect handlers.
	HandlerPanics uint64
}

// NamespaceStats describes one namespace on this node.
type NamespaceStats struct {
	Name string
	// Sockets is the number of connected sockets.
	Sockets int
	// Rooms is the number of rooms of the namespace's adapter on this
	// node, as its AllRooms reports them: the room of each socket's own
	// id included.
	Rooms int
}

// Sockets is the number of connected sockets, all namespaces together.
func (st Stats) Sockets() int {
	n := 0
	for _, ns := range st.Namespaces {
		n += ns.Sockets
	}
	return n
}

// Rooms is the number of rooms, all namespaces together.
func (st Stats) Rooms() int {
	n := 0
	for _, ns := range st.Namespaces {
		n += ns.Rooms
	}
	return n
}

// Stats returns a snapshot of the server's counters and gauges, the
// engine's included. The gauges of the namespaces are computed now: the
// cost grows with the number of namespaces and rooms, not with the
// traffic. Nothing on the paths of packets takes a lock for the counters.
func (srv *Server) Stats() Stats {
	c := &srv.stats
	st := Stats{
		Engine:               srv.engine.Stats(),
		Connects:             c.connects.Load(),
		Recoveries:           c.recoveries.Load(),
		ConnectErrors:        c.connectErrors.Load(),
		Disconnects:          make(map[Reason]uint64, len(disconnectReasons)),
		AckTimeouts:          c.ackTimeouts.Load(),
		BroadcastAckTimeouts: c.broadcastAckTimeouts.Load(),
		HandlerPanics:        c.panics.Load(),
	}
	for i, r := range disconnectReasons {
		st.Disconnects[r] = c.disconnects[i].Load()
	}
	if n := c.disconnects[len(disconnectReasons)].Load(); n > 0 {
		st.Disconnects[reasonOther] = n
	}
	srv.mu.RLock()
	nsps := make([]*Namespace, 0, len(srv.nsps))
	for _, n := range srv.nsps {
		nsps = append(nsps, n)
	}
	srv.mu.RUnlock()
	st.Namespaces = make([]NamespaceStats, 0, len(nsps))
	for _, n := range nsps {
		n.mu.RLock()
		sockets := len(n.sockets)
		n.mu.RUnlock()
		st.Namespaces = append(st.Namespaces, NamespaceStats{Name: n.name, Sockets: sockets, Rooms: roomCount(n.adapter)})
	}
	slices.SortFunc(st.Namespaces, func(a, b NamespaceStats) int { return strings.Compare(a.Name, b.Name) })
	return st
}

// roomCount counts the local rooms of an adapter, without listing them
// when the adapter can count (the in-memory adapter, and those embedding
// it, can).
func roomCount(a interface{ AllRooms() []string }) int {
	if c, ok := a.(interface{ RoomCount() int }); ok {
		return c.RoomCount()
	}
	return len(a.AllRooms())
}

// disconnectReasons lists the reasons counted one by one; anything else
// counts as reasonOther.
var disconnectReasons = [...]Reason{
	ReasonTransportError,
	ReasonTransportClose,
	ReasonForcedClose,
	ReasonPingTimeout,
	ReasonParseError,
	ReasonServerShuttingDown,
	ReasonForcedServerClose,
	ReasonClientNamespaceClose,
	ReasonServerNamespaceClose,
	ReasonWriteBufferFull,
}

// reasonOther is the Disconnects key of reasons not in the list.
const reasonOther Reason = "other"

// serverStats holds the counters of a server. Each changes at most once
// per connection or per failed operation, so plain atomics do.
type serverStats struct {
	connects             atomic.Uint64
	recoveries           atomic.Uint64
	connectErrors        atomic.Uint64
	disconnects          [len(disconnectReasons) + 1]atomic.Uint64
	ackTimeouts          atomic.Uint64
	broadcastAckTimeouts atomic.Uint64
	panics               atomic.Uint64
}

func (c *serverStats) disconnected(r Reason) {
	i := len(disconnectReasons)
	for j, x := range disconnectReasons {
		if x == r {
			i = j
			break
		}
	}
	c.disconnects[i].Add(1)
}

// reported counts the errors given to reportError that are panics.
func (c *serverStats) reported(err error) {
	var pe *PanicError
	if errors.As(err, &pe) {
		c.panics.Add(1)
	}
}

// storeResult reports the outcome of a session store operation (args
// describe it): the first failure of an outage is logged at Warn level,
// the next ones at Debug level, the first success after it at Info level.
func (srv *Server) storeResult(err error, args ...any) {
	if err == nil {
		srv.store.OK(srv.log, "socketio: the session store answers again")
		return
	}
	args = append(args, "err", err)
	srv.store.Fail(srv.log, "socketio: the session store fails; disconnected sockets cannot be recovered until it answers", args...)
}
