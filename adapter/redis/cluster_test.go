package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/emitter"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

// world is the layout most tests use: three nodes, four clients.
//
//	a1 on A in r1; b1 on B in r1 and r2; c1 on C in r2; c2 on C in no room.
type world struct {
	key            string
	A, B, C        *testNode
	a1, b1, c1, c2 *tclient
}

func newWorld(t *testing.T, opts redis.Options) *world {
	t.Helper()
	rdb := redistest.NeedRedis(t)
	opts.Key = uniqueKey(t)
	nodes := newCluster(t, rdb, 3, opts)
	w := &world{key: opts.Key, A: nodes[0], B: nodes[1], C: nodes[2]}
	w.a1 = dial(t, w.A, "a1", "/", "r1")
	w.b1 = dial(t, w.B, "b1", "/", "r1", "r2")
	w.c1 = dial(t, w.C, "c1", "/", "r2")
	w.c2 = dial(t, w.C, "c2", "/")
	return w
}

func (w *world) all() []*tclient { return []*tclient{w.a1, w.b1, w.c1, w.c2} }

func TestBroadcastAcrossNodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})

	if err := w.A.srv.Emit("all", 1, "two"); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.all() {
		c.expect("all", `[1,"two"]`)
	}

	// One room: published on the room channel.
	if err := w.A.srv.To("r1").Emit("r1", true); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("r1", "[true]")
	w.b1.expect("r1", "[true]")
	fence(t, w.A, "/", w.all()...)

	// Two rooms with an exception, from another node.
	if err := w.B.srv.To("r1", "r2").Except("r2").Emit("r1-not-r2"); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("r1-not-r2", "[]")
	fence(t, w.B, "/", w.all()...)

	if err := w.C.srv.Except("r1").Emit("not-r1", map[string]any{"k": []any{1.5, nil}}); err != nil {
		t.Fatal(err)
	}
	w.c1.expect("not-r1", `[{"k":[1.5,null]}]`)
	w.c2.expect("not-r1", `[{"k":[1.5,null]}]`)
	fence(t, w.C, "/", w.all()...)

	// A socket id is a room, on the node that has the socket.
	if err := w.A.srv.To(w.b1.id).Emit("direct"); err != nil {
		t.Fatal(err)
	}
	w.b1.expect("direct", "[]")
	fence(t, w.A, "/", w.all()...)

	// socket.broadcast: everyone but the sender.
	w.a1.emit("shout", "hey")
	for _, c := range []*tclient{w.b1, w.c1, w.c2} {
		c.expect("shouted", `["hey"]`)
	}
	fence(t, w.A, "/", w.all()...)
}

func TestBinaryAcrossNodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	big := bytes.Repeat([]byte{0xab}, 70000)
	if err := w.A.srv.To("r2").Emit("bin", []byte{1, 2, 3}, map[string]any{"x": []byte{}, "y": big}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tclient{w.b1, w.c1} {
		p := c.expect("bin", "")
		if !reflect.DeepEqual(p.Attachments, [][]byte{{1, 2, 3}, {}, big}) {
			t.Errorf("%s: attachments %d", c.name, len(p.Attachments))
		}
		if got := string(p.Data); got != `["bin",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1},"y":{"_placeholder":true,"num":2}}]` {
			t.Errorf("%s: data %s", c.name, got)
		}
	}
	fence(t, w.A, "/", w.all()...)
}

