package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/go-sio/sio/parser/sio"
)

// fakeNS is an adapter.Namespace recording what the adapter asks of it.
type fakeNS struct {
	mu          sync.Mutex
	sent        [][]string
	flags       []Flags
	acks        []AckFunc
	disconnects [][]string
	closeFlags  []bool
	known       map[string]bool
}

func (f *fakeNS) Name() string { return "/" }

func (f *fakeNS) Send(ids []string, p *sio.Packet, flags Flags) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sorted(ids))
	f.flags = append(f.flags, flags)
}

func (f *fakeNS) SendWithAck(ids []string, p *sio.Packet, flags Flags, onAck AckFunc) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sorted(ids))
	f.acks = append(f.acks, onAck)
	return len(ids)
}

func (f *fakeNS) Disconnect(ids []string, close bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnects = append(f.disconnects, sorted(ids))
	f.closeFlags = append(f.closeFlags, close)
}

func (f *fakeNS) Socket(id string) (SocketInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.known != nil && !f.known[id] {
		return SocketInfo{}, false
	}
	return SocketInfo{ID: id, Data: json.RawMessage(`null`)}, true
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func newTestMemory() (*Memory, *fakeNS) {
	ns := &fakeNS{}
	return NewMemory(ns).(*Memory), ns
}

// connect adds socket id as the socketio package does: in its own room.
func connect(m *Memory, ids ...string) {
	for _, id := range ids {
		m.AddAll(id, id)
	}
}

// checkConsistent verifies that the room -> sockets and socket -> rooms
// maps describe the same memberships, with no empty room left.
func checkConsistent(t *testing.T, m *Memory) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for room, set := range m.rooms {
		if len(set) == 0 {
			t.Errorf("empty room %q kept", room)
		}
		for id := range set {
			mb := m.sids[id]
			if mb == nil || !slices.Contains(mb.rooms, room) {
				t.Errorf("room %q lists %q, whose rooms are %v", room, id, mb)
			}
		}
	}
	for id, mb := range m.sids {
		if !mb.inSelf && len(mb.rooms) == 0 {
			t.Errorf("socket %q kept with no room", id)
		}
		for _, r := range mb.rooms {
			if _, ok := m.rooms[r][id]; !ok {
				t.Errorf("socket %q lists room %q, which does not list it", id, r)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(mb.rooms)))) != len(mb.rooms) {
			t.Errorf("socket %q has duplicate rooms %v", id, mb.rooms)
		}
	}
}

func set(ids ...string) []string { return sorted(ids) }

func TestMemoryRoomsBothWays(t *testing.T) {
	m, _ := newTestMemory()
	connect(m, "s1", "s2", "s3")
	m.AddAll("s1", "a", "b", "a")
	m.AddAll("s2", "b")
	if got := m.Rooms("s1"); !slices.Equal(got, []string{"s1", "a", "b"}) {
		t.Fatalf("rooms of s1: %v", got)
	}
	if got := m.Rooms("unknown"); got != nil {
		t.Fatalf("rooms of unknown: %v", got)
	}
	for room, want := range map[string][]string{
		"a": set("s1"), "b": set("s1", "s2"), "s3": set("s3"), "nope": nil,
	} {
		if got := sorted(m.Sockets(room)); !slices.Equal(got, want) {
			t.Errorf("sockets in %q: %v, want %v", room, got, want)
		}
	}
	if got := sorted(m.Sockets()); !slices.Equal(got, set("s1", "s2", "s3")) {
		t.Errorf("all sockets: %v", got)
	}
	if got := sorted(m.AllRooms()); !slices.Equal(got, set("a", "b", "s1", "s2", "s3")) {
		t.Errorf("all rooms: %v", got)
	}
	m.Del("s1", "a")
	m.Del("s1", "never")
	m.Del("ghost", "a")
	if got := sorted(m.AllRooms()); !slices.Equal(got, set("b", "s1", "s2", "s3")) {
		t.Errorf("all rooms after Del: %v", got)
	}
	if got := m.Rooms("s1"); !slices.Equal(got, []string{"s1", "b"}) {
		t.Errorf("rooms of s1: %v", got)
	}
	checkConsistent(t, m)
}

func TestMemoryImplicitOwnRoom(t *testing.T) {
	m, _ := newTestMemory()
	connect(m, "s1")
	m.mu.RLock()
	_, stored := m.rooms["s1"]
	m.mu.RUnlock()
	if stored {
		t.Fatal("own room stored as a map entry")
	}
	if got := m.Sockets("s1"); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("own room: %v", got)
	}
	// Another socket may join a room named like s1; each appears once.
	connect(m, "s2")
	m.AddAll("s2", "s1")
	m.AddAll("s1", "s1")
	if got := sorted(m.Sockets("s1")); !slices.Equal(got, set("s1", "s2")) {
		t.Fatalf("room s1: %v", got)
	}
	if got := sorted(m.AllRooms()); !slices.Equal(got, set("s1", "s2")) {
		t.Fatalf("all rooms: %v", got)
	}
	// Leaving its own room makes a socket unreachable by id.
	m.Del("s1", "s1")
	if got := m.Sockets("s1"); !slices.Equal(got, []string{"s2"}) {
		t.Fatalf("room s1 after Del: %v", got)
	}
	if m.Rooms("s1") != nil {
		t.Fatalf("s1 kept with no room: %v", m.Rooms("s1"))
	}
	checkConsistent(t, m)
}

