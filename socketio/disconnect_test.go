package socketio

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestServerDisconnectKeepsSession(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		admin := ts.sockets("/admin")
		c, s := connected(t, ts, dial, nil)
		connect(t, c, "/admin", "")
		sa := recv(t, admin)
		reasons := make(chan Reason, 2)
		s.OnDisconnect(func(r Reason) { reasons <- r })
		sa.OnDisconnect(func(r Reason) { reasons <- r })

		s.Disconnect(false)
		expectText(t, c, "41")
		if r := recv(t, reasons); r != ReasonServerNamespaceClose {
			t.Fatalf("reason %q", r)
		}
		sa.Disconnect(false)
		expectText(t, c, "41/admin,")
		recv(t, reasons)
		s.Disconnect(false) // no effect the second time
		if s.Connected() || sa.Connected() {
			t.Fatal("still connected")
		}
		// The session is kept and the client can come back.
		connect(t, c, "/", "")
		if n := ts.io.Engine().SessionCount(); n != 1 {
			t.Fatalf("%d sessions", n)
		}
	})
}

func TestServerDisconnectClose(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		admin := ts.sockets("/admin")
		c, s := connected(t, ts, dial, nil)
		connect(t, c, "/admin", "")
		sa := recv(t, admin)
		reasons := make(chan Reason, 2)
		s.OnDisconnect(func(r Reason) { reasons <- r })
		sa.OnDisconnect(func(r Reason) { reasons <- r })

		s.Disconnect(true)
		got := c.expectClosed()
		var texts []string
		for _, it := range got {
			texts = append(texts, it.text)
		}
		slices.Sort(texts)
		if !slices.Equal(texts, []string{"41", "41/admin,"}) {
			t.Fatalf("before close: %v", got)
		}
		for range 2 {
			if r := recv(t, reasons); r != ReasonServerNamespaceClose {
				t.Fatalf("reason %q", r)
			}
		}
		eventually(t, "no session", func() bool { return ts.io.Engine().SessionCount() == 0 })
	})
}

func TestDisconnectReasons(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ws   bool
		do   func(ts *testServer, c tclient)
		want Reason
	}{
		{"client namespace disconnect", Config{}, false, func(_ *testServer, c tclient) { c.send("41") }, ReasonClientNamespaceClose},
		{"client namespace disconnect ws", Config{}, true, func(_ *testServer, c tclient) { c.send("41") }, ReasonClientNamespaceClose},
		{"transport close polling", Config{}, false, func(_ *testServer, c tclient) { c.closeTransport() }, ReasonTransportClose},
		{"transport close ws", Config{}, true, func(_ *testServer, c tclient) { c.closeTransport() }, ReasonTransportClose},
		{"engine close packet ws", Config{}, true, func(_ *testServer, c tclient) { c.send("1") }, ReasonTransportClose},
		{"ping timeout", Config{PingInterval: 300 * time.Millisecond, PingTimeout: 100 * time.Millisecond}, false, func(*testServer, tclient) {}, ReasonPingTimeout},
		{"server shutting down", Config{}, false, func(ts *testServer, _ tclient) { _ = ts.io.Close() }, ReasonServerShuttingDown},
		{"server shutting down ws", Config{}, true, func(ts *testServer, _ tclient) { _ = ts.io.Close() }, ReasonServerShuttingDown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.cfg)
			dial := pollDial
			if tc.ws {
				dial = func(ts *testServer) tclient { return ts.dialWS("") }
			}
			c, s := connected(t, ts, dial, nil)
			reasons := make(chan Reason, 2)
			s.OnDisconnecting(func(r Reason) { reasons <- r })
			s.OnDisconnect(func(r Reason) { reasons <- r })
			tc.do(ts, c)
			if a, b := recv(t, reasons), recv(t, reasons); a != tc.want || b != tc.want {
				t.Fatalf("reasons %q, %q, want %q", a, b, tc.want)
			}
			eventually(t, "socket removed", func() bool { return len(ts.io.Sockets()) == 0 })
		})
	}
}

func TestDisconnectingSeesRooms(t *testing.T) {
	ts := newTestServer(t, Config{})
	c, s := connected(t, ts, pollDial, func(s *Socket) { s.Join("r1", "r2") })
	type seen struct {
		rooms []string
		inNsp bool
	}
	got := make(chan seen, 2)
	s.OnDisconnecting(func(Reason) {
		got <- seen{s.Rooms(), s.Namespace().Socket(s.ID()) != nil}
	})
	s.OnDisconnect(func(Reason) {
		got <- seen{s.Rooms(), s.Namespace().Socket(s.ID()) != nil}
	})
	c.send("41")
	ing, ed := recv(t, got), recv(t, got)
	if !slices.Equal(ing.rooms, []string{s.ID(), "r1", "r2"}) || !ing.inNsp {
		t.Fatalf("disconnecting saw %+v", ing)
	}
	if len(ed.rooms) != 0 || ed.inNsp {
		t.Fatalf("disconnect saw %+v", ed)
	}
	// Joining after the disconnection does nothing.
	s.Join("late")
	if rooms := ts.io.Of("/").Adapter().AllRooms(); len(rooms) != 0 {
		t.Fatalf("rooms left: %v", rooms)
	}
}