func TestLocalAndVolatile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	rdb := redistest.NeedRedis(t)
	ctx := context.Background()
	sub := rdb.PSubscribe(ctx, w.key+"#/#*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	if err := w.A.srv.Local().Emit("local"); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("local", "[]")

	if err := w.A.srv.Volatile().Compress(false).Emit("volatile", "v"); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.all() {
		c.expect("volatile", `["v"]`)
	}
	fence(t, w.A, "/", w.all()...)

	// The local broadcast was not published; the volatile one carries its
	// flags.
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.DecodeBroadcast([]byte(msg.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Packet.Data) != `["volatile","v"]` || !m.Opts.Flags.Volatile || m.Opts.Flags.Compress == nil || *m.Opts.Flags.Compress {
		t.Errorf("published %s %+v", m.Packet.Data, m.Opts.Flags)
	}
	if m.UID != w.A.adapter("/").ServerID() {
		t.Errorf("uid %q", m.UID)
	}
}

func TestFetchSockets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	ctx := context.Background()
	for _, n := range []*testNode{w.A, w.B, w.C} {
		socks, err := n.srv.FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range socks {
			ids = append(ids, s.ID)
			var data map[string]string
			if err := json.Unmarshal(s.Data, &data); err != nil || data["node"] == "" {
				t.Errorf("socket %s data %s", s.ID, s.Data)
			}
			var hs map[string]any
			if err := json.Unmarshal(s.Handshake, &hs); err != nil || hs["auth"] == nil {
				t.Errorf("socket %s handshake %s", s.ID, s.Handshake)
			}
			if s.ID == w.b1.id && !reflect.DeepEqual(sortedIDs(s.Rooms...), sortedIDs(w.b1.id, "r1", "r2")) {
				t.Errorf("b1 rooms %q", s.Rooms)
			}
		}
		want := sortedIDs(w.a1.id, w.b1.id, w.c1.id, w.c2.id)
		if !reflect.DeepEqual(sortedIDs(ids...), want) {
			t.Errorf("from %s: %q, want %q", n.name, sortedIDs(ids...), want)
		}
	}
	socks, err := w.A.srv.In("r2").Except(w.c1.id).FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || socks[0].ID != w.b1.id {
		t.Errorf("r2 except c1: %+v", socks)
	}
	rooms, err := w.A.adapter("/").ClusterRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"r1", "r2", w.c2.id, w.b1.id} {
		if !slices.Contains(rooms, r) {
			t.Errorf("cluster rooms %q lack %q", rooms, r)
		}
	}
}

func TestSocketsJoinLeaveDisconnect(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	ctx := context.Background()

	if err := w.A.srv.In("r1").SocketsJoin(ctx, "r9"); err != nil {
		t.Fatal(err)
	}
	fence(t, w.A, "/", w.all()...) // the join request precedes the fence
	if err := w.C.srv.To("r9").Emit("r9"); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("r9", "[]")
	w.b1.expect("r9", "[]")
	fence(t, w.C, "/", w.all()...)

	if err := w.C.srv.Except(w.a1.id).SocketsLeave(ctx, "r9"); err != nil {
		t.Fatal(err)
	}
	fence(t, w.C, "/", w.all()...)
	if err := w.B.srv.To("r9").Emit("r9-again"); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("r9-again", "[]")
	fence(t, w.B, "/", w.all()...)

	if err := w.A.srv.In("r2").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	w.b1.expectDisconnect()
	w.c1.expectDisconnect()
	socks, err := w.A.srv.FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 {
		t.Errorf("%d sockets left", len(socks))
	}
}

func TestBroadcastWithAck(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	for _, c := range w.all() {
		c.onAck(func(event string, args []json.RawMessage) []any {
			if c == w.c1 {
				return []any{[]byte("bin-" + c.name), "ignored second argument"}
			}
			return []any{c.name}
		})
	}
	ctx := context.Background()
	replies, err := w.B.srv.Timeout(waitLong).EmitWithAck(ctx, "q", 42)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range replies {
		var s string
		var b []byte
		if _, bin := sio.IsPlaceholder(r.Reply.Args()[0]); bin {
			if err := r.Reply.Bind(&b); err != nil {
				t.Errorf("reply %s: %v", r.Reply.Args(), err)
			}
			got = append(got, string(b))
		} else if err := r.Reply.Bind(&s); err == nil {
			got = append(got, s)
		} else {
			t.Errorf("reply %s: %v", r.Reply.Args(), err)
		}
		if (r.SocketID == "") == (s == "b1") {
			t.Errorf("reply %q from socket %q", s, r.SocketID)
		}
	}
	slices.Sort(got)
	if want := []string{"a1", "b1", "bin-c1", "c2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	for _, c := range w.all() {
		c.expect("q", "[42]")
	}

	// A client that does not answer: the replies received come with the
	// timeout.
	w.c2.onAck(nil)
	replies, err = w.A.srv.To(w.c1.id, w.c2.id).Timeout(500*time.Millisecond).EmitWithAck(ctx, "q2")
	if !errors.Is(err, socketio.ErrAckTimeout) {
		t.Errorf("err %v", err)
	}
	if len(replies) != 1 {
		t.Errorf("%d replies", len(replies))
	}
	replies, err = w.A.srv.To(w.b1.id, w.a1.id).Timeout(waitLong).EmitWithAck(ctx, "q3")
	if err != nil || len(replies) != 2 {
		t.Errorf("to two sockets: %d replies, %v", len(replies), err)
	}
}

