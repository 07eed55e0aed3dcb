package socketio

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

var csrConnectRe = regexp.MustCompile(`^40\{"sid":"([A-Za-z0-9_-]{20})","pid":"([A-Za-z0-9_-]{20})"\}$`)

// csrConnect connects c to "/" with auth and returns the sid and pid of
// the CONNECT reply, skipping (and returning) the events before it.
func csrConnect(t *testing.T, c tclient, auth string) (sid, pid string, before []string) {
	t.Helper()
	c.send(connectPacket("/", auth))
	for {
		it := c.next()
		if m := csrConnectRe.FindStringSubmatch(it.text); m != nil {
			return m[1], m[2], before
		}
		if !strings.HasPrefix(it.text, "42") {
			t.Fatalf("got %v, want events then a CONNECT reply with sid and pid", it)
		}
		before = append(before, it.text)
	}
}

var offsetRe = regexp.MustCompile(`,"(\d+-\d+)"\]$`)

// lastOffset returns the offset ending an event packet.
func lastOffset(t *testing.T, pkt string) string {
	t.Helper()
	m := offsetRe.FindStringSubmatch(pkt)
	if m == nil {
		t.Fatalf("event %q has no offset", pkt)
	}
	return m[1]
}

func withoutOffset(pkt string) string { return offsetRe.ReplaceAllString(pkt, "]") }

func recoveryAuth2(pid, offset string) string {
	b, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	return string(b)
}

func csrServer(t *testing.T, rc RecoveryConfig) (*testServer, <-chan *Socket) {
	ts := newTestServer(t, Config{ConnectionStateRecovery: &rc})
	return ts, ts.sockets("/")
}

func TestRecoveryConnectReplyHasPID(t *testing.T) {
	ts, _ := csrServer(t, RecoveryConfig{})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	if sid == pid {
		t.Fatalf("pid equals sid %q", sid)
	}
	// Without the option the reply has the sid only (checked by connect).
	ts2 := newTestServer(t, Config{})
	connect(t, ts2.dialWS(""), "/", "")
}

func TestRecoveryRestoresSocketAndMissedEvents(t *testing.T) {
	transports(t, func(t *testing.T, dial func(ts *testServer) tclient) {
		ts, socks := csrServer(t, RecoveryConfig{})
		type state struct{ Name string }
		ts.io.OnConnection(func(s *Socket) {
			if !s.Recovered() {
				s.Join("room:a")
				s.SetData(state{Name: "ann"})
			}
		})
		c := dial(ts)
		sid, pid, _ := csrConnect(t, c, "")
		s := recv(t, socks)
		if s.Recovered() {
			t.Fatal("first connection reported as recovered")
		}
		if err := ts.io.Emit("news", 1); err != nil {
			t.Fatal(err)
		}
		first := c.next().text
		if got := withoutOffset(first); got != `42["news",1]` {
			t.Fatalf("event = %q", first)
		}
		offset := lastOffset(t, first)
		if err := s.Emit("direct", "x"); err != nil {
			t.Fatal(err)
		}
		direct := c.next().text
		if got := withoutOffset(direct); got != `42["direct","x"]` {
			t.Fatalf("socket emit = %q, want it stored with an offset", direct)
		}

		c.closeTransport()
		eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })

		// Emitted while the client is away: only what its rooms select,
		// nothing volatile.
		_ = ts.io.Emit("news", 2)
		_ = ts.io.To("room:a").Emit("room", "a")
		_ = ts.io.To("room:b").Emit("room", "b")
		_ = ts.io.Except("room:a").Emit("news", "not for a")
		_ = ts.io.Volatile().Emit("news", "volatile")
		_ = ts.io.Emit("news", 3)

		c2 := dial(ts)
		sid2, pid2, before := csrConnect(t, c2, recoveryAuth2(pid, lastOffset(t, direct)))
		if sid2 != sid || pid2 != pid {
			t.Fatalf("recovered sid/pid = %s/%s, want %s/%s", sid2, pid2, sid, pid)
		}
		var got []string
		for _, p := range before {
			got = append(got, withoutOffset(p))
		}
		want := []string{`42["news",2]`, `42["room","a"]`, `42["news",3]`}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("missed events = %v, want %v", got, want)
		}
		s2 := recv(t, socks)
		if !s2.Recovered() || s2.ID() != sid {
			t.Fatalf("socket recovered=%v id=%s", s2.Recovered(), s2.ID())
		}
		if d, _ := s2.Data().(state); d.Name != "ann" {
			t.Fatalf("data = %#v", s2.Data())
		}
		if rooms := strings.Join(s2.Rooms(), ","); rooms != sid+",room:a" {
			t.Fatalf("rooms = %s", rooms)
		}
		// Live traffic after the recovery reaches it once.
		_ = ts.io.To("room:a").Emit("room", "live")
		if got := withoutOffset(c2.next().text); got != `42["room","live"]` {
			t.Fatalf("live event = %q", got)
		}
		_ = offset
	})
}

