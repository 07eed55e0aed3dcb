package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/parser/sio"
)

// Connection state recovery (Config.ConnectionStateRecovery).
//
// A socket that disconnects for a recoverable reason leaves a session in
// the adapter (its id, private id, rooms and data). A client that
// reconnects with {"pid": …, "offset": …} in its CONNECT payload (what
// socket.io-client 4.6+ sends) gets that session back, once, and the
// stored packets after its last offset.
//
// Restoring is ordered so that nothing is lost or repeated: the socket
// takes its old id and rooms first, and from then on packets broadcast to
// it are held; then it asks the adapter for what was stored since the
// last missed packet; then it sends the missed packets, those stored
// since, the held ones not already sent (by offset), and the CONNECT
// reply, in that order, before it lets broadcasts through again. From
// then on, a stored packet at or before the last offset sent is dropped:
// a cluster adapter's stream reader may deliver late what the restore
// already read from the stream.

// recoveryTimeout bounds the adapter calls of a recovery.
const recoveryTimeout = 5 * time.Second

// maxHeld bounds the packets held for a socket being recovered; past it
// the connection is closed (the client recovers again from its last
// offset).
const maxHeld = 10000

// heldPacket is a packet broadcast to a socket while it was recovered.
type heldPacket struct {
	offset   string
	msgs     []*engineio.Message
	volatile bool
}

// recoverable reports whether a disconnection for reason keeps the
// session for recovery: the reference's list, and a client disconnected
// for not reading fast enough (it missed packets as one that timed out
// does).
func recoverable(reason Reason) bool {
	switch reason {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout,
		ReasonServerShuttingDown, ReasonForcedServerClose, ReasonWriteBufferFull:
		return true
	}
	return false
}

// Recovered reports whether the socket took back the session of a
// disconnected one (same id, rooms and data; the events it missed were
// sent before the connection was confirmed).
func (s *Socket) Recovered() bool { return s.recovered }

// recoveryAuth extracts the pid and offset of a CONNECT payload. Both
// must be strings, or there is no recovery (a non-string is ignored).
func recoveryAuth(auth json.RawMessage) (pid, offset string, ok bool) {
	if len(auth) == 0 || auth[0] != '{' {
		return "", "", false
	}
	var v struct {
		PID    json.RawMessage `json:"pid"`
		Offset json.RawMessage `json:"offset"`
	}
	if json.Unmarshal(auth, &v) != nil || !isJSONString(v.PID) || !isJSONString(v.Offset) {
		return "", "", false
	}
	if json.Unmarshal(v.PID, &pid) != nil || json.Unmarshal(v.Offset, &offset) != nil || pid == "" || offset == "" {
		return "", "", false
	}
	return pid, offset, true
}

func isJSONString(b json.RawMessage) bool { return len(b) > 0 && b[0] == '"' }

// sessionStore is the namespace adapter's recovery side.
func (s *Socket) sessionStore() adapter.SessionStore {
	st, _ := s.ns.adapter.(adapter.SessionStore)
	return st
}

