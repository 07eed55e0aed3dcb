package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// trio connects three polling clients to "/": c[0] in rooms a and b,
// c[1] in b, c[2] in c.
func trio(t *testing.T, ts *testServer) ([3]*pollClient, [3]*Socket) {
	t.Helper()
	socks := ts.sockets("/")
	var cs [3]*pollClient
	var ss [3]*Socket
	rooms := [][]string{{"a", "b"}, {"b"}, {"c"}}
	for i := range cs {
		cs[i] = ts.dialPolling("")
		connect(t, cs[i], "/", "")
		ss[i] = recv(t, socks)
		ss[i].Join(rooms[i]...)
	}
	return cs, ss
}

// expectEvents checks what each client receives up to a final marker
// broadcast: want[i] is the list of packets client i gets before it.
func expectEvents(t *testing.T, ts *testServer, cs [3]*pollClient, want [3][]string) {
	t.Helper()
	if err := ts.io.Emit("marker"); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		for _, w := range want[i] {
			expectText(t, c, w)
		}
		expectText(t, c, `42["marker"]`)
	}
}

func TestJoinLeaveRooms(t *testing.T) {
	ts := newTestServer(t, Config{})
	_, s := connected(t, ts, pollDial, nil)
	if got := s.Rooms(); !slices.Equal(got, []string{s.ID()}) {
		t.Fatalf("rooms %v", got)
	}
	s.Join("a", "b")
	s.Join("b")
	if got := s.Rooms(); !slices.Equal(got, []string{s.ID(), "a", "b"}) {
		t.Fatalf("rooms %v", got)
	}
	s.Leave("a")
	s.Leave("nope")
	if got := s.Rooms(); !slices.Equal(got, []string{s.ID(), "b"}) {
		t.Fatalf("rooms %v", got)
	}
	if got := ts.io.Of("/").Adapter().Sockets("b"); !slices.Equal(got, []string{s.ID()}) {
		t.Fatalf("sockets in b: %v", got)
	}
}

func TestBroadcastSelection(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	emit := func(op BroadcastOperator, ev string) {
		t.Helper()
		if err := op.Emit(ev); err != nil {
			t.Fatal(err)
		}
	}
	x := func(ev string) string { return `42["` + ev + `"]` }

	emit(ts.io.To("a", "b"), "ab") // each socket once
	emit(ts.io.In("c").To("a"), "ca")
	emit(ts.io.Except("b"), "notb")
	emit(ts.io.To("a", "b").Except("a"), "bnota")
	emit(ts.io.To("nobody"), "none")
	emit(ts.io.To(ss[1].ID()), "direct")
	emit(ts.io.Local(), "local")
	expectEvents(t, ts, cs, [3][]string{
		{x("ab"), x("ca"), x("local")},
		{x("ab"), x("bnota"), x("direct"), x("local")},
		{x("ca"), x("notb"), x("local")},
	})

	// From a socket: the sender is left out.
	emit(ss[0].To("b"), "to-b")
	emit(ss[0].In("a"), "in-a")
	emit(ss[0].Broadcast(), "bc")
	emit(ss[0].Except("c"), "except-c")
	emit(ss[1].To("b").Except("a"), "b-not-a")
	expectEvents(t, ts, cs, [3][]string{
		{},
		{x("to-b"), x("bc"), x("except-c")},
		{x("bc")},
	})
}

func TestBroadcastOperatorsImmutable(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	rooms := make([]string, 1, 8) // spare capacity tempts append to share
	rooms[0] = "a"
	base := ts.io.To(rooms...)
	rooms[0] = "c" // the caller's slice is not retained
	withB := base.To("b")
	withC := base.To("c")
	exceptA := base.Except("a")
	exceptB := exceptA.Except("b")
	exceptC := exceptA.Except("c")
	vol := base.Volatile()
	if base.flags.Volatile || !vol.flags.Volatile {
		t.Fatal("Volatile changed its receiver")
	}
	if !slices.Equal(base.rooms, []string{"a"}) || !slices.Equal(withB.rooms, []string{"a", "b"}) || !slices.Equal(withC.rooms, []string{"a", "c"}) {
		t.Fatalf("rooms leaked: base %v withB %v withC %v", base.rooms, withB.rooms, withC.rooms)
	}
	if !slices.Equal(exceptB.except, []string{"a", "b"}) || !slices.Equal(exceptC.except, []string{"a", "c"}) {
		t.Fatalf("except leaked: %v %v", exceptB.except, exceptC.except)
	}
	for _, op := range []struct {
		op BroadcastOperator
		ev string
	}{{base, "base"}, {withB, "withB"}, {withC, "withC"}, {exceptB, "exceptB"}} {
		if err := op.op.Emit(op.ev); err != nil {
			t.Fatal(err)
		}
	}
	expectEvents(t, ts, cs, [3][]string{
		{`42["base"]`, `42["withB"]`, `42["withC"]`},
		{`42["withB"]`},
		{`42["withC"]`},
	})
	_ = ss
}

