package redisstreams_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/parser/sio"
)

func TestStreamName(t *testing.T) {
	for _, tc := range []struct {
		nsp  string
		want string
	}{
		{"/", "socket.io-3"},
		{"/chat", "socket.io-3"},
		{"/admin", "socket.io-0"},
		{"/notifications", "socket.io--3"},
		{"/orders-eu-west", "socket.io--1"},
	} {
		if got := redisstreams.StreamName("socket.io", 4, tc.nsp); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.nsp, got, tc.want)
		}
	}
	if got := redisstreams.StreamName("s", 1, "/notifications"); got != "s" {
		t.Errorf("one stream: %s", got)
	}
	// UTF-16 code units: U+1F600 is two of them (value computed by Node).
	if got := redisstreams.StreamName("s", 7, "/😀"); got != "s-5" {
		t.Errorf("astral: %s", got)
	}
}

// twoServers starts servers A and B on the same stream, each with
// namespace "/" and sockets a1 (room r1), a2 on A, b1 (r1), b2 (r2) on B.
func twoServers(t *testing.T, recovery time.Duration) (*goredis.Client, redisstreams.Options, *server, *server) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	a := newServer(t, "A", rdb, opts, recovery)
	b := newServer(t, "B", rdb, opts, recovery)
	redistest.WaitServerCount(t, a.ad["/"], 2)
	a.connect("/", []string{"r1"}, "a1")
	a.connect("/", nil, "a2")
	b.connect("/", []string{"r1"}, "b1")
	b.connect("/", []string{"r2"}, "b2")
	return rdb, opts, a, b
}

func expectSend(t *testing.T, f *fakeNS, ids []string, data string) sent {
	t.Helper()
	s := f.next(t)
	if !slices.Equal(s.ids, ids) || string(s.p.Data) != data {
		t.Fatalf("%s: sent %s to %v, want %s to %v", f.server, s.p.Data, s.ids, data, ids)
	}
	return s
}