func TestMemorySelect(t *testing.T) {
	m, _ := newTestMemory()
	connect(m, "s1", "s2", "s3", "s4")
	m.AddAll("s1", "a", "b")
	m.AddAll("s2", "b")
	m.AddAll("s3", "c")
	cases := []struct {
		opts Options
		want []string
	}{
		{Options{}, set("s1", "s2", "s3", "s4")},
		{Options{Rooms: []string{"a", "b"}}, set("s1", "s2")},
		{Options{Rooms: []string{"a", "b", "s1", "b"}}, set("s1", "s2")},
		{Options{Rooms: []string{"b"}, Except: []string{"a"}}, set("s2")},
		{Options{Except: []string{"b"}}, set("s3", "s4")},
		{Options{Except: []string{"s4", "c"}}, set("s1", "s2")},
		{Options{Rooms: []string{"b", "c"}, Except: []string{"s1"}}, set("s2", "s3")},
		{Options{Rooms: []string{"s2", "s3"}}, set("s2", "s3")},
		{Options{Rooms: []string{"none"}}, nil},
		{Options{Rooms: []string{"a"}, Except: []string{"a"}}, nil},
		{Options{Except: []string{"unknown"}}, set("s1", "s2", "s3", "s4")},
	}
	for _, tc := range cases {
		if got := sorted(m.Select(tc.opts)); !slices.Equal(got, tc.want) {
			t.Errorf("Select(rooms %v except %v) = %v, want %v", tc.opts.Rooms, tc.opts.Except, got, tc.want)
		}
	}
}

func TestMemoryDelAllLeavesNothing(t *testing.T) {
	m, _ := newTestMemory()
	for i := range 100 {
		id := fmt.Sprint("s", i)
		connect(m, id)
		m.AddAll(id, "all", fmt.Sprint("r", i%7), fmt.Sprint("own", i))
	}
	checkConsistent(t, m)
	for i := range 100 {
		m.DelAll(fmt.Sprint("s", i))
	}
	m.DelAll("s0") // twice is fine
	if len(m.rooms) != 0 || len(m.sids) != 0 || len(m.AllRooms()) != 0 || len(m.Sockets()) != 0 {
		t.Fatalf("left: rooms %v sids %v", m.rooms, m.sids)
	}
}