func TestRecoveryTwiceInARow(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	_ = ts.io.Emit("n", 0)
	last := lastOffset(t, c.next().text)
	for round := 1; round <= 3; round++ {
		c.closeTransport()
		eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
		_ = ts.io.Emit("n", round)
		c = ts.dialWS("")
		sid2, pid2, before := csrConnect(t, c, recoveryAuth2(pid, last))
		if sid2 != sid || pid2 != pid || len(before) != 1 || withoutOffset(before[0]) != fmt.Sprintf(`42["n",%d]`, round) {
			t.Fatalf("round %d: sid %s pid %s before %v", round, sid2, pid2, before)
		}
		if s := recv(t, socks); !s.Recovered() {
			t.Fatalf("round %d not recovered", round)
		}
		last = lastOffset(t, before[0])
	}
}

func TestRecoveryExpires(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{MaxDisconnectionDuration: 150 * time.Millisecond})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	_ = ts.io.Emit("n", 0)
	last := lastOffset(t, c.next().text)
	c.closeTransport()
	eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
	time.Sleep(300 * time.Millisecond)
	c2 := ts.dialWS("")
	sid2, pid2, before := csrConnect(t, c2, recoveryAuth2(pid, last))
	if sid2 == sid || pid2 == pid || len(before) != 0 {
		t.Fatalf("expired session recovered: sid %s pid %s before %v", sid2, pid2, before)
	}
	if s := recv(t, socks); s.Recovered() {
		t.Fatal("Recovered() after expiry")
	}
}

// BAD-INPUTS row 50: recovery probing gets a fresh session.
func TestRecoveryProbingRow50(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	_ = ts.io.Emit("n", 0)
	last := lastOffset(t, c.next().text)
	c.closeTransport()
	eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })

	fresh := func(name, auth string) {
		t.Helper()
		c := ts.dialWS("")
		sid2, pid2, before := csrConnect(t, c, auth)
		if sid2 == sid || pid2 == pid || len(before) != 0 {
			t.Fatalf("%s: recovered (sid %s pid %s before %v)", name, sid2, pid2, before)
		}
		if s := recv(t, socks); s.Recovered() {
			t.Fatalf("%s: Recovered()", name)
		}
	}
	fresh("guessed pid", recoveryAuth2("AAAAAAAAAAAAAAAAAAAA", last))
	fresh("non-string offset", `{"pid":"`+pid+`","offset":{}}`)
	fresh("non-string pid", `{"pid":123,"offset":"`+last+`"}`)
	fresh("offset x", recoveryAuth2(pid, "x"))
	// The unknown offset above consumed the session: a pid is used once.
	fresh("used pid", recoveryAuth2(pid, last))
	ts.noError()
}

func TestRecoveryUnknownOffsetAndPrunedPackets(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{MaxBytes: 1024})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	_ = ts.io.Emit("n", 0)
	last := lastOffset(t, c.next().text)
	c.closeTransport()
	eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
	// More than the cap: the client's offset is no longer stored.
	for i := range 40 {
		_ = ts.io.Emit("n", strings.Repeat("x", 64), i)
	}
	c2 := ts.dialWS("")
	sid2, _, before := csrConnect(t, c2, recoveryAuth2(pid, last))
	if sid2 == sid || len(before) != 0 {
		t.Fatalf("recovered past the byte cap: sid %s, %d events", sid2, len(before))
	}
	recv(t, socks)
}

func TestRecoveryMiddlewares(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip=%v", skip), func(t *testing.T) {
			ts, socks := csrServer(t, RecoveryConfig{SkipMiddlewares: skip})
			var runs atomic.Int32
			var refuse atomic.Bool
			ts.io.Use(func(s *Socket) error {
				runs.Add(1)
				if refuse.Load() {
					return fmt.Errorf("banned")
				}
				return nil
			})
			c := ts.dialWS("")
			sid, pid, _ := csrConnect(t, c, "")
			recv(t, socks)
			_ = ts.io.Emit("n", 0)
			last := lastOffset(t, c.next().text)
			c.closeTransport()
			eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
			refuse.Store(true)
			c2 := ts.dialWS("")
			c2.send(connectPacket("/", recoveryAuth2(pid, last)))
			it := c2.next()
			if skip {
				if m := csrConnectRe.FindStringSubmatch(it.text); m == nil || m[1] != sid {
					t.Fatalf("got %v, want the recovered CONNECT", it)
				}
				if runs.Load() != 1 {
					t.Fatalf("middleware ran %d times", runs.Load())
				}
			} else if it.text != `44{"message":"banned"}` {
				t.Fatalf("got %v, want the middleware's refusal", it)
			}
		})
	}
}