func TestBroadcastAcrossServers(t *testing.T) {
	_, _, a, b := twoServers(t, 0)
	ctx := context.Background()
	A, B := a.ns["/"], b.ns["/"]

	if err := a.ad["/"].Broadcast(ctx, event(`["all",1]`), adapter.Options{Flags: adapter.Flags{Compress: true}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a1", "a2"}, `["all",1]`)
	s := expectSend(t, B, []string{"b1", "b2"}, `["all",1]`)
	if s.flags.Offset != "" || !s.flags.Compress || s.flags.Volatile {
		t.Errorf("flags %+v", s.flags)
	}

	if err := b.ad["/"].Broadcast(ctx, event(`["r1"]`), adapter.Options{Rooms: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, B, []string{"b1"}, `["r1"]`)
	s = expectSend(t, A, []string{"a1"}, `["r1"]`)
	if s.flags.Compress {
		t.Errorf("compress false lost: %+v", s.flags)
	}

	opts := adapter.Options{Rooms: []string{"r1", "r2"}, Except: []string{"b1"}, Flags: adapter.Flags{Volatile: true, Compress: true}}
	if err := a.ad["/"].Broadcast(ctx, event(`["except"]`), opts); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a1"}, `["except"]`)
	s = expectSend(t, B, []string{"b2"}, `["except"]`)
	if !s.flags.Volatile {
		t.Errorf("volatile lost: %+v", s.flags)
	}

	// To a socket of the other server only.
	if err := a.ad["/"].Broadcast(ctx, event(`["direct"]`), adapter.Options{Rooms: []string{"b2"}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, B, []string{"b2"}, `["direct"]`)

	// Local: not in the stream, not on B.
	if err := a.ad["/"].Broadcast(ctx, event(`["local"]`), adapter.Options{Flags: adapter.Flags{Local: true}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a1", "a2"}, `["local"]`)
	B.none(t)
	// The sender gets its own broadcasts once.
	A.none(t)
}

func TestXADDLayout(t *testing.T) {
	rdb, opts, a, _ := twoServers(t, 0)
	ctx := context.Background()
	if err := a.ad["/"].Broadcast(ctx, event(`["hello"]`), adapter.Options{Rooms: []string{"room1"}, Flags: adapter.Flags{Compress: true}}); err != nil {
		t.Fatal(err)
	}
	if err := a.ad["/"].AddSockets(ctx, adapter.Options{Rooms: []string{"r1"}, Flags: adapter.Flags{Compress: true}}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := a.ad["/"].DisconnectSockets(ctx, adapter.Options{Except: []string{"r1"}}, true); err != nil {
		t.Fatal(err)
	}
	entries, err := rdb.XRange(ctx, opts.StreamName, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d entries", len(entries))
	}
	uid := a.ad["/"].ServerID()
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(uid) {
		t.Errorf("server id %q", uid)
	}
	want := []map[string]any{
		{"uid": uid, "nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":["hello"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}}`},
		{"uid": uid, "nsp": "/", "type": "4", "data": `{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["x"]}`},
		{"uid": uid, "nsp": "/", "type": "6", "data": `{"opts":{"rooms":[],"except":["r1"],"flags":{"compress":false}},"close":true}`},
	}
	for i, e := range entries {
		if !reflect.DeepEqual(e.Values, want[i]) {
			t.Errorf("entry %d: %v, want %v", i, e.Values, want[i])
		}
	}
	// The field order is Node's: uid, nsp, type, data.
	raw, err := rdb.Do(ctx, "XRANGE", opts.StreamName, "-", "+", "COUNT", 1).Slice()
	if err != nil {
		t.Fatal(err)
	}
	fields := raw[0].([]any)[1].([]any)
	var keys []string
	for i := 0; i < len(fields); i += 2 {
		keys = append(keys, fields[i].(string))
	}
	if !slices.Equal(keys, []string{"uid", "nsp", "type", "data"}) {
		t.Errorf("field order %v", keys)
	}
}

var offsetForm = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

func TestOffsetsWithRecovery(t *testing.T) {
	rdb, opts, a, b := twoServers(t, time.Minute)
	ctx := context.Background()
	A, B := a.ns["/"], b.ns["/"]

	if err := a.ad["/"].Broadcast(ctx, event(`["news",{"n":1}]`), adapter.Options{Rooms: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	sa := A.next(t)
	id := sa.flags.Offset
	if !offsetForm.MatchString(id) {
		t.Fatalf("offset %q", id)
	}
	want := `["news",{"n":1},"` + id + `"]`
	if string(sa.p.Data) != want {
		t.Errorf("A sent %s, want %s", sa.p.Data, want)
	}
	sb := expectSend(t, B, []string{"b1"}, want)
	if sb.flags.Offset != id {
		t.Errorf("B offset %q, want %q", sb.flags.Offset, id)
	}
	// The offset is the stream entry id, whose data has no offset.
	e, err := rdb.XRange(ctx, opts.StreamName, id, id).Result()
	if err != nil || len(e) != 1 || !strings.Contains(e[0].Values["data"].(string), `"data":["news",{"n":1}]`) {
		t.Fatalf("entry %v %v", e, err)
	}

	// No offset for volatile packets, packets with an ack id, local ones,
	// nor on a server without recovery.
	if err := a.ad["/"].Broadcast(ctx, event(`["v"]`), adapter.Options{Flags: adapter.Flags{Volatile: true}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a1", "a2"}, `["v"]`)
	s := expectSend(t, B, []string{"b1", "b2"}, `["v"]`)
	if s.flags.Offset != "" {
		t.Errorf("volatile offset %q", s.flags.Offset)
	}
	withID := event(`["id"]`)
	withID.ID, withID.HasID = 3, true
	if err := a.ad["/"].Broadcast(ctx, withID, adapter.Options{Rooms: []string{"a2"}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a2"}, `["id"]`)

	plain := newServer(t, "C", rdb, opts, 0)
	plain.connect("/", nil, "c1")
	redistest.WaitServerCount(t, a.ad["/"], 3)
	if err := b.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{Rooms: []string{"c1", "a2"}}); err != nil {
		t.Fatal(err)
	}
	s = A.next(t)
	if !strings.HasPrefix(string(s.p.Data), `["x","`) || s.flags.Offset == "" {
		t.Errorf("A: %s %+v", s.p.Data, s.flags)
	}
	s = expectSend(t, plain.ns["/"], []string{"c1"}, `["x"]`)
	if s.flags.Offset != "" {
		t.Errorf("C offset %q", s.flags.Offset)
	}
}

func TestRemoteSocketOperations(t *testing.T) {
	_, _, a, b := twoServers(t, 0)
	ctx := context.Background()
	A, B := a.ns["/"], b.ns["/"]

	if err := a.ad["/"].AddSockets(ctx, adapter.Options{Rooms: []string{"r1"}}, []string{"j1", "j2"}); err != nil {
		t.Fatal(err)
	}
	// AddSockets is applied by the sender at once, by B when it reads the
	// stream: a broadcast from A after it finds b1 in j2.
	if got := a.ad["/"].Sockets("j2"); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("A j2: %v", got)
	}
	if err := a.ad["/"].Broadcast(ctx, event(`["j2"]`), adapter.Options{Rooms: []string{"j2"}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, A, []string{"a1"}, `["j2"]`)
	expectSend(t, B, []string{"b1"}, `["j2"]`)
	if got := b.ad["/"].Rooms("b1"); !slices.Equal(got, []string{"b1", "r1", "j1", "j2"}) {
		t.Errorf("B b1 rooms: %v", got)
	}

	if err := b.ad["/"].DelSockets(ctx, adapter.Options{Except: []string{"b2"}}, []string{"j1", "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.ad["/"].Broadcast(ctx, event(`["fence"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, B, []string{"b1", "b2"}, `["fence"]`)
	expectSend(t, A, []string{"a1", "a2"}, `["fence"]`)
	if got := a.ad["/"].Rooms("a1"); !slices.Equal(got, []string{"a1", "j2"}) {
		t.Errorf("A a1 rooms: %v", got)
	}

	if err := a.ad["/"].DisconnectSockets(ctx, adapter.Options{Rooms: []string{"j2"}}, true); err != nil {
		t.Fatal(err)
	}
	if err := a.ad["/"].Broadcast(ctx, event(`["fence"]`), adapter.Options{Rooms: []string{"b2"}}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, B, []string{"b2"}, `["fence"]`)
	if got := B.disconnected(); !reflect.DeepEqual(got, [][]string{{"b1"}}) {
		t.Errorf("B disconnected %v", got)
	}
	if got := A.disconnected(); !reflect.DeepEqual(got, [][]string{{"a1"}}) {
		t.Errorf("A disconnected %v", got)
	}
}

func TestFetchSocketsAndServerCount(t *testing.T) {
	rdb, opts, a, b := twoServers(t, 0)
	ctx := context.Background()

	got, err := a.ad["/"].FetchSockets(ctx, adapter.Options{Rooms: []string{"r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID+"@"+string(s.Data))
	}
	slices.Sort(ids)
	want := []string{`a1@{"node":"A"}`, `b1@{"node":"B"}`, `b2@{"node":"B"}`}
	if !slices.Equal(ids, want) {
		t.Errorf("fetched %v, want %v", ids, want)
	}
	for _, s := range got {
		if s.ID == "b1" && (!slices.Equal(s.Rooms, []string{"b1", "r1"}) || string(s.Handshake) != `{"auth":{}}`) {
			t.Errorf("b1: %+v", s)
		}
	}
	local, err := a.ad["/"].FetchSockets(ctx, adapter.Options{Flags: adapter.Flags{Local: true}})
	if err != nil || len(local) != 2 {
		t.Errorf("local fetch %v %v", local, err)
	}

	// A third server that never answers: the request times out.
	c := newServer(t, "C", rdb, opts, 0)
	redistest.WaitServerCount(t, a.ad["/"], 3)
	_ = c.ad["/"].Close()
	silent := rdb.Subscribe(ctx, opts.ChannelPrefix+"#/#")
	defer silent.Close()
	if _, err := silent.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	redistest.WaitServerCount(t, a.ad["/"], 3)
	start := time.Now()
	_, err = a.ad["/"].FetchSockets(ctx, adapter.Options{Flags: adapter.Flags{Timeout: 300 * time.Millisecond}})
	if !errors.Is(err, adapter.ErrTimeout) || !strings.Contains(err.Error(), "1 of 2 responses") {
		t.Errorf("err %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	_ = silent.Close()
	_ = b.ad["/"].Close()
	redistest.WaitServerCount(t, a.ad["/"], 1)
}

func TestBroadcastWithAckAcrossServers(t *testing.T) {
	_, _, a, b := twoServers(t, 0)
	ctx := context.Background()
	A, B := a.ns["/"], b.ns["/"]

	counts := make(chan int, 4)
	acks := make(chan string, 4)
	err := a.ad["/"].BroadcastWithAck(ctx, event(`["q",7]`), adapter.Options{Except: []string{"a2"}, Flags: adapter.Flags{Timeout: 2 * time.Second}},
		func(n int) { counts <- n },
		func(id string, ack *sio.Packet) { acks <- id + ":" + string(ack.Data) })
	if err != nil {
		t.Fatal(err)
	}
	la := expectSend(t, A, []string{"a1"}, `["q",7]`)
	lb := expectSend(t, B, []string{"b1", "b2"}, `["q",7]`)
	if lb.onAck == nil || la.onAck == nil {
		t.Fatal("not sent with acknowledgements")
	}
	la.onAck("a1", &sio.Packet{Type: sio.Ack, Data: json.RawMessage(`["from a1"]`)})
	lb.onAck("b1", &sio.Packet{Type: sio.Ack, Data: json.RawMessage(`[{"x":1},"ignored"]`)})
	lb.onAck("b2", &sio.Packet{Type: sio.Ack, Data: json.RawMessage(`[]`)})
	var gotCounts []int
	var gotAcks []string
	for range 2 {
		select {
		case n := <-counts:
			gotCounts = append(gotCounts, n)
		case <-time.After(waitLong):
			t.Fatal("missing client count")
		}
	}
	for range 3 {
		select {
		case s := <-acks:
			gotAcks = append(gotAcks, s)
		case <-time.After(waitLong):
			t.Fatalf("missing acks, got %v", gotAcks)
		}
	}
	slices.Sort(gotCounts)
	slices.Sort(gotAcks)
	if !slices.Equal(gotCounts, []int{1, 2}) {
		t.Errorf("counts %v", gotCounts)
	}
	if want := []string{`:[]`, `:[{"x":1}]`, `a1:["from a1"]`}; !slices.Equal(gotAcks, want) {
		t.Errorf("acks %v, want %v", gotAcks, want)
	}
}

func TestServerSideEmitAcrossServers(t *testing.T) {
	_, _, a, b := twoServers(t, 0)
	ctx := context.Background()
	got := make(chan *redisstreams.ServerSideEvent, 4)
	b.ad["/"].OnServerSideEmit(func(e *redisstreams.ServerSideEvent) {
		got <- e
		if e.WantsAck() {
			_ = e.Ack(map[string]any{"from": "B", "bin": []byte{1}})
			if err := e.Ack(1); !errors.Is(err, redisstreams.ErrAckSent) {
				t.Errorf("second ack: %v", err)
			}
		} else if err := e.Ack(1); !errors.Is(err, redisstreams.ErrNoAck) {
			t.Errorf("ack without request: %v", err)
		}
	})
	a.ad["/"].OnServerSideEmit(func(e *redisstreams.ServerSideEvent) { t.Errorf("own event received: %s", e.Event) })
	if err := a.ad["/"].ServerSideEmit(ctx, "hello", 1, []byte{2, 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Event != "hello" || len(e.Args) != 2 || string(e.Args[0]) != "1" || !reflect.DeepEqual(e.Attachments, [][]byte{{2, 3}}) {
			t.Errorf("event %+v", e)
		}
	case <-time.After(waitLong):
		t.Fatal("no server-side event")
	}
	replies, err := a.ad["/"].ServerSideEmitWithAck(ctx, "ask")
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 1 || string(replies[0]) != `{"bin":{"_placeholder":true,"num":0},"from":"B"}` {
		t.Errorf("replies %s", replies)
	}
	if err := a.ad["/"].ServerSideEmit(ctx, "disconnect"); err == nil {
		t.Error("reserved event name accepted")
	}
}

// A broadcast of a packet with an ack id (its stream entry carries none)
// does not hold up the reader: what follows it is delivered at once, not
// after RequestTimeout.
func TestBroadcastWithIDDoesNotStallReader(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	opts.RequestTimeout = time.Minute // a stall would outlast waitLong
	a := newServer(t, "A", rdb, opts, time.Minute)
	b := newServer(t, "B", rdb, opts, time.Minute)
	redistest.WaitServerCount(t, a.ad["/"], 2)
	a.connect("/", nil, "a1")
	ctx := context.Background()
	withID := event(`["id"]`)
	withID.ID, withID.HasID = 7, true
	if err := a.ad["/"].Broadcast(ctx, withID, adapter.Options{Rooms: []string{"a1"}}); err != nil {
		t.Fatal(err)
	}
	if s := expectSend(t, a.ns["/"], []string{"a1"}, `["id"]`); s.flags.Offset != "" || !s.p.HasID {
		t.Fatalf("packet with an ack id sent with offset %q, HasID %v", s.flags.Offset, s.p.HasID)
	}
	if err := b.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{Rooms: []string{"a1"}}); err != nil {
		t.Fatal(err)
	}
	if s := a.ns["/"].next(t); !strings.HasPrefix(string(s.p.Data), `["x","`) {
		t.Fatalf("A sent %s", s.p.Data)
	}
}
