package adapter

import (
	"context"
	"testing"
	"time"

	"github.com/go-sio/sio/parser/sio"
)

func TestWithOffset(t *testing.T) {
	cases := []struct{ in, want string }{
		{`["news",1]`, `["news",1,"17-2"]`},
		{`["e"]`, `["e","17-2"]`},
		{`[]`, `["17-2"]`},
		{`[ ]`, `[ "17-2"]`},
		{`["b",{"_placeholder":true,"num":0}]`, `["b",{"_placeholder":true,"num":0},"17-2"]`},
	}
	for _, c := range cases {
		p := &sio.Packet{Type: sio.Event, Data: []byte(c.in)}
		if got := string(WithOffset(p, "17-2").Data); got != c.want {
			t.Errorf("WithOffset(%s) = %s, want %s", c.in, got, c.want)
		}
		if string(p.Data) != c.in {
			t.Errorf("WithOffset changed its input to %s", p.Data)
		}
	}
}

func TestShouldInclude(t *testing.T) {
	rooms := []string{"sid", "a"}
	cases := []struct {
		opts Options
		want bool
	}{
		{Options{}, true},
		{Options{Rooms: []string{"a"}}, true},
		{Options{Rooms: []string{"sid"}}, true},
		{Options{Rooms: []string{"b"}}, false},
		{Options{Except: []string{"a"}}, false},
		{Options{Rooms: []string{"a"}, Except: []string{"sid"}}, false},
		{Options{Except: []string{"b"}}, true},
	}
	for _, c := range cases {
		if got := ShouldInclude(rooms, c.opts); got != c.want {
			t.Errorf("ShouldInclude(%v, %+v) = %v", rooms, c.opts, got)
		}
	}
}

func TestCompareOffsets(t *testing.T) {
	cases := []struct {
		x, y string
		want int
	}{
		{"1-2", "1-2", 0},
		{"1-2", "1-10", -1},
		{"2-0", "1-99", 1},
		{"x", "1-1", -1},
		{"1-1", "1-", 1},
		{"1700000000000-0", "1700000000000-1", -1},
	}
	for _, c := range cases {
		if got := CompareOffsets(c.x, c.y); got != c.want {
			t.Errorf("CompareOffsets(%q, %q) = %d, want %d", c.x, c.y, got, c.want)
		}
	}
}

// recNS is a namespace of a server with recovery on.
type recNS struct {
	*fakeNS
	cfg RecoveryConfig
}

func (r recNS) Recovery() RecoveryConfig { return r.cfg }

func TestMemoryStoreRestore(t *testing.T) {
	ctx := context.Background()
	fns := &fakeNS{}
	m := NewMemory(recNS{fns, RecoveryConfig{MaxDisconnectionDuration: time.Minute, MaxBytes: 1 << 20}}).(*Memory)
	if m.store == nil {
		t.Fatal("no store with recovery on")
	}
	if NewMemory(&fakeNS{}).(*Memory).store != nil {
		t.Fatal("a store with recovery off")
	}
	ev := func(arg string) *sio.Packet {
		return &sio.Packet{Type: sio.Event, Namespace: "/", Data: []byte(`["e","` + arg + `"]`)}
	}
	_ = m.Broadcast(ctx, ev("first"), Options{})
	offsets := m.store.packets
	first := offsets[0].offset
	_ = m.Broadcast(ctx, ev("all"), Options{})
	_ = m.Broadcast(ctx, ev("a"), Options{Rooms: []string{"a"}})
	_ = m.Broadcast(ctx, ev("b"), Options{Rooms: []string{"b"}})
	_ = m.Broadcast(ctx, ev("not-a"), Options{Except: []string{"a"}})
	_ = m.Broadcast(ctx, ev("volatile"), Options{Flags: Flags{Volatile: true}})
	acked := ev("acked")
	acked.ID, acked.HasID = 7, true
	_ = m.Broadcast(ctx, acked, Options{})
	if len(m.store.packets) != 5 {
		t.Fatalf("%d packets stored, want 5 (no volatile, no acked)", len(m.store.packets))
	}
	if err := m.PersistSession(ctx, Session{SID: "s1", PID: "p1", Rooms: []string{"s1", "a"}}); err != nil {
		t.Fatal(err)
	}
	s, missed, ok, err := m.RestoreSession(ctx, "p1", first)
	if err != nil || !ok || s.SID != "s1" {
		t.Fatalf("restore: %v %v %+v", ok, err, s)
	}
	var got []string
	for _, p := range missed {
		got = append(got, string(p.Packet.Data))
		if string(WithOffset(&sio.Packet{Data: []byte(`[]`)}, p.Offset).Data) == "" {
			t.Fatal("empty offset")
		}
	}
	want := []string{
		`["e","all","` + missed[0].Offset + `"]`,
		`["e","a","` + missed[1].Offset + `"]`,
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("missed = %v, want %v", got, want)
	}
	if _, _, ok, _ := m.RestoreSession(ctx, "p1", first); ok {
		t.Fatal("a session restored twice")
	}
	_ = m.PersistSession(ctx, Session{SID: "s1", PID: "p1", Rooms: []string{"s1"}})
	if _, _, ok, _ := m.RestoreSession(ctx, "p1", "1-1"); ok {
		t.Fatal("restored from an offset of another store")
	}
	after, ok, _ := m.StoredAfter(ctx, []string{"x"}, first)
	if !ok || len(after) != 2 {
		t.Fatalf("StoredAfter = %d packets, ok %v; want 2 (all, not-a)", len(after), ok)
	}
}

func TestMemoryStoreCapsBytes(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(recNS{&fakeNS{}, RecoveryConfig{MaxDisconnectionDuration: time.Minute, MaxBytes: 4096}}).(*Memory)
	big := make([]byte, 1000)
	for i := range big {
		big[i] = 'x'
	}
	for range 100 {
		_ = m.Broadcast(ctx, &sio.Packet{Type: sio.Event, Data: []byte(`["e","` + string(big) + `"]`)}, Options{})
	}
	if m.store.bytes > 4096 {
		t.Fatalf("%d bytes stored, cap 4096", m.store.bytes)
	}
	if n := len(m.store.packets) - m.store.head; n == 0 || n > 4 {
		t.Fatalf("%d packets kept", n)
	}
}