func TestFetchSockets(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	ss[0].SetData(map[string]any{"user": "u0"})
	ctx := context.Background()
	all, err := ts.io.FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
	}
	want := []string{ss[0].ID(), ss[1].ID(), ss[2].ID()}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v want %v", ids, want)
	}
	inA, err := ts.io.In("a").FetchSockets(ctx)
	if err != nil || len(inA) != 1 {
		t.Fatalf("in a: %v %v", inA, err)
	}
	r := inA[0]
	if r.ID != ss[0].ID() || !slices.Equal(r.Rooms, []string{ss[0].ID(), "a", "b"}) || string(r.Data) != `{"user":"u0"}` {
		t.Fatalf("remote socket %+v (data %s)", r, r.Data)
	}
	var hs struct {
		Headers map[string]string `json:"headers"`
		Time    string            `json:"time"`
		Address string            `json:"address"`
		XDomain bool              `json:"xdomain"`
		Secure  bool              `json:"secure"`
		Issued  int64             `json:"issued"`
		URL     string            `json:"url"`
		Query   map[string]string `json:"query"`
		Auth    map[string]any    `json:"auth"`
	}
	if err := json.Unmarshal(r.Handshake, &hs); err != nil {
		t.Fatal(err)
	}
	h := ss[0].Handshake()
	if hs.Address != h.Address || hs.URL != h.URL || hs.Issued != h.Time.UnixMilli() ||
		hs.Query["transport"] != "polling" || hs.Headers["user-agent"] == "" || hs.Auth == nil {
		t.Fatalf("handshake %s", r.Handshake)
	}
	// JavaScript's Date.prototype.toString() form, in UTC.
	if _, err := time.Parse("Mon Jan 02 2006 15:04:05 GMT+0000 (Coordinated Universal Time)", hs.Time); err != nil {
		t.Fatalf("time %q: %v", hs.Time, err)
	}
	if other, _ := ts.io.Except("b").FetchSockets(ctx); len(other) != 1 || string(other[0].Data) != "null" {
		t.Fatalf("except b: %+v", other)
	}

	// RemoteSocket operations.
	if err := r.Emit("hi", 1); err != nil {
		t.Fatal(err)
	}
	expectText(t, cs[0], `42["hi",1]`)
	if err := r.Join(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if err := r.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := ss[0].Rooms(); !slices.Equal(got, []string{ss[0].ID(), "b", "j"}) {
		t.Fatalf("rooms %v", got)
	}
	if err := r.Disconnect(ctx, false); err != nil {
		t.Fatal(err)
	}
	expectText(t, cs[0], `41`)
}