func TestServerCountAndClose(t *testing.T) {
	t.Parallel()
	rdb := redistest.NeedRedis(t)
	opts := redis.Options{Key: uniqueKey(t)}
	nodes := newCluster(t, rdb, 3, opts)
	for _, n := range nodes {
		redistest.WaitServerCount(t, n.adapter("/"), 3)
	}
	// A namespace counts the servers that have it.
	nodes[1].srv.Of("/admin")
	nodes[2].srv.Of("/admin")
	redistest.WaitServerCount(t, nodes[1].adapter("/admin"), 3)
	nodes[2].close()
	redistest.WaitServerCount(t, nodes[0].adapter("/"), 2)
	redistest.WaitServerCount(t, nodes[0].adapter("/admin"), 2)
	if err := nodes[2].adapter("/").Broadcast(context.Background(), nil, adapter.Options{}); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("broadcast on a closed adapter: %v", err)
	}
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	adm := dial(t, w.B, "adm", "/admin")
	redistest.WaitServerCount(t, w.A.adapter("/admin"), 3)
	if err := w.A.srv.Of("/admin").Emit("admin-only"); err != nil {
		t.Fatal(err)
	}
	adm.expect("admin-only", "[]")
	fence(t, w.A, "/", w.all()...)
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	rdb := redistest.NeedRedis(t)
	opts := redis.Options{Key: uniqueKey(t), RequestsTimeout: 300 * time.Millisecond}
	nodes := newCluster(t, rdb, 2, opts)
	a := nodes[0].adapter("/")
	var got sync.Map
	nodes[1].adapter("/").OnServerSideEmit(func(e *redis.ServerSideEvent) { got.Store(e.Event, true); _ = e.Ack("ok") })

	// A node that is subscribed but never answers.
	ctx := context.Background()
	silent := rdb.Subscribe(ctx, wire.NewChannels(opts.Key, "/").Request)
	defer silent.Close()
	if _, err := silent.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	redistest.WaitServerCount(t, a, 3)

	start := time.Now()
	_, err := nodes[0].srv.FetchSockets(ctx)
	if !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("fetchSockets: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("fetchSockets returned after %v", d)
	}
	if _, err := a.ClusterRooms(ctx); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("allRooms: %v", err)
	}
	res, err := a.ServerSideEmitWithAck(ctx, "ping")
	if !errors.Is(err, adapter.ErrTimeout) || len(res) != 1 || string(res[0]) != `"ok"` {
		t.Errorf("serverSideEmitWithAck: %q %v", res, err)
	}
	// The caller's deadline counts too.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := nodes[0].srv.FetchSockets(cctx); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("fetchSockets with a deadline: %v", err)
	}
	// A broadcast with acks waits for a count from every server.
	if _, err := nodes[0].srv.Timeout(300*time.Millisecond).EmitWithAck(ctx, "x"); !errors.Is(err, socketio.ErrAckTimeout) {
		t.Errorf("emitWithAck: %v", err)
	}
}