// tryRestore takes back the session the client names, if it is still
// there: the socket gets its id, private id, data and rooms, and starts
// holding broadcasts. It returns the missed packets and the offset after
// which the adapter must be asked again.
func (s *Socket) tryRestore() ([]adapter.StoredPacket, string) {
	pid, offset, ok := recoveryAuth(s.hs.Auth)
	store := s.sessionStore()
	if !ok || store == nil {
		return nil, ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	sess, missed, ok, err := store.RestoreSession(ctx, pid, offset)
	if err == nil && !ok {
		// The client may be back before this server noticed that its
		// previous connection died (a phone changing networks is seen at
		// once by the client, only at the next ping timeout here): the
		// holder of the pid takes its session over from the stale socket.
		if old := s.ns.byPID(pid); old != nil && old.client != s.client && old.closed != nil {
			s.ns.srv.log.Debug("socketio: session taken over by a reconnecting client", "nsp", s.ns.name, "socket", old.ID())
			_ = old.client.conn.Close()
			select {
			case <-old.closed:
				sess, missed, ok, err = store.RestoreSession(ctx, pid, offset)
			case <-ctx.Done():
			}
		}
	}
	s.ns.srv.storeResult(err, "op", "restore", "nsp", s.ns.name)
	if err != nil {
		return nil, ""
	}
	if !ok || sess.SID == "" {
		return nil, ""
	}
	sid := sess.SID
	s.idp.Store(&sid)
	s.pid = sess.PID
	s.recovered = true
	switch {
	case sess.Value != nil:
		s.SetData(sess.Value)
	case len(sess.Data) > 0 && !bytes.Equal(sess.Data, []byte("null")):
		s.SetData(sess.Data)
	}
	s.recovering.Store(true)
	s.ns.add(s)
	rooms := sess.Rooms
	if len(rooms) == 0 {
		rooms = []string{sid}
	}
	s.ns.adapter.AddAll(sid, rooms...)
	last := offset
	if len(missed) > 0 {
		last = missed[len(missed)-1].Offset
	}
	return missed, last
}

// hold keeps a packet broadcast to the socket while it is recovered.
func (s *Socket) hold(msgs []*engineio.Message, flags adapter.Flags) bool {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if !s.recovering.Load() {
		return false
	}
	if len(s.pending) >= maxHeld {
		if !flags.Volatile {
			s.overflow = true
		}
		return true
	}
	s.pending = append(s.pending, heldPacket{offset: flags.Offset, msgs: msgs, volatile: flags.Volatile})
	return true
}

// finishRecovery sends the missed packets, those stored since last, the
// held ones and the CONNECT reply, then lets broadcasts through.
func (s *Socket) finishRecovery(missed []adapter.StoredPacket, last string, reply *sio.Packet) {
	var more []adapter.StoredPacket
	if store := s.sessionStore(); store != nil && last != "" {
		ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
		var ok bool
		var err error
		more, ok, err = store.StoredAfter(ctx, s.Rooms(), last)
		cancel()
		if err != nil || !ok {
			s.ns.srv.log.Debug("socketio: no packets after the last missed one", "nsp", s.ns.name, "socket", s.ID(), "err", err)
		}
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	sent := ""
	send := func(off string, msgs []*engineio.Message, volatile bool) {
		if off != "" {
			if sent != "" && adapter.CompareOffsets(off, sent) <= 0 {
				return // already sent
			}
			sent = off
		}
		if volatile {
			s.client.conn.SendVolatile(msgs...)
			return
		}
		_ = s.client.conn.Send(msgs...)
	}
	for _, m := range missed {
		send(m.Offset, encodePacket(nil, m.Packet, s.client.proto, true), false)
	}
	if sent == "" {
		sent = last
	}
	for _, m := range more {
		send(m.Offset, encodePacket(nil, m.Packet, s.client.proto, true), false)
	}
	overflow := s.overflow
	if !overflow {
		for _, h := range s.pending {
			send(h.offset, h.msgs, h.volatile)
		}
	}
	s.pending, s.overflow = nil, false
	_ = s.client.sendPacket(reply, false)
	if sent != "" {
		s.replayed.Store(&sent)
	}
	s.recovering.Store(false)
	if overflow {
		s.ns.srv.log.Debug("socketio: too many packets while recovering, closing", "nsp", s.ns.name, "socket", s.ID())
		_ = s.client.conn.Close()
	}
}

// alreadyReplayed reports whether the stored packet at offset is at or
// before the last one the socket's recovery sent.
func (s *Socket) alreadyReplayed(offset string) bool {
	r := s.replayed.Load()
	return r != nil && adapter.CompareOffsets(offset, *r) <= 0
}

// abortRecovery undoes tryRestore for a socket that does not connect:
// it leaves its rooms, and when the connection was lost meanwhile (not
// refused) the session is kept again for the next attempt.
func (s *Socket) abortRecovery(keep bool) {
	s.recMu.Lock()
	s.pending, s.overflow = nil, false
	s.recovering.Store(false)
	s.recMu.Unlock()
	rooms := s.Rooms()
	s.leaveAll()
	s.ns.remove(s)
	if keep {
		s.persist(rooms)
	}
	s.doneClosing()
}

// persist keeps the socket's session for recovery.
func (s *Socket) persist(rooms []string) {
	store := s.sessionStore()
	if store == nil || s.pid == "" {
		return
	}
	v := s.Data()
	data, err := json.Marshal(v)
	if err != nil {
		data = json.RawMessage("null")
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	err = store.PersistSession(ctx, adapter.Session{SID: s.ID(), PID: s.pid, Rooms: rooms, Data: data, Value: v})
	s.ns.srv.storeResult(err, "op", "persist", "nsp", s.ns.name, "socket", s.ID())
}
