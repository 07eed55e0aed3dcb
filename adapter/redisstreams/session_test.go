package redisstreams_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/parser/sio"
)

func TestPersistAndRestore(t *testing.T) {
	rdb, opts, a, b := twoServers(t, time.Minute)
	ctx := context.Background()
	A := a.ns["/"]
	aa, ab := a.ad["/"], b.ad["/"]
	other := a.open("/other")

	s := adapter.Session{SID: "s1", PID: "pid-1", Rooms: []string{"s1", "r1", "r3"}, Data: json.RawMessage(`{"user":"ann","n":[1,2.5]}`)}
	if err := aa.PersistSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, opts.SessionKeyPrefix+"pid-1").Result()
	if err != nil || ttl <= 58*time.Second || ttl > time.Minute {
		t.Errorf("session TTL %v %v", ttl, err)
	}

	// The client's last packet.
	if err := aa.Broadcast(ctx, event(`["seen"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	offset := A.next(t).flags.Offset
	broadcast := func(data string, opts adapter.Options) {
		t.Helper()
		if err := ab.Broadcast(ctx, event(data), opts); err != nil {
			t.Fatal(err)
		}
	}
	broadcast(`["to r1",1]`, adapter.Options{Rooms: []string{"r1"}})
	broadcast(`["to r2"]`, adapter.Options{Rooms: []string{"r2"}})
	broadcast(`["all but r3"]`, adapter.Options{Except: []string{"r3"}})
	broadcast(`["volatile"]`, adapter.Options{Flags: adapter.Flags{Volatile: true}})
	broadcast(`["to s1"]`, adapter.Options{Rooms: []string{"s1", "nobody"}})
	if err := other.Broadcast(ctx, event(`["other namespace"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := ab.BroadcastWithAck(ctx, event(`["with ack"]`), adapter.Options{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ab.AddSockets(ctx, adapter.Options{}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	broadcast(`["all",{"b":true}]`, adapter.Options{})

	// Restored on the other server.
	got, missed, ok, err := ab.RestoreSession(ctx, "pid-1", offset)
	if err != nil || !ok {
		t.Fatalf("restore: %v %v", ok, err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("session %+v, want %+v", got, s)
	}
	var data []string
	last := offset
	for _, m := range missed {
		if adapter.CompareOffsets(m.Offset, last) <= 0 {
			t.Errorf("offset %s after %s", m.Offset, last)
		}
		last = m.Offset
		if m.Packet.Type != sio.Event || m.Packet.Namespace != "/" {
			t.Errorf("packet %+v", m.Packet)
		}
		data = append(data, string(m.Packet.Data))
	}
	wantData := []string{
		`["to r1",1,"` + missedOffset(missed, 0) + `"]`,
		`["to s1","` + missedOffset(missed, 1) + `"]`,
		`["all",{"b":true},"` + missedOffset(missed, 2) + `"]`,
	}
	if !slices.Equal(data, wantData) {
		t.Errorf("missed\n %q\nwant\n %q", data, wantData)
	}

	// The same packets by offset, without a session.
	again, ok, err := aa.StoredAfter(ctx, s.Rooms, offset)
	if !ok || err != nil || !reflect.DeepEqual(again, missed) {
		t.Errorf("StoredAfter: %v %v %v", again, ok, err)
	}
	if again, ok, err = aa.StoredAfter(ctx, s.Rooms, missed[1].Offset); !ok || err != nil || len(again) != 1 || again[0].Offset != missed[2].Offset {
		t.Errorf("StoredAfter the second: %v %v %v", again, ok, err)
	}
	for _, off := range []string{"1-0", "x"} {
		if _, ok, err := aa.StoredAfter(ctx, s.Rooms, off); ok || err != nil {
			t.Errorf("StoredAfter(%q): %v %v", off, ok, err)
		}
	}

	// A session is restored once.
	if _, _, ok, err := ab.RestoreSession(ctx, "pid-1", offset); ok || err != nil {
		t.Errorf("second restore: %v %v", ok, err)
	}
	if _, _, ok, err := ab.RestoreSession(ctx, "unknown", offset); ok || err != nil {
		t.Errorf("unknown pid: %v %v", ok, err)
	}

	// Unknown, malformed, or trimmed offsets.
	for _, off := range []string{"1-0", "abc", "", "1-2-3", offset + " "} {
		if err := aa.PersistSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, err := ab.RestoreSession(ctx, "pid-1", off); ok || err != nil {
			t.Errorf("offset %q: %v %v", off, ok, err)
		}
	}
	if err := aa.PersistSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XTrimMaxLen(ctx, opts.StreamName, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := ab.RestoreSession(ctx, "pid-1", offset); ok || err != nil {
		t.Errorf("trimmed offset: %v %v", ok, err)
	}

	// Nothing missed: an empty list.
	A.drain()
	if err := aa.Broadcast(ctx, event(`["last"]`), adapter.Options{Rooms: []string{"a2"}}); err != nil {
		t.Fatal(err)
	}
	offset = A.next(t).flags.Offset
	if err := aa.PersistSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, missed, ok, err := aa.RestoreSession(ctx, "pid-1", offset); !ok || err != nil || len(missed) != 0 {
		t.Errorf("nothing missed: %v %v %v", missed, ok, err)
	}
}

func missedOffset(m []adapter.StoredPacket, i int) string {
	if i < len(m) {
		return m[i].Offset
	}
	return "?"
}

func TestSessionExpires(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	a := newServer(t, "A", rdb, opts, 100*time.Millisecond)
	ctx := context.Background()
	a.connect("/", nil, "a1")
	if err := a.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	offset := a.ns["/"].next(t).flags.Offset
	if err := a.ad["/"].PersistSession(ctx, adapter.Session{SID: "s", PID: "p", Rooms: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, opts.SessionKeyPrefix+"p").Result()
	if err != nil || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Errorf("TTL %v %v", ttl, err)
	}
	time.Sleep(250 * time.Millisecond)
	if _, _, ok, err := a.ad["/"].RestoreSession(ctx, "p", offset); ok || err != nil {
		t.Errorf("expired session restored: %v %v", ok, err)
	}

	// Without recovery, no session is kept.
	plain := newServer(t, "B", rdb, opts, 0)
	if err := plain.ad["/"].PersistSession(ctx, adapter.Session{SID: "s", PID: "p"}); !errors.Is(err, adapter.ErrRecoveryDisabled) {
		t.Error("session persisted without recovery")
	}
}

// A session written by Node's adapter (the value of the reference
// documentation) is restored, and one written by Go has that value.
func TestSessionFormat(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	a := newServer(t, "A", rdb, opts, time.Minute)
	ctx := context.Background()
	a.connect("/", nil, "a1")
	if err := a.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	offset := a.ns["/"].next(t).flags.Offset
	const nodeValue = "hKNzaWS0c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3OjcGlktHBwcHBwcHBwcHBwcHBwcHBwcHBwpXJvb21zkrRzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc6Vyb29tMaRkYXRhgA=="
	pid := "pppppppppppppppppppp"
	if err := rdb.Set(ctx, opts.SessionKeyPrefix+pid, nodeValue, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	s, missed, ok, err := a.ad["/"].RestoreSession(ctx, pid, offset)
	want := adapter.Session{SID: "ssssssssssssssssssss", PID: pid, Rooms: []string{"ssssssssssssssssssss", "room1"}, Data: json.RawMessage("{}")}
	if !ok || err != nil || !reflect.DeepEqual(s, want) || len(missed) != 0 {
		t.Fatalf("restored %+v %v %v %v", s, missed, ok, err)
	}
	if err := a.ad["/"].PersistSession(ctx, want); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, opts.SessionKeyPrefix+pid).Result(); err != nil || v != nodeValue {
		t.Errorf("stored %q %v", v, err)
	}
}
