package redisstreams_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

// newRecoveryPair starts two socketio servers sharing one stream, with
// connection state recovery on.
func newRecoveryPair(t *testing.T, rdb *goredis.Client, maxDisconnection time.Duration) (*sioNode, *sioNode, redisstreams.Options) {
	t.Helper()
	opts := uniqueOptions(t, rdb)
	rec := &socketio.RecoveryConfig{MaxDisconnectionDuration: maxDisconnection}
	A := newSioNode(t, "A", rdb, opts, rec)
	B := newSioNode(t, "B", rdb, opts, rec)
	redistest.WaitServerCount(t, A.adapter(), 2)
	redistest.WaitServerCount(t, B.adapter(), 2)
	return A, B, opts
}

// expectEvents reads the next events of c and checks them (without their
// offsets, which they must all have, increasing); it returns the last
// offset.
func expectEvents(t *testing.T, c *wsClient, want ...string) string {
	t.Helper()
	var got []string
	last := ""
	for range want {
		p := c.next(waitLong)
		ev, off := splitEvent(p)
		got = append(got, ev)
		if p == nil {
			break
		}
		if off == "" || (last != "" && !offsetLess(last, off)) {
			t.Fatalf("%s: event %s has offset %q after %q", c.name, ev, off, last)
		}
		last = off
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: events %q, want %q", c.name, got, want)
	}
	return last
}

// checkMissed checks the events a recovering client got before its
// CONNECT reply and returns the last offset.
func checkMissed(t *testing.T, name string, before []*sio.Packet, want ...string) string {
	t.Helper()
	var got []string
	last := ""
	for _, p := range before {
		ev, off := splitEvent(p)
		got = append(got, ev)
		if off == "" || (last != "" && !offsetLess(last, off)) {
			t.Errorf("%s: missed event %s has offset %q after %q", name, ev, off, last)
		}
		last = off
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: missed events %q, want %q", name, got, want)
	}
	return last
}

func offsetLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x < y
	}
	x, _ = strconv.ParseUint(as, 10, 64)
	y, _ = strconv.ParseUint(bs, 10, 64)
	return x < y
}

func mustEmit(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("emit: %v", err)
	}
}

// roomsOf returns the rooms socket sid is in, as seen from node n through
// the cluster.
func roomsOf(t *testing.T, n *sioNode, sid string) []string {
	t.Helper()
	socks, err := n.srv.FetchSockets(context.Background())
	if err != nil {
		t.Fatalf("fetchSockets: %v", err)
	}
	for _, s := range socks {
		if s.ID == sid {
			rooms := slices.Clone(s.Rooms)
			slices.Sort(rooms)
			return rooms
		}
	}
	t.Fatalf("fetchSockets from %s: socket %s not found", n.name, sid)
	return nil
}

