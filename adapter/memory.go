package adapter

import (
	"context"
	"slices"
	"sync"

	"github.com/go-sio/sio/parser/sio"
)

// Memory is the in-memory adapter: rooms of one process.
//
// Every socket is in the room named by its own id (so that To(socketID)
// reaches it); that membership is implicit and costs no map entry. Other
// rooms are sets of socket ids. A broadcast resolves its recipients under a
// read lock into a slice, then sends without holding any lock.
type Memory struct {
	ns    Namespace
	mu    sync.RWMutex
	rooms map[string]map[string]struct{}
	sids  map[string]*member
	store *memStore // connection state recovery, when enabled
}

type member struct {
	rooms  []string // rooms besides its own id, in join order
	inSelf bool     // in its own room
}

var (
	_ Adapter      = (*Memory)(nil)
	_ SessionStore = (*Memory)(nil)
)

// NewMemory is the Factory of the in-memory adapter.
func NewMemory(ns Namespace) Adapter {
	m := &Memory{ns: ns, rooms: map[string]map[string]struct{}{}, sids: map[string]*member{}}
	if cfg, ok := Recovery(ns); ok {
		m.store = newMemStore(cfg)
	}
	return m
}

// Namespace returns the namespace served.
func (m *Memory) Namespace() Namespace { return m.ns }

func (m *Memory) AddAll(id string, rooms ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.sids[id]
	if mb == nil {
		mb = &member{}
		m.sids[id] = mb
	}
	m.join(mb, id, rooms)
}

// addExisting is AddAll for a socket that is still known: a socket removed
// (DelAll) after a selection was made is not brought back.
func (m *Memory) addExisting(id string, rooms []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mb := m.sids[id]; mb != nil {
		m.join(mb, id, rooms)
	}
}

// join adds member mb (socket id) to rooms. Called with mu held.
func (m *Memory) join(mb *member, id string, rooms []string) {
	for _, r := range rooms {
		if r == id {
			mb.inSelf = true
			continue
		}
		set := m.rooms[r]
		if set == nil {
			set = map[string]struct{}{}
			m.rooms[r] = set
		}
		if _, ok := set[id]; ok {
			continue
		}
		set[id] = struct{}{}
		mb.rooms = append(mb.rooms, r)
	}
}

func (m *Memory) Del(id, room string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.sids[id]
	if mb == nil {
		return
	}
	if room == id {
		mb.inSelf = false
	} else if i := slices.Index(mb.rooms, room); i >= 0 {
		mb.rooms = slices.Delete(mb.rooms, i, i+1)
		m.leave(id, room)
	}
	if !mb.inSelf && len(mb.rooms) == 0 {
		delete(m.sids, id)
	}
}

func (m *Memory) leave(id, room string) {
	if set := m.rooms[room]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m.rooms, room)
		}
	}
}

func (m *Memory) DelAll(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.sids[id]
	if mb == nil {
		return
	}
	for _, r := range mb.rooms {
		m.leave(id, r)
	}
	delete(m.sids, id)
}

func (m *Memory) Rooms(id string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mb := m.sids[id]
	if mb == nil {
		return nil
	}
	out := make([]string, 0, len(mb.rooms)+1)
	if mb.inSelf {
		out = append(out, id)
	}
	return append(out, mb.rooms...)
}

func (m *Memory) AllRooms() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.rooms)+len(m.sids))
	for r := range m.rooms {
		out = append(out, r)
	}
	for id, mb := range m.sids {
		if mb.inSelf {
			if _, dup := m.rooms[id]; !dup {
				out = append(out, id)
			}
		}
	}
	return out
}

func (m *Memory) Sockets(rooms ...string) []string {
	return m.Select(Options{Rooms: rooms})
}

// Select returns the local socket ids selected by opts, each once.
func (m *Memory) Select(opts Options) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	excluded := func(id string) bool {
		for _, r := range opts.Except {
			if r == id {
				if mb := m.sids[id]; mb != nil && mb.inSelf {
					return true
				}
			}
			if _, ok := m.rooms[r][id]; ok {
				return true
			}
		}
		return false
	}
	if len(opts.Rooms) == 0 {
		out := make([]string, 0, len(m.sids))
		for id := range m.sids {
			if !excluded(id) {
				out = append(out, id)
			}
		}
		return out
	}
	if len(opts.Rooms) == 1 && len(opts.Except) == 0 {
		return m.roomMembers(opts.Rooms[0], nil)
	}
	seen := map[string]struct{}{}
	var out []string
	for _, r := range opts.Rooms {
		for _, id := range m.roomMembers(r, nil) {
			if _, dup := seen[id]; dup || excluded(id) {
				continue
			}
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// roomMembers appends the members of room r to out. Called with mu held.
func (m *Memory) roomMembers(r string, out []string) []string {
	set := m.rooms[r]
	if out == nil {
		out = make([]string, 0, len(set)+1)
	}
	if mb := m.sids[r]; mb != nil && mb.inSelf {
		if _, dup := set[r]; !dup {
			out = append(out, r)
		}
	}
	for id := range set {
		out = append(out, id)
	}
	return out
}

func (m *Memory) Broadcast(_ context.Context, p *sio.Packet, opts Options) error {
	if m.store != nil && Storable(p, opts) {
		// Stored and sent under one lock: sockets see offsets in order.
		m.store.mu.Lock()
		defer m.store.mu.Unlock()
		sp, offset := m.store.store(p, opts)
		opts.Flags.Offset = offset
		if ids := m.Select(opts); len(ids) > 0 {
			m.ns.Send(ids, sp, opts.Flags)
		}
		return nil
	}
	if ids := m.Select(opts); len(ids) > 0 {
		m.ns.Send(ids, p, opts.Flags)
	}
	return nil
}

func (m *Memory) BroadcastWithAck(_ context.Context, p *sio.Packet, opts Options, onCount func(int), onAck AckFunc) error {
	ids := m.Select(opts)
	n := 0
	if len(ids) > 0 {
		n = m.ns.SendWithAck(ids, p, opts.Flags, onAck)
	}
	if onCount != nil {
		onCount(n)
	}
	return nil
}

func (m *Memory) FetchSockets(_ context.Context, opts Options) ([]SocketInfo, error) {
	ids := m.Select(opts)
	out := make([]SocketInfo, 0, len(ids))
	for _, id := range ids {
		if info, ok := m.ns.Socket(id); ok {
			out = append(out, info)
		}
	}
	return out, nil
}

func (m *Memory) AddSockets(_ context.Context, opts Options, rooms []string) error {
	for _, id := range m.Select(opts) {
		m.addExisting(id, rooms)
	}
	return nil
}

func (m *Memory) DelSockets(_ context.Context, opts Options, rooms []string) error {
	for _, id := range m.Select(opts) {
		for _, r := range rooms {
			m.Del(id, r)
		}
	}
	return nil
}

func (m *Memory) DisconnectSockets(_ context.Context, opts Options, close bool) error {
	if ids := m.Select(opts); len(ids) > 0 {
		m.ns.Disconnect(ids, close)
	}
	return nil
}

func (m *Memory) ServerCount(context.Context) (int, error) { return 1, nil }

func (m *Memory) Close() error { return nil }
