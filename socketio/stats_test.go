package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-sio/sio/engineio"
)

// expectStats waits until the socket.io part of the server's snapshot
// (the engine's is checked by the engineio tests) is want.
func expectStats(t *testing.T, ts *testServer, want Stats) Stats {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		got := ts.io.Stats()
		eng := got.Engine
		got.Engine = engineio.Stats{}
		if reflect.DeepEqual(got, want) {
			got.Engine = eng
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats\n got %+v\nwant %+v", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func zeroDisconnects() map[Reason]uint64 {
	m := map[Reason]uint64{}
	for _, r := range []Reason{
		ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout, ReasonParseError,
		ReasonServerShuttingDown, ReasonForcedServerClose, ReasonClientNamespaceClose, ReasonServerNamespaceClose,
		ReasonWriteBufferFull,
	} {
		m[r] = 0
	}
	return m
}

func TestStats(t *testing.T) {
	ts := newTestServer(t, Config{})
	type ask struct {
		s         *Socket
		broadcast bool
	}
	asks := make(chan ask, 4)
	results := make(chan error, 4)
	go func() {
		for a := range asks {
			var err error
			if a.broadcast {
				_, err = ts.io.Timeout(50*time.Millisecond).EmitWithAck(context.Background(), "q")
			} else {
				_, err = a.s.Timeout(50*time.Millisecond).EmitWithAck(context.Background(), "q")
			}
			results <- err
		}
	}()
	t.Cleanup(func() { close(asks) })
	socks := make(chan *Socket, 4)
	ts.io.OnConnection(func(s *Socket) {
		s.Join("room:a")
		s.On("boom", func(*Event) error { panic("boom") })
		socks <- s
	})
	ts.io.Of("/admin").Use(func(s *Socket) error { return errors.New("no") })

	want := Stats{
		Namespaces:  []NamespaceStats{{Name: "/", Sockets: 0, Rooms: 0}, {Name: "/admin", Sockets: 0, Rooms: 0}},
		Disconnects: zeroDisconnects(),
	}
	expectStats(t, ts, want)

	pc := ts.dialPolling("")
	connect(t, pc, "/", "")
	ws := ts.dialWS("")
	connect(t, ws, "/", "")
	s1, s2 := recv(t, socks), recv(t, socks)
	// Each socket is in its own room and in room:a.
	want.Namespaces[0] = NamespaceStats{Name: "/", Sockets: 2, Rooms: 3}
	want.Connects = 2
	got := expectStats(t, ts, want)
	if got.Sockets() != 2 || got.Rooms() != 3 {
		t.Fatalf("Sockets() %d Rooms() %d", got.Sockets(), got.Rooms())
	}
	if e := got.Engine; e.PollingSessions != 1 || e.WebSocketSessions != 1 || e.SessionsOpened != 2 {
		t.Fatalf("engine stats %+v", e)
	}

	// A middleware refuses /admin.
	ws.send(connectPacket("/admin", ""))
	expectText(t, ws, `44/admin,{"message":"no"}`)
	want.ConnectErrors = 1
	expectStats(t, ts, want)

	// A panicking handler.
	ws.send(`42["boom"]`)
	if err := ts.waitError(); !errors.As(err, new(*PanicError)) {
		t.Fatalf("reported %v", err)
	}
	want.HandlerPanics = 1
	expectStats(t, ts, want)

	// Unanswered acknowledgements, to one socket and broadcast.
	asks <- ask{s: s1}
	expectMatch(t, pc, `420\["q"\]`)
	if err := recv(t, results); err != ErrAckTimeout {
		t.Fatalf("EmitWithAck: %v", err)
	}
	want.AckTimeouts = 1
	expectStats(t, ts, want)
	asks <- ask{broadcast: true}
	expectMatch(t, pc, `42\d+\["q"\]`)
	expectMatch(t, ws, `42\d+\["q"\]`)
	if err := recv(t, results); err != ErrAckTimeout {
		t.Fatalf("broadcast EmitWithAck: %v", err)
	}
	want.BroadcastAckTimeouts = 1
	expectStats(t, ts, want)

	// Disconnections by reason.
	pc.send("41")
	want.Disconnects[ReasonClientNamespaceClose] = 1
	want.Namespaces[0] = NamespaceStats{Name: "/", Sockets: 1, Rooms: 2}
	expectStats(t, ts, want)
	s2.Disconnect(false)
	expectText(t, ws, "41")
	want.Disconnects[ReasonServerNamespaceClose] = 1
	want.Namespaces[0] = NamespaceStats{Name: "/", Sockets: 0, Rooms: 0}
	expectStats(t, ts, want)

	// A dynamic namespace appears in the list once created.
	ts.io.OfFunc(func(name string, _ json.RawMessage) bool { return name == "/dyn" })
	ws.send(connectPacket("/dyn", ""))
	expectConnected(t, ws, "/dyn")
	want.Namespaces = append(want.Namespaces, NamespaceStats{Name: "/dyn", Sockets: 1, Rooms: 1})
	want.Connects = 3
	expectStats(t, ts, want)
	ws.closeTransport()
	want.Disconnects[ReasonTransportClose] = 1
	want.Namespaces[2].Sockets, want.Namespaces[2].Rooms = 0, 0
	expectStats(t, ts, want)
}

func TestStatsRecoveries(t *testing.T) {
	ts, socks := csrServer(t, RecoveryConfig{})
	c := ts.dialWS("")
	sid, pid, _ := csrConnect(t, c, "")
	recv(t, socks)
	if err := ts.io.Emit("news", 1); err != nil {
		t.Fatal(err)
	}
	offset := lastOffset(t, c.next().text)
	c.closeTransport()
	eventually(t, "socket gone", func() bool { return ts.io.main.Socket(sid) == nil })

	c2 := ts.dialWS("")
	if sid2, _, _ := csrConnect(t, c2, recoveryAuth2(pid, offset)); sid2 != sid {
		t.Fatalf("not recovered: sid %s, want %s", sid2, sid)
	}
	recv(t, socks)
	// A pid that is not known: a new socket, not a recovery.
	c3 := ts.dialWS("")
	csrConnect(t, c3, recoveryAuth2("unknown-pid", offset))
	recv(t, socks)

	want := Stats{
		Namespaces:  []NamespaceStats{{Name: "/", Sockets: 2, Rooms: 2}},
		Connects:    3,
		Recoveries:  1,
		Disconnects: zeroDisconnects(),
	}
	want.Disconnects[ReasonTransportClose] = 1
	expectStats(t, ts, want)
}