func TestDisconnectThenReconnectInOnePayload(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		socks := ts.sockets("/")
		c := dial(ts)
		first := connect(t, c, "/", "")
		recv(t, socks)
		// socket.disconnect(); socket.connect() in a client: both packets
		// arrive together.
		c.send("41", "40")
		second := expectConnected(t, c, "/")
		if second == first {
			t.Fatal("same socket id after reconnection")
		}
		recv(t, socks)
		if n := len(ts.io.Sockets()); n != 1 {
			eventually(t, "one socket", func() bool { return len(ts.io.Sockets()) == 1 })
		}
	})
}

func TestServerCloseClosesSessions(t *testing.T) {
	ts := newTestServer(t, Config{})
	socks := ts.sockets("/")
	c := ts.dialPolling("")
	connect(t, c, "/", "")
	w := ts.dialWS("")
	connect(t, w, "/", "")
	reasons := make(chan Reason, 2)
	for range 2 {
		recv(t, socks).OnDisconnect(func(r Reason) { reasons <- r })
	}
	poll := waitingPoll(c)
	time.Sleep(20 * time.Millisecond) // most likely waiting by now
	if err := ts.io.Close(); err != nil {
		t.Fatal(err)
	}
	// A waiting poll gets the close packet; a later one is refused.
	if items := recv(t, poll); items != nil && (len(items) == 0 || items[len(items)-1].text != "1") {
		t.Fatalf("poll got %v", items)
	}
	w.expectClosed()
	for range 2 {
		if r := recv(t, reasons); r != ReasonServerShuttingDown {
			t.Fatalf("reason %q", r)
		}
	}
	if n := ts.io.Engine().SessionCount(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
	status, _, _ := c.get(c.url())
	if status != http.StatusServiceUnavailable {
		t.Fatalf("poll after Close: %d", status)
	}
	// Closing twice is fine.
	if err := ts.io.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDisconnectFromOwnHandler(t *testing.T) {
	ts := newTestServer(t, Config{})
	reasons := make(chan Reason, 1)
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.On("bye", func(*Event) error { s.Disconnect(false); return nil })
		s.OnDisconnect(func(r Reason) { reasons <- r })
	})
	c.send(`42["bye"]`)
	expectText(t, c, "41")
	if r := recv(t, reasons); r != ReasonServerNamespaceClose {
		t.Fatalf("reason %q", r)
	}
	connect(t, c, "/", "")
}

// Sockets live on across the upgrade from polling to WebSocket, and what
// is emitted meanwhile arrives in order.
func TestSocketSurvivesUpgrade(t *testing.T) {
	ts := newTestServer(t, Config{})
	pc, s := connected(t, ts, pollDial, func(s *Socket) {
		s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0]) })
	})
	if err := s.Emit("before", 1); err != nil {
		t.Fatal(err)
	}
	expectText(t, pc, `42["before",1]`)
	_ = s.Emit("queued", 2) // held: no poll is waiting
	w := ts.upgrade(pc.(*pollClient))
	eventually(t, "websocket transport", func() bool { return s.Transport() == "websocket" })
	if err := s.Emit("after", 3); err != nil {
		t.Fatal(err)
	}
	// No poll was waiting: what was queued goes out on the WebSocket, first.
	expectText(t, w, `42["queued",2]`)
	expectText(t, w, `42["after",3]`)
	w.send(`421["echo","ws"]`)
	expectText(t, w, `431["ws"]`)
}

// Reasons when the server closes the connection for the client's fault:
// a packet invalid for the connection state (reference: client.close())
// and a malformed packet (reference: decoder error, conn.close()).
func TestDisconnectReasonOnProtocolViolation(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  Reason
	}{
		{"40", ReasonForcedServerClose},
		{`42/other,["x"]`, ReasonForcedServerClose},
		{`44{"message":"x"}`, ReasonForcedServerClose},
		{`42["connect"]`, ReasonForcedClose},
		{`42[`, ReasonForcedClose},
	} {
		ts := newTestServer(t, Config{})
		c, s := connected(t, ts, pollDial, nil)
		reasons := make(chan Reason, 1)
		s.OnDisconnect(func(r Reason) { reasons <- r })
		c.send(tc.input)
		expectClosedOnly(t, c)
		if r := recv(t, reasons); r != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.input, r, tc.want)
		}
	}
}

// A connection that closes while its connection handler runs still gets
// the disconnect handlers that connection handler registers.
func TestDisconnectHandlerRegisteredDuringClose(t *testing.T) {
	ts := newTestServer(t, Config{})
	release := make(chan struct{})
	reasons := make(chan Reason, 1)
	ts.io.OnConnection(func(s *Socket) {
		<-release
		s.OnDisconnect(func(r Reason) { reasons <- r })
	})
	c := ts.dialWS("")
	c.send("40")
	expectMatch(t, c, `40\{"sid":"[A-Za-z0-9_-]{20}"\}`)
	c.closeTransport()
	time.Sleep(50 * time.Millisecond) // the server sees the close first
	close(release)
	if r := recv(t, reasons); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
}