// A client cut off from one server gets its socket back on the other, with
// what it missed, twice in a row.
func TestRecoveryAcrossNodes(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	A, B, _ := newRecoveryPair(t, rdb, time.Minute)

	c := dialWS(t, A, "c")
	sid, pid, before := c.connect("")
	if pid == "" || pid == sid || len(before) != 0 {
		t.Fatalf("first connection: sid %q pid %q, %d events before", sid, pid, len(before))
	}
	if cn := A.connection(t); cn.sid != sid || cn.recovered {
		t.Fatalf("first connection on A: %+v", cn)
	}
	if ack := c.call("join", "r"); len(ack) != 1 || string(ack[0]) != `"r"` {
		t.Fatalf("join: %s", ack)
	}
	// Other sockets, so that the broadcasts reach someone on each node.
	other := dialWS(t, B, "other")
	otherID, _, _ := other.connect("")
	B.connection(t)
	mustEmit(t, B.srv.To("r").Emit("live", "from B"))
	mustEmit(t, A.srv.To("r").Emit("live", "from A"))
	offset := expectEvents(t, c, `live["from B"]`, `live["from A"]`)

	// Cut off from A; B broadcasts meanwhile (and A once).
	c.cut()
	A.disconnected(t, sid)
	mustEmit(t, B.srv.To("r").Emit("missed", 1))
	mustEmit(t, B.srv.Emit("missed", 2))
	mustEmit(t, B.srv.Except("r").Emit("not-for-c", "except r"))
	mustEmit(t, B.srv.To("elsewhere").Emit("not-for-c", "other room"))
	mustEmit(t, B.srv.Volatile().Emit("not-for-c", "volatile"))
	mustEmit(t, B.srv.To("r").Volatile().Emit("not-for-c", "volatile to r"))
	mustEmit(t, A.srv.To("r").Emit("missed", 3))
	mustEmit(t, B.srv.To(otherID).Emit("not-for-c", "to another socket"))
	mustEmit(t, B.srv.To("r").Emit("missed", 4))

	// Back on B.
	c2 := dialWS(t, B, "c2")
	sid2, pid2, before := c2.connect(recoveryAuth(pid, offset))
	if sid2 != sid || pid2 != pid {
		t.Fatalf("recovered on B as %s/%s, want %s/%s", sid2, pid2, sid, pid)
	}
	if cn := B.connection(t); cn.sid != sid || !cn.recovered {
		t.Fatalf("connection on B: %+v", cn)
	}
	offset = checkMissed(t, "c2", before, `missed[1]`, `missed[2]`, `missed[3]`, `missed[4]`)
	if got := roomsOf(t, A, sid); !slices.Equal(got, sortedIDs([]string{"r", sid})) {
		t.Fatalf("rooms after recovery: %q", got)
	}
	// Live traffic reaches it once, by its rooms, from both nodes.
	mustEmit(t, A.srv.Except("r").Emit("not-for-c", "except r"))
	mustEmit(t, A.srv.To("r").Emit("live", 1))
	mustEmit(t, B.srv.To("r").Emit("live", 2))
	offset2 := expectEvents(t, c2, `live[1]`, `live[2]`)
	if !offsetLess(offset, offset2) {
		t.Fatalf("offset %s after %s", offset2, offset)
	}

	// Cut off from B; back to A.
	c2.cut()
	B.disconnected(t, sid)
	mustEmit(t, A.srv.To("r").Emit("missed", 5))
	mustEmit(t, B.srv.Volatile().Emit("not-for-c", "volatile"))
	mustEmit(t, B.srv.Emit("missed", 6))
	mustEmit(t, A.srv.Except("r").Emit("not-for-c", "except r"))
	c3 := dialWS(t, A, "c3")
	sid3, pid3, before := c3.connect(recoveryAuth(pid, offset2))
	if sid3 != sid || pid3 != pid {
		t.Fatalf("recovered on A as %s/%s, want %s/%s", sid3, pid3, sid, pid)
	}
	if cn := A.connection(t); cn.sid != sid || !cn.recovered {
		t.Fatalf("connection on A: %+v", cn)
	}
	checkMissed(t, "c3", before, `missed[5]`, `missed[6]`)
	if got := roomsOf(t, B, sid); !slices.Equal(got, sortedIDs([]string{"r", sid})) {
		t.Fatalf("rooms after the second recovery: %q", got)
	}
	mustEmit(t, B.srv.To("r").Emit("live", 3))
	expectEvents(t, c3, `live[3]`)

	// The session was taken: recovering again with the same offset gives
	// a new socket (the old one is still connected on A).
	c4 := dialWS(t, B, "c4")
	sid4, pid4, before := c4.connect(recoveryAuth(pid, offset2))
	if sid4 == sid || pid4 == pid || len(before) != 0 {
		t.Fatalf("second use of a session: %s/%s, %d events before", sid4, pid4, len(before))
	}
	if cn := B.connection(t); cn.recovered {
		t.Fatalf("second use of a session recovered: %+v", cn)
	}
	for _, n := range []*sioNode{A, B} {
		n.checkNoPanic(t)
	}
}