// Broadcasts sent while a client recovers reach it exactly once, in
// order, whether they were stored before its restore, during it or after.
func TestRecoveryExactlyOnceUnderLoad(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{})
	ts.io.OnConnection(func(s *Socket) { s.Join("r") })
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var sent atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			_ = ts.io.To("r").Emit("seq", i)
			sent.Store(int64(i + 1))
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	next := 0
	readSeq := func(pkt string) {
		t.Helper()
		var args []json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimPrefix(pkt, "42")), &args); err != nil || len(args) != 3 {
			t.Fatalf("event %q", pkt)
		}
		n, _ := strconv.Atoi(string(args[1]))
		if n != next {
			t.Fatalf("got seq %d, want %d (lost or repeated)", n, next)
		}
		next++
	}
	last := ""
	for round := range 5 {
		for range 200 {
			pkt := c.next().text
			readSeq(pkt)
			last = lastOffset(t, pkt)
		}
		c.closeTransport()
		eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
		c = ts.dialWS("")
		sid2, _, before := csrConnect(t, c, recoveryAuth2(pid, last))
		if sid2 != sid {
			t.Fatalf("round %d: not recovered", round)
		}
		recv(t, socks)
		for _, pkt := range before {
			readSeq(pkt)
			last = lastOffset(t, pkt)
		}
	}
	stop.Store(true)
	wg.Wait()
	for next < int(sent.Load()) {
		readSeq(c.next().text)
	}
}

// A client back before the server noticed that its connection died (it
// changed networks) takes its session over from the stale socket.
func TestRecoveryTakesOverStaleSocket(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{})
	ts.io.OnConnection(func(s *Socket) {
		if !s.Recovered() {
			s.Join("room:a")
		}
	})
	var reasons sync.Map
	ts.io.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r Reason) { reasons.Store(s, r) })
	})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	old := recv(t, socks)
	_ = ts.io.Emit("n", 0)
	last := lastOffset(t, c.next().text)
	// The old connection stays open on the server: the client just comes
	// back on a new one.
	_ = ts.io.To("room:a").Emit("n", 1)
	c2 := ts.dialWS("")
	sid2, pid2, before := csrConnect(t, c2, recoveryAuth2(pid, last))
	if sid2 != sid || pid2 != pid || len(before) != 1 || withoutOffset(before[0]) != `42["n",1]` {
		t.Fatalf("sid %s pid %s before %v", sid2, pid2, before)
	}
	s2 := recv(t, socks)
	if !s2.Recovered() || strings.Join(s2.Rooms(), ",") != sid+",room:a" {
		t.Fatalf("recovered %v rooms %v", s2.Recovered(), s2.Rooms())
	}
	if r, _ := reasons.Load(old); r != ReasonForcedClose {
		t.Fatalf("stale socket's reason = %v", r)
	}
	c.expectClosed() // the stale connection is closed
}

// A stored packet the recovery replayed, or that the client had, is not
// sent again when a copy reaches the socket afterwards, as from a cluster
// adapter whose stream reader is behind what the restore read.
func TestRecoveryDropsLateCopiesOfReplayedPackets(t *testing.T) {
	var mu sync.Mutex
	var ns adapter.Namespace
	factory := func(n adapter.Namespace) adapter.Adapter {
		if n.Name() == "/" {
			mu.Lock()
			ns = n
			mu.Unlock()
		}
		return adapter.NewMemory(n)
	}
	ts := newTestServer(t, Config{Adapter: factory, ConnectionStateRecovery: &RecoveryConfig{}})
	socks := ts.sockets("/")
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	_ = ts.io.Emit("news", 1)
	first := c.next().text
	c.closeTransport()
	eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })
	_ = ts.io.Emit("news", 2)

	c2 := ts.dialWS("")
	sid2, _, before := csrConnect(t, c2, recoveryAuth2(pid, lastOffset(t, first)))
	if sid2 != sid || len(before) != 1 || withoutOffset(before[0]) != `42["news",2]` {
		t.Fatalf("recovered %s (want %s), missed %q", sid2, sid, before)
	}
	recv(t, socks)
	mu.Lock()
	emitter := ns
	mu.Unlock()
	for _, pkt := range []string{first, before[0]} {
		off := lastOffset(t, pkt)
		p := &sio.Packet{Type: sio.Event, Namespace: "/", Data: json.RawMessage(strings.TrimPrefix(pkt, "42"))}
		emitter.Send([]string{sid}, p, adapter.Flags{Offset: off})
	}
	_ = ts.io.Emit("news", 3)
	if got := withoutOffset(c2.next().text); got != `42["news",3]` {
		t.Fatalf("after the recovery: %s, want news 3 only", got)
	}
}
