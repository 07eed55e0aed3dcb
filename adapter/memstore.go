package adapter

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/go-sio/sio/parser/sio"
)

// DefaultRecoveryMaxBytes is the default cap on the bytes of packets the
// in-memory adapter keeps per namespace for connection state recovery.
const DefaultRecoveryMaxBytes = 32 << 20

// memStore keeps, for the in-memory adapter, the sessions of disconnected
// sockets and the packets broadcast in the recovery window.
//
// Offsets are "<epoch>-<seq>": epoch is the store's creation time in
// milliseconds (an offset of another process or an earlier store is
// unknown here), seq numbers the packets from 1. The packets are a queue
// in seq order, so the packet of an offset is found by subtraction.
type memStore struct {
	maxAge   time.Duration
	maxBytes int
	epoch    uint64
	now      func() time.Time

	// mu orders broadcasts: a packet is stored and handed to the local
	// sockets under it, so every socket receives stored packets in offset
	// order.
	mu       sync.Mutex
	seq      uint64      // seq of the last stored packet
	packets  []memPacket // packets[head:] are stored, oldest first
	head     int         //
	bytes    int         // size of the stored packets
	sessions map[string]memSession
	pruned   time.Time
}

type memPacket struct {
	seq    uint64
	offset string
	p      *sio.Packet // data with the offset appended
	opts   Options
	at     time.Time
	size   int
}

type memSession struct {
	s     Session
	until time.Time
}

func newMemStore(cfg RecoveryConfig) *memStore {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultRecoveryMaxBytes
	}
	now := time.Now()
	return &memStore{
		maxAge:   cfg.MaxDisconnectionDuration,
		maxBytes: cfg.MaxBytes,
		epoch:    uint64(now.UnixMilli()),
		now:      time.Now,
		sessions: map[string]memSession{},
		pruned:   now,
	}
}

// store appends p (broadcast with opts) and returns it with its offset.
// Called with mu held.
func (st *memStore) store(p *sio.Packet, opts Options) (*sio.Packet, string) {
	st.seq++
	offset := strconv.FormatUint(st.epoch, 10) + "-" + strconv.FormatUint(st.seq, 10)
	sp := WithOffset(p, offset)
	size := 128 + len(sp.Data)
	for _, a := range sp.Attachments {
		size += len(a)
	}
	for _, r := range opts.Rooms {
		size += len(r) + 16
	}
	for _, r := range opts.Except {
		size += len(r) + 16
	}
	now := st.now()
	st.packets = append(st.packets, memPacket{seq: st.seq, offset: offset, p: sp, opts: opts, at: now, size: size})
	st.bytes += size
	st.prunePackets(now)
	return sp, offset
}

// prunePackets drops the packets older than the recovery window and the
// oldest ones beyond the byte cap. Called with mu held.
func (st *memStore) prunePackets(now time.Time) {
	for st.head < len(st.packets) {
		old := &st.packets[st.head]
		if st.bytes <= st.maxBytes && now.Sub(old.at) <= st.maxAge {
			break
		}
		st.bytes -= old.size
		*old = memPacket{}
		st.head++
	}
	// Reclaim the dropped prefix once it is half of the slice.
	if st.head > 0 && st.head*2 >= len(st.packets) {
		n := copy(st.packets, st.packets[st.head:])
		clear(st.packets[n:])
		st.packets = st.packets[:n]
		st.head = 0
	}
	if now.Sub(st.pruned) >= time.Minute {
		st.pruned = now
		for pid, s := range st.sessions {
			if now.After(s.until) {
				delete(st.sessions, pid)
			}
		}
	}
}

func (st *memStore) persist(s Session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sessions[s.PID] = memSession{s: s, until: now.Add(st.maxAge)}
	st.prunePackets(now)
}

// after returns the stored packets after offset that rooms select; ok is
// false when offset is not a stored packet. Called with mu held.
func (st *memStore) after(rooms []string, offset string) ([]StoredPacket, bool) {
	epoch, seq, valid := ParseOffset(offset)
	if !valid || epoch != st.epoch || st.head == len(st.packets) {
		return nil, false
	}
	first := st.packets[st.head].seq
	if seq < first || seq > st.seq {
		return nil, false
	}
	var out []StoredPacket
	for _, mp := range st.packets[st.head+int(seq-first)+1:] {
		if ShouldInclude(rooms, mp.opts) {
			out = append(out, StoredPacket{Offset: mp.offset, Packet: mp.p})
		}
	}
	return out, true
}

func (st *memStore) restore(pid, offset string) (Session, []StoredPacket, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.prunePackets(now)
	ms, found := st.sessions[pid]
	if !found {
		return Session{}, nil, false
	}
	delete(st.sessions, pid) // a session is restored once
	if now.After(ms.until) {
		return Session{}, nil, false
	}
	missed, ok := st.after(ms.s.Rooms, offset)
	if !ok {
		return Session{}, nil, false
	}
	return ms.s, missed, true
}

// PersistSession implements SessionStore. It fails with
// ErrRecoveryDisabled when the server has connection state recovery off.
func (m *Memory) PersistSession(_ context.Context, s Session) error {
	if m.store == nil {
		return ErrRecoveryDisabled
	}
	m.store.persist(s)
	return nil
}

// RestoreSession implements SessionStore.
func (m *Memory) RestoreSession(_ context.Context, pid, offset string) (Session, []StoredPacket, bool, error) {
	if m.store == nil {
		return Session{}, nil, false, ErrRecoveryDisabled
	}
	s, missed, ok := m.store.restore(pid, offset)
	return s, missed, ok, nil
}

// StoredAfter implements SessionStore.
func (m *Memory) StoredAfter(_ context.Context, rooms []string, offset string) ([]StoredPacket, bool, error) {
	if m.store == nil {
		return nil, false, ErrRecoveryDisabled
	}
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	out, ok := m.store.after(rooms, offset)
	return out, ok, nil
}