// After MaxDisconnectionDuration the session is gone: the client gets a
// new socket and nothing of what it missed.
func TestRecoveryExpiresAcrossNodes(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	const maxDisconnection = 500 * time.Millisecond
	A, B, opts := newRecoveryPair(t, rdb, maxDisconnection)

	c := dialWS(t, A, "c")
	sid, pid, _ := c.connect("")
	A.connection(t)
	c.call("join", "r")
	mustEmit(t, B.srv.To("r").Emit("live", 1))
	offset := expectEvents(t, c, `live[1]`)
	c.cut()
	A.disconnected(t, sid)
	mustEmit(t, B.srv.To("r").Emit("missed", 1))

	// The session is kept (in the key Node's adapter uses), then expires.
	ctx := context.Background()
	key := opts.SessionKeyPrefix + pid
	if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 1 {
		t.Fatalf("session %s not kept: %d %v", key, n, err)
	}
	deadline := time.Now().Add(waitLong)
	for {
		n, err := rdb.Exists(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s kept longer than %v", key, maxDisconnection)
		}
		time.Sleep(20 * time.Millisecond)
	}

	c2 := dialWS(t, B, "c2")
	sid2, pid2, before := c2.connect(recoveryAuth(pid, offset))
	if sid2 == sid || pid2 == pid || pid2 == "" || len(before) != 0 {
		t.Fatalf("after expiry: %s/%s (was %s/%s), %d events before", sid2, pid2, sid, pid, len(before))
	}
	if cn := B.connection(t); cn.recovered {
		t.Fatalf("after expiry: recovered")
	}
	if got := roomsOf(t, A, sid2); !slices.Equal(got, []string{sid2}) {
		t.Fatalf("rooms of the new socket: %q", got)
	}
	mustEmit(t, A.srv.To("r").Emit("not-for-c", 1))
	mustEmit(t, A.srv.Emit("live", 2))
	if ev, _ := splitEvent(c2.next(waitLong)); ev != `live[2]` {
		t.Fatalf("after expiry: got %s, want live[2]", ev)
	}
	for _, n := range []*sioNode{A, B} {
		n.checkNoPanic(t)
	}
}

// A client moving from node to node while both nodes broadcast without
// pause, one after the other, gets every event once, in order.
func TestRecoveryAcrossNodesUnderTraffic(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	A, B, _ := newRecoveryPair(t, rdb, time.Minute)

	c := dialWS(t, A, "c")
	sid, pid, _ := c.connect("")
	A.connection(t)
	c.call("join", "r")

	// A and B broadcast numbers to the room in turn until told to stop:
	// each broadcast returns once appended, so the stream has them in
	// order.
	var (
		stop    = make(chan struct{})
		stopped = make(chan struct{})
		sent    atomic.Int64
		emitErr error
		errMu   sync.Mutex
	)
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			from := A
			if i%2 == 1 {
				from = B
			}
			if err := from.srv.To("r").Emit("n", i); err != nil {
				errMu.Lock()
				emitErr = err
				errMu.Unlock()
				return
			}
			sent.Store(int64(i + 1))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	stopTraffic := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-stopped
	}
	t.Cleanup(stopTraffic)

	var numbers []int
	offset := ""
	// take reads n events of cl into numbers.
	take := func(cl *wsClient, n int) {
		t.Helper()
		for range n {
			p := cl.next(waitLong)
			ev, off := splitEvent(p)
			if p == nil || off == "" || !strings.HasPrefix(ev, "n[") {
				t.Fatalf("%s: got %s (offset %q), want a number", cl.name, ev, off)
			}
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ev, "n["), "]"))
			if err != nil {
				t.Fatalf("%s: got %s", cl.name, ev)
			}
			numbers = append(numbers, v)
			offset = off
		}
	}
	addMissed := func(before []*sio.Packet) {
		for _, p := range before {
			ev, off := splitEvent(p)
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ev, "n["), "]"))
			if err != nil || off == "" {
				t.Fatalf("missed %s (offset %q), want a number", ev, off)
			}
			numbers = append(numbers, v)
			offset = off
		}
	}

	take(c, 30)
	c.cut()
	A.disconnected(t, sid)
	c2 := dialWS(t, B, "c2")
	sid2, _, before := c2.connect(recoveryAuth(pid, offset))
	if sid2 != sid {
		t.Fatalf("not recovered on B")
	}
	addMissed(before)
	take(c2, 30)
	c2.cut()
	B.disconnected(t, sid)
	c3 := dialWS(t, A, "c3")
	sid3, _, before := c3.connect(recoveryAuth(pid, offset))
	if sid3 != sid {
		t.Fatalf("not recovered on A")
	}
	addMissed(before)
	take(c3, 30)
	stopTraffic()
	errMu.Lock()
	if emitErr != nil {
		t.Fatalf("broadcasting: %v", emitErr)
	}
	errMu.Unlock()
	if rest := int(sent.Load()) - numbers[len(numbers)-1] - 1; rest > 0 {
		take(c3, rest)
	}
	mustEmit(t, B.srv.To("r").Emit("end"))
	if ev, _ := splitEvent(c3.next(waitLong)); ev != "end[]" {
		t.Fatalf("after the numbers: %s", ev)
	}
	for i, v := range numbers {
		if v != i {
			t.Fatalf("numbers received: %v (at %d: %d, want %d)", numbers, i, v, i)
		}
	}
	t.Logf("%d events over three connections", len(numbers))
	for _, n := range []*sioNode{A, B} {
		n.checkNoPanic(t)
	}
}