// logCapture records the messages of the records logged.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }
func (l *logCapture) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func TestMalformedMessagesDropped(t *testing.T) {
	t.Parallel()
	rdb := redistest.NeedRedis(t)
	logs := &logCapture{}
	opts := redis.Options{Key: uniqueKey(t), Logger: slog.New(logs)}
	nodes := newCluster(t, rdb, 2, opts)
	a1 := dial(t, nodes[0], "a1", "/", "r1")
	b1 := dial(t, nodes[1], "b1", "/", "r1")
	ch := wire.NewChannels(opts.Key, "/")
	ctx := context.Background()
	for channel, payloads := range map[string][]string{
		ch.Broadcast:    {"", "garbage", "\x93\xa1u\xc0\xc0", "\x93\xa1u\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1/\xc0", "\xdf\xff\xff\xff\xff"},
		ch.Room("r1"):   {"\x91"},
		ch.Request:      {"{not json", `{"type":"x"}`, "\x85\xa3uid", `{"type":5}`, `{"type":7,"uid":"z","requestId":"q"}`},
		ch.Response:     {"{", "\xc1"},
		ch.Room("nope"): {"ignored: no such room here"},
	} {
		for _, p := range payloads {
			if err := rdb.Publish(ctx, channel, p).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := nodes[0].srv.To("r1").Emit("still-working"); err != nil {
		t.Fatal(err)
	}
	a1.expect("still-working", "[]")
	b1.expect("still-working", "[]")
	deadline := time.Now().Add(waitLong)
	const want = 2 * (6 + 5 + 2) // both nodes, every payload but the one for a room they lack
	for logs.count("adapter/redis: dropping malformed") < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := logs.count("adapter/redis: dropping malformed"); n != want {
		t.Errorf("%d records, want %d: %q", n, want, logs.msgs)
	}
	// A peer sending garbage cannot flood the logs: one warning per node,
	// the rest at Debug level.
	if n := logs.count("WARN adapter/redis: dropping malformed"); n != 2 {
		t.Errorf("%d warnings, want 2: %q", n, logs.msgs)
	}
	if _, err := nodes[1].srv.FetchSockets(ctx); err != nil {
		t.Errorf("fetchSockets after garbage: %v", err)
	}
}

func TestServerSideEmit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	type recv struct{ node, event, args string }
	got := make(chan recv, 10)
	for _, n := range []*testNode{w.A, w.B, w.C} {
		n.adapter("/").OnServerSideEmit(func(e *redis.ServerSideEvent) {
			raw, _ := json.Marshal(e.Args)
			got <- recv{n.name, e.Event, string(raw)}
			if e.WantsAck() {
				if err := e.Ack(map[string]string{"from": n.name}); err != nil {
					t.Error(err)
				}
				if err := e.Ack(1); !errors.Is(err, redis.ErrAckSent) {
					t.Errorf("second ack: %v", err)
				}
			} else if err := e.Ack(1); !errors.Is(err, redis.ErrNoAck) {
				t.Errorf("ack without request: %v", err)
			}
		})
	}
	ctx := context.Background()
	if err := w.A.adapter("/").ServerSideEmit(ctx, "hello", 1, "x"); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for range 2 {
		select {
		case r := <-got:
			if r.event != "hello" || r.args != `[1,"x"]` {
				t.Errorf("got %+v", r)
			}
			nodes = append(nodes, r.node)
		case <-time.After(waitLong):
			t.Fatal("server-side event not received")
		}
	}
	slices.Sort(nodes)
	if !reflect.DeepEqual(nodes, []string{"B", "C"}) {
		t.Errorf("received by %q", nodes)
	}
	res, err := w.B.adapter("/").ServerSideEmitWithAck(ctx, "ask")
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, r := range res {
		var v map[string]string
		_ = json.Unmarshal(r, &v)
		from = append(from, v["from"])
	}
	slices.Sort(from)
	if !reflect.DeepEqual(from, []string{"A", "C"}) {
		t.Errorf("acks from %q", from)
	}
	if err := w.A.adapter("/").ServerSideEmit(ctx, "disconnect"); err == nil {
		t.Error("reserved event accepted")
	}
}

func TestGoEmitter(t *testing.T) {
	t.Parallel()
	w := newWorld(t, redis.Options{})
	adm := dial(t, w.C, "adm", "/admin")
	rdb := redistest.NeedRedis(t)
	ctx := context.Background()
	em := emitter.New(rdb, emitter.Options{Key: w.key})

	if err := em.To("r1").Emit(ctx, "from-emitter", "x", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tclient{w.a1, w.b1} {
		p := c.expect("from-emitter", `["x",{"_placeholder":true,"num":0}]`)
		if !reflect.DeepEqual(p.Attachments, [][]byte{{1, 2}}) {
			t.Errorf("attachments %q", p.Attachments)
		}
	}
	if err := em.Except("r2").Volatile().Emit(ctx, "not-r2"); err != nil {
		t.Fatal(err)
	}
	w.a1.expect("not-r2", "[]")
	w.c2.expect("not-r2", "[]")
	if err := em.Emit(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.all() {
		c.expect("all", "[]")
	}
	if err := em.Of("admin").Emit(ctx, "adm"); err != nil {
		t.Fatal(err)
	}
	adm.expect("adm", "[]")

	if err := em.In("r2").SocketsJoin(ctx, "r7"); err != nil {
		t.Fatal(err)
	}
	if err := em.To("r7").Emit(ctx, "r7"); err != nil {
		t.Fatal(err)
	}
	w.b1.expect("r7", "[]")
	w.c1.expect("r7", "[]")
	if err := em.In("r7").SocketsLeave(ctx, "r7"); err != nil {
		t.Fatal(err)
	}
	if err := em.To("r7").Emit(ctx, "r7-gone"); err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(ctx, "fence"); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.all() {
		c.expect("fence", "")
	}

	got := make(chan string, 3)
	w.B.adapter("/").OnServerSideEmit(func(e *redis.ServerSideEvent) { got <- e.Event + string(e.Args[0]) })
	if err := em.ServerSideEmit(ctx, "sse", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != `sse{"n":1}` {
			t.Errorf("server-side event %s", s)
		}
	case <-time.After(waitLong):
		t.Error("server-side event from the emitter not received")
	}

	if err := em.To(w.c2.id).DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	w.c2.expectDisconnect()
	if err := em.Emit(ctx, "disconnect"); !errors.Is(err, emitter.ErrReservedEvent) {
		t.Errorf("reserved event: %v", err)
	}
}

func TestSpecificResponseChannel(t *testing.T) {
	t.Parallel()
	rdb := redistest.NeedRedis(t)
	key := uniqueKey(t)
	// A answers on the requester's own channel, B on the shared one: both
	// listen on both.
	A := newNode(t, "A", rdb, redis.Options{Key: key, PublishOnSpecificResponseChannel: true})
	B := newNode(t, "B", rdb, redis.Options{Key: key})
	redistest.WaitServerCount(t, A.adapter("/"), 2)
	a1 := dial(t, A, "a1", "/")
	b1 := dial(t, B, "b1", "/")
	for _, c := range []*tclient{a1, b1} {
		c.onAck(func(string, []json.RawMessage) []any { return []any{c.name} })
	}
	ctx := context.Background()
	sub := rdb.PSubscribe(ctx, key+"-response#/#*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{A, B} {
		socks, err := n.srv.FetchSockets(ctx)
		if err != nil || len(socks) != 2 {
			t.Errorf("fetchSockets from %s: %d sockets, %v", n.name, len(socks), err)
		}
		replies, err := n.srv.Timeout(waitLong).EmitWithAck(ctx, "q")
		if err != nil || len(replies) != 2 {
			t.Errorf("emitWithAck from %s: %d replies, %v", n.name, len(replies), err)
		}
	}
	// A's answers to B went to B's own channel; B's to the shared one.
	want := map[string]int{
		key + "-response#/#" + B.adapter("/").ServerID() + "#": 3, // fetch, count, ack
		key + "-response#/#": 3,
	}
	got := map[string]int{}
	for range 6 {
		rctx, cancel := context.WithTimeout(ctx, waitLong)
		m, err := sub.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got[m.Channel]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("responses per channel %v, want %v", got, want)
	}
}