func TestMemoryBroadcast(t *testing.T) {
	m, ns := newTestMemory()
	connect(m, "s1", "s2", "s3")
	m.AddAll("s1", "a")
	m.AddAll("s2", "a")
	ctx := context.Background()
	p := &sio.Packet{Type: sio.Event, Namespace: "/", Data: json.RawMessage(`["x"]`)}
	flags := Flags{Volatile: true, Compress: true}
	if err := m.Broadcast(ctx, p, Options{Rooms: []string{"a"}, Except: []string{"s2"}, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	if err := m.Broadcast(ctx, p, Options{Rooms: []string{"empty"}}); err != nil {
		t.Fatal(err)
	}
	if len(ns.sent) != 1 || !slices.Equal(ns.sent[0], set("s1")) || ns.flags[0] != flags {
		t.Fatalf("sent %v flags %v", ns.sent, ns.flags)
	}

	var counts []int
	onCount := func(n int) { counts = append(counts, n) }
	if err := m.BroadcastWithAck(ctx, p, Options{Rooms: []string{"a"}}, onCount, func(string, *sio.Packet) {}); err != nil {
		t.Fatal(err)
	}
	if err := m.BroadcastWithAck(ctx, p, Options{Rooms: []string{"empty"}}, onCount, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(counts, []int{2, 0}) || len(ns.acks) != 1 || !slices.Equal(ns.sent[1], set("s1", "s2")) {
		t.Fatalf("counts %v acks %d sent %v", counts, len(ns.acks), ns.sent)
	}
	if n, err := m.ServerCount(ctx); n != 1 || err != nil {
		t.Fatalf("ServerCount %d %v", n, err)
	}
	if m.Namespace() != Namespace(ns) || m.Close() != nil {
		t.Fatal("Namespace or Close")
	}
}

func TestMemoryRemoteOperations(t *testing.T) {
	m, ns := newTestMemory()
	ns.known = map[string]bool{"s1": true, "s2": true}
	connect(m, "s1", "s2", "s3")
	m.AddAll("s1", "a")
	ctx := context.Background()

	infos, err := m.FetchSockets(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range infos {
		ids = append(ids, in.ID)
	}
	if got := sorted(ids); !slices.Equal(got, set("s1", "s2")) {
		t.Fatalf("fetched %v (s3 is unknown to the namespace)", got)
	}

	if err := m.AddSockets(ctx, Options{Except: []string{"a"}}, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(m.Sockets("x")); !slices.Equal(got, set("s2", "s3")) {
		t.Fatalf("x: %v", got)
	}
	if err := m.DelSockets(ctx, Options{Rooms: []string{"s2"}}, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if got := m.Rooms("s2"); !slices.Equal(got, []string{"s2"}) {
		t.Fatalf("rooms of s2: %v", got)
	}
	if err := m.DisconnectSockets(ctx, Options{Rooms: []string{"x", "a"}}, true); err != nil {
		t.Fatal(err)
	}
	if err := m.DisconnectSockets(ctx, Options{Rooms: []string{"none"}}, false); err != nil {
		t.Fatal(err)
	}
	if len(ns.disconnects) != 1 || !slices.Equal(ns.disconnects[0], set("s1", "s3")) || !ns.closeFlags[0] {
		t.Fatalf("disconnects %v %v", ns.disconnects, ns.closeFlags)
	}
	checkConsistent(t, m)
}

// A remote join (AddSockets) racing with a socket's removal (DelAll) must
// not bring the removed socket back.
func TestMemoryAddSocketsDoesNotResurrect(t *testing.T) {
	m, _ := newTestMemory()
	connect(m, "s1")
	m.DelAll("s1")
	ctx := context.Background()
	// The outcome of a selection made before the removal.
	m.addExisting("s1", []string{"x"})
	if err := m.AddSockets(ctx, Options{Rooms: []string{"s1"}}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if len(m.AllRooms()) != 0 {
		t.Fatalf("rooms %v", m.AllRooms())
	}

	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprint("s", i)
	}
	for range 100 {
		var wg sync.WaitGroup
		connect(m, ids...)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = m.AddSockets(ctx, Options{}, []string{"x", "y"})
		}()
		go func() {
			defer wg.Done()
			for _, id := range ids {
				m.DelAll(id)
			}
		}()
		wg.Wait()
		if rooms := m.AllRooms(); len(rooms) != 0 {
			t.Fatalf("rooms left: %v", rooms)
		}
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m, _ := newTestMemory()
	ctx := context.Background()
	p := &sio.Packet{Type: sio.Event, Data: json.RawMessage(`["x"]`)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id := fmt.Sprintf("g%d-%d", g, i%10)
				switch i % 6 {
				case 0:
					connect(m, id)
					m.AddAll(id, "all", fmt.Sprint("r", i%3))
				case 1:
					m.Del(id, "all")
				case 2:
					_ = m.Broadcast(ctx, p, Options{Rooms: []string{"all", "r1"}, Except: []string{"r2"}})
				case 3:
					_ = m.AddSockets(ctx, Options{Rooms: []string{"r0"}}, []string{"extra"})
					_ = m.DelSockets(ctx, Options{}, []string{"r1"})
				case 4:
					_ = m.Rooms(id)
					_ = m.AllRooms()
					_, _ = m.FetchSockets(ctx, Options{Except: []string{"all"}})
				case 5:
					m.DelAll(id)
				}
			}
		}()
	}
	wg.Wait()
	checkConsistent(t, m)
	for id := range m.sids {
		m.DelAll(id)
	}
	if len(m.rooms) != 0 || len(m.sids) != 0 {
		t.Fatalf("left: rooms %d sids %d", len(m.rooms), len(m.sids))
	}
}

// nopNS is a Namespace that does nothing, to measure the adapter alone.
type nopNS struct{}

func (nopNS) Name() string                                                    { return "/" }
func (nopNS) Send([]string, *sio.Packet, Flags)                               {}
func (nopNS) SendWithAck(ids []string, _ *sio.Packet, _ Flags, _ AckFunc) int { return len(ids) }
func (nopNS) Disconnect([]string, bool)                                       {}
func (nopNS) Socket(string) (SocketInfo, bool)                                { return SocketInfo{}, false }

func benchMemory(n int) *Memory {
	m := NewMemory(nopNS{}).(*Memory)
	for i := range n {
		id := fmt.Sprintf("socket-%06d", i)
		m.AddAll(id, id, "room", fmt.Sprint("shard", i%10))
	}
	return m
}

func BenchmarkBroadcast(b *testing.B) {
	m := benchMemory(1000)
	ctx := context.Background()
	p := &sio.Packet{Type: sio.Event, Namespace: "/", Data: json.RawMessage(`["news",1]`)}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"all", Options{}},
		{"room", Options{Rooms: []string{"room"}}},
		{"rooms-except", Options{Rooms: []string{"room", "shard1"}, Except: []string{"shard2"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Broadcast(ctx, p, bc.opts)
			}
		})
	}
}

func BenchmarkJoinLeave(b *testing.B) {
	m := benchMemory(1000)
	ids := m.Sockets()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		m.AddAll(id, "hot")
		m.Del(id, "hot")
		i++
	}
}