func TestSocketsJoinLeave(t *testing.T) {
	ts := newTestServer(t, Config{})
	_, ss := trio(t, ts)
	ns := ts.io.Of("/")
	ctx := context.Background()
	if err := ns.To("b").SocketsJoin(ctx, "x", "y"); err != nil {
		t.Fatal(err)
	}
	if err := ns.SocketsJoin(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	if err := ns.Except("a").SocketsLeave(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{ss[0].ID(), "a", "b", "x", "y", "all"},
		{ss[1].ID(), "b", "x", "all"},
		{ss[2].ID(), "c", "all"},
	}
	for i, s := range ss {
		if got := s.Rooms(); !slices.Equal(got, want[i]) {
			t.Errorf("socket %d rooms %v want %v", i, got, want[i])
		}
	}
	if err := ns.SocketsLeave(ctx, "all", "x"); err != nil {
		t.Fatal(err)
	}
	rooms := ns.Adapter().AllRooms()
	slices.Sort(rooms)
	wantRooms := []string{"a", "b", "c", "y", ss[0].ID(), ss[1].ID(), ss[2].ID()}
	slices.Sort(wantRooms)
	if !slices.Equal(rooms, wantRooms) {
		t.Fatalf("rooms %v want %v", rooms, wantRooms)
	}
}

func TestDisconnectSockets(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	ctx := context.Background()
	reasons := make(chan Reason, 3)
	for _, s := range ss {
		s.OnDisconnect(func(r Reason) { reasons <- r })
	}
	// close=false: the clients get DISCONNECT and keep their sessions.
	if err := ts.io.Of("/").In("b").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	expectText(t, cs[0], "41")
	expectText(t, cs[1], "41")
	for range 2 {
		if r := recv(t, reasons); r != ReasonServerNamespaceClose {
			t.Fatalf("reason %q", r)
		}
	}
	connect(t, cs[0], "/", "")
	if n := ts.io.Engine().SessionCount(); n != 3 {
		t.Fatalf("%d sessions", n)
	}
	// close=true: DISCONNECT, then the session closes.
	if err := ts.io.Of("/").To("c").DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := cs[2].expectClosed(); len(got) != 1 || got[0].text != "41" {
		t.Fatalf("before close: %v", got)
	}
	if r := recv(t, reasons); r != ReasonServerNamespaceClose {
		t.Fatalf("reason %q", r)
	}
	eventually(t, "session count 2", func() bool { return ts.io.Engine().SessionCount() == 2 })
}

var bcastAckRe = regexp.MustCompile(`^42(\d+)\["q","x"\]$`)

func readBroadcastAck(t *testing.T, c tclient) string {
	t.Helper()
	it := c.next()
	m := bcastAckRe.FindStringSubmatch(it.text)
	if m == nil {
		t.Fatalf("got %v", it)
	}
	return m[1]
}

func TestBroadcastEmitWithAck(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	type result struct {
		replies []BroadcastReply
		err     error
	}
	res := make(chan result, 1)
	go func() {
		r, err := ts.io.Timeout(waitLong).EmitWithAck(context.Background(), "q", "x")
		res <- result{r, err}
	}()
	var id string
	for i, c := range cs {
		got := readBroadcastAck(t, c)
		if i > 0 && got != id {
			t.Fatalf("ack ids differ: %s and %s", id, got)
		}
		id = got
	}
	for i, c := range cs {
		c.send(`43` + id + `["r",` + string(rune('0'+i)) + `]`)
	}
	r := recv(t, res)
	if r.err != nil || len(r.replies) != 3 {
		t.Fatalf("replies %v err %v", r.replies, r.err)
	}
	byID := map[string]int{}
	for _, rep := range r.replies {
		var s string
		var n int
		if err := rep.Reply.Bind(&s, &n); err != nil {
			t.Fatal(err)
		}
		byID[rep.SocketID] = n
	}
	for i, s := range ss {
		if n, ok := byID[s.ID()]; !ok || n != i {
			t.Fatalf("replies by socket %v", byID)
		}
	}

	// Nobody selected: done at once.
	r2, err := ts.io.To("nobody").Timeout(waitLong).EmitWithAck(context.Background(), "q", "x")
	if err != nil || len(r2) != 0 {
		t.Fatalf("%v %v", r2, err)
	}
}

func TestBroadcastEmitWithAckEach(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	replies := make(chan BroadcastReply, 3)
	done := make(chan error, 1)
	go func() {
		done <- ts.io.To("b").Timeout(waitLong).EmitWithAckEach(context.Background(), func(r BroadcastReply) { replies <- r }, "q", "x")
	}()
	id := readBroadcastAck(t, cs[0])
	readBroadcastAck(t, cs[1])
	// Each reply is delivered as it arrives.
	cs[1].send(`43` + id + `["one"]`)
	if r := recv(t, replies); r.SocketID != ss[1].ID() || string(r.Reply.Args()[0]) != `"one"` {
		t.Fatalf("first reply %+v", r)
	}
	select {
	case err := <-done:
		t.Fatalf("returned before every reply: %v", err)
	default:
	}
	cs[0].send(`43` + id + `["zero"]`)
	if r := recv(t, replies); r.SocketID != ss[0].ID() {
		t.Fatalf("second reply %+v", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestBroadcastEmitWithAckTimeoutPartial(t *testing.T) {
	ts := newTestServer(t, Config{})
	cs, ss := trio(t, ts)
	type result struct {
		replies []BroadcastReply
		err     error
	}
	res := make(chan result, 1)
	start := time.Now()
	go func() {
		r, err := ts.io.Timeout(time.Second).EmitWithAck(context.Background(), "q", "x")
		res <- result{r, err}
	}()
	ids := make([]string, 3)
	for i, c := range cs {
		ids[i] = readBroadcastAck(t, c)
	}
	cs[0].send(`43` + ids[0] + `["ok"]`)
	cs[2].send(`43` + ids[2] + `["ok"]`)
	r := recv(t, res)
	if !errors.Is(r.err, ErrAckTimeout) || len(r.replies) != 2 {
		t.Fatalf("replies %v err %v", r.replies, r.err)
	}
	if time.Since(start) < time.Second {
		t.Fatal("returned before the timeout")
	}
	got := []string{r.replies[0].SocketID, r.replies[1].SocketID}
	slices.Sort(got)
	want := []string{ss[0].ID(), ss[2].ID()}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("repliers %v want %v", got, want)
	}
	// A late reply is ignored.
	cs[1].send(`43` + ids[1] + `["late"]`)
	expectEvents(t, ts, cs, [3][]string{})

	// Context cancellation ends the wait too.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		_, err = ts.io.To("c").EmitWithAck(ctx, "q", "x")
	}()
	readBroadcastAck(t, cs[2])
	cancel()
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}
