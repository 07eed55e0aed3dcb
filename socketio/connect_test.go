package socketio

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConnectDefaultNamespace(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		socks := ts.sockets("/")
		c := dial(ts)
		id := connect(t, c, "/", "")
		s := recv(t, socks)
		if s.ID() != id {
			t.Fatalf("socket id %q, client got %q", s.ID(), id)
		}
		if id == c.sid() {
			t.Fatal("socket id equals the engine session id")
		}
		if got := string(s.Handshake().Auth); got != "{}" {
			t.Fatalf("Auth = %s, want {}", got)
		}
		if s.Namespace().Name() != "/" || !s.Connected() {
			t.Fatalf("namespace %q connected %v", s.Namespace().Name(), s.Connected())
		}
		if s.Conn().ID() != c.sid() {
			t.Fatalf("Conn().ID() = %q, want %q", s.Conn().ID(), c.sid())
		}
		if got := ts.io.Of("/").Socket(id); got != s {
			t.Fatal("Namespace.Socket does not find the socket")
		}
	})
}

func TestConnectCustomNamespaceWithAuth(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		socks := ts.sockets("/admin")
		c := dial(ts)
		id := connect(t, c, "/admin", `{"token":"x"}`)
		s := recv(t, socks)
		if s.ID() != id {
			t.Fatalf("id %q, want %q", s.ID(), id)
		}
		if got := string(s.Handshake().Auth); got != `{"token":"x"}` {
			t.Fatalf("Auth = %s", got)
		}
		// The same session joins the main namespace too, with a new id.
		id2 := connect(t, c, "/", "")
		if id2 == id {
			t.Fatal("two namespaces gave the same socket id")
		}
	})
}

func TestHandshakeFields(t *testing.T) {
	ts := newTestServer(t, Config{})
	socks := ts.sockets("/")
	before := time.Now()
	c := ts.dialPollingRev("4", "foo=bar", http.Header{"X-Custom": {"yes"}, "Origin": {"http://example.com"}})
	connect(t, c, "/", "")
	after := time.Now()
	hs := recv(t, socks).Handshake()
	if hs.Headers.Get("X-Custom") != "yes" {
		t.Errorf("headers: %v", hs.Headers)
	}
	if hs.Query().Get("foo") != "bar" || hs.Query().Get("EIO") != "4" || hs.Query().Get("transport") != "polling" {
		t.Errorf("query: %v", hs.Query())
	}
	if hs.Address != "127.0.0.1" { // the IP only, as the reference's remoteAddress
		t.Errorf("address: %q", hs.Address)
	}
	if hs.Time.Before(before) || hs.Time.After(after) {
		t.Errorf("time %v not within [%v, %v]", hs.Time, before, after)
	}
	if hs.URL != "/socket.io/?EIO=4&transport=polling&foo=bar" {
		t.Errorf("url: %q", hs.URL)
	}
	if !hs.XDomain || hs.Secure {
		t.Errorf("xdomain %v secure %v", hs.XDomain, hs.Secure)
	}
}

var socketIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestSocketIDsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newSocketID()
		if !socketIDRe.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestNamespaceMiddlewareOrder(t *testing.T) {
	ts := newTestServer(t, Config{})
	var mu sync.Mutex
	var order []string
	add := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	for _, name := range []string{"m1", "m2", "m3"} {
		ts.io.Use(func(s *Socket) error {
			if s.Connected() {
				t.Error("socket connected while middlewares run")
			}
			add(name)
			return nil
		})
	}
	done := make(chan struct{})
	ts.io.OnConnection(func(*Socket) { add("connection"); close(done) })
	c := ts.dialPolling("")
	connect(t, c, "/", "")
	<-done
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"m1", "m2", "m3", "connection"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestMiddlewareRejection(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		var reject atomic.Bool
		reject.Store(true)
		var second atomic.Int32
		ts.io.Use(func(s *Socket) error {
			if reject.Load() {
				return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 401, "why": "token"}}
			}
			return nil
		})
		ts.io.Use(func(*Socket) error { second.Add(1); return nil })
		ts.io.Of("/admin").Use(func(*Socket) error { return errors.New("admins only") })
		connected := ts.sockets("/")

		c := dial(ts)
		c.send("40")
		expectText(t, c, `44{"message":"not authorized","data":{"code":401,"why":"token"}}`)
		c.send(`40/admin,{}`)
		expectText(t, c, `44/admin,{"message":"admins only"}`)
		if second.Load() != 0 {
			t.Fatal("middleware after the failing one ran")
		}
		if n := len(ts.io.Sockets()); n != 0 {
			t.Fatalf("%d sockets after rejection", n)
		}
		// The engine session is kept: the client may try again.
		reject.Store(false)
		id := connect(t, c, "/", "")
		if s := recv(t, connected); s.ID() != id {
			t.Fatal("wrong socket")
		}
	})
}

func TestMiddlewareJoinThenRejectLeavesNoRoom(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.io.Use(func(s *Socket) error {
		s.Join("early")
		return errors.New("no")
	})
	c := ts.dialPolling("")
	c.send("40")
	expectText(t, c, `44{"message":"no"}`)
	eventually(t, "no rooms", func() bool { return len(ts.io.Of("/").Adapter().AllRooms()) == 0 })
}

func TestMiddlewarePanicRefusesConnection(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.io.Use(func(*Socket) error { panic("boom") })
	c := ts.dialPolling("")
	c.send("40")
	expectText(t, c, `44{"message":"middleware error"}`)
	var pe *PanicError
	if err := ts.waitError(); !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("OnError got %v", err)
	}
}

// BAD-INPUTS row 46
func TestUnknownNamespace(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c := dial(ts)
		c.send("40/random")
		expectText(t, c, `44/random,{"message":"Invalid namespace"}`)
		c.send(`40/random,{"a":1}`)
		expectText(t, c, `44/random,{"message":"Invalid namespace"}`)
		// The session is kept.
		connect(t, c, "/", "")
		if ts.io.Engine().SessionCount() != 1 {
			t.Fatal("session lost")
		}
	})
}

func TestDynamicNamespaceFunc(t *testing.T) {
	ts := newTestServer(t, Config{})
	parent := ts.io.OfFunc(func(name string, auth json.RawMessage) bool {
		var a struct{ OK bool }
		_ = json.Unmarshal(auth, &a)
		return strings.HasPrefix(name, "/dyn-") && a.OK
	})
	var mw atomic.Int32
	parent.Use(func(s *Socket) error { mw.Add(1); return nil })
	socks := make(chan *Socket, 4)
	parent.OnConnection(func(s *Socket) {
		s.On("where", func(ev *Event) error { return ev.Ack(s.Namespace().Name()) })
		socks <- s
	})

	c := ts.dialPolling("")
	c.send(`40/dyn-2,{}`)
	expectText(t, c, `44/dyn-2,{"message":"Invalid namespace"}`)
	connect(t, c, "/dyn-1", `{"ok":true}`)
	connect(t, c, "/dyn-3", `{"ok":true}`)
	s1, s3 := recv(t, socks), recv(t, socks)
	if s1.Namespace() == s3.Namespace() {
		t.Fatal("children share a namespace")
	}
	c.send(`42/dyn-3,7["where"]`)
	expectText(t, c, `43/dyn-3,7["/dyn-3"]`)
	if mw.Load() != 2 {
		t.Fatalf("parent middleware ran %d times", mw.Load())
	}
	var names []string
	for _, n := range parent.Children() {
		names = append(names, n.Name())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"/dyn-1", "/dyn-3"}) {
		t.Fatalf("children %v", names)
	}
	// Of returns the existing child; middlewares added to it run after
	// the parent's.
	if ts.io.Of("/dyn-1") != s1.Namespace() {
		t.Fatal("Of does not return the child")
	}
	// Parent.Emit reaches every child.
	if err := parent.Emit("hello", 1); err != nil {
		t.Fatal(err)
	}
	got := []string{c.next().text, c.next().text}
	slices.Sort(got)
	if !slices.Equal(got, []string{`42/dyn-1,["hello",1]`, `42/dyn-3,["hello",1]`}) {
		t.Fatalf("got %q", got)
	}
	// Without CleanupEmptyChildNamespaces the child stays.
	c.send("41/dyn-1")
	eventually(t, "socket gone", func() bool { return len(s1.Namespace().Sockets()) == 0 })
	time.Sleep(20 * time.Millisecond)
	if len(parent.Children()) != 2 {
		t.Fatal("child removed without CleanupEmptyChildNamespaces")
	}
}

func TestDynamicNamespaceRegexpAndCleanup(t *testing.T) {
	ts := newTestServer(t, Config{CleanupEmptyChildNamespaces: true})
	parent := ts.io.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	var mw atomic.Int32
	parent.Use(func(*Socket) error { mw.Add(1); return nil })
	socks := make(chan *Socket, 4)
	parent.OnConnection(func(s *Socket) { socks <- s })

	c := ts.dialPolling("")
	c.send("40/room-x")
	expectText(t, c, `44/room-x,{"message":"Invalid namespace"}`)
	connect(t, c, "/room-12", "")
	c2 := ts.dialPolling("")
	connect(t, c2, "/room-12", "")
	s := recv(t, socks)
	recv(t, socks)
	if mw.Load() != 2 || len(parent.Children()) != 1 {
		t.Fatalf("middleware %d children %d", mw.Load(), len(parent.Children()))
	}
	c.send("41/room-12")
	time.Sleep(20 * time.Millisecond)
	if len(parent.Children()) != 1 {
		t.Fatal("child removed while a socket is left")
	}
	c2.send("41/room-12")
	eventually(t, "child removed", func() bool { return len(parent.Children()) == 0 })
	ts.io.mu.RLock()
	_, still := ts.io.nsps["/room-12"]
	ts.io.mu.RUnlock()
	if still {
		t.Fatal("child still registered in the server")
	}
	// Connecting again creates a fresh child.
	connect(t, c, "/room-12", "")
	if s2 := recv(t, socks); s2.Namespace() == s.Namespace() {
		t.Fatal("removed child reused")
	}
}

// BAD-INPUTS row 48
func TestConnectTimeout(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		const timeout = 400 * time.Millisecond
		ts := newTestServer(t, Config{ConnectTimeout: timeout})
		start := time.Now()
		idle := dial(ts)
		joined := dial(ts)
		connect(t, joined, "/", "")
		expectClosedOnly(t, idle)
		if d := time.Since(start); d < timeout || d > timeout+3*time.Second {
			t.Fatalf("closed after %v", d)
		}
		// A session that joined a namespace stays.
		time.Sleep(timeout / 2)
		if err := ts.io.Emit("still", "here"); err != nil {
			t.Fatal(err)
		}
		expectText(t, joined, `42["still","here"]`)
	})
}

func TestConnectTimeoutAfterRejection(t *testing.T) {
	ts := newTestServer(t, Config{ConnectTimeout: 150 * time.Millisecond})
	ts.io.Use(func(*Socket) error { return errors.New("no") })
	c := ts.dialPolling("")
	c.send("40")
	expectText(t, c, `44{"message":"no"}`)
	expectClosedOnly(t, c)
}

func TestEIO3Client(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	socks := ts.sockets("/")
	admin := ts.sockets("/admin")
	c := ts.dialPollingRev("3", "foo=bar", nil)
	if c.open["sid"] == "" {
		t.Fatal("no sid")
	}
	// The main namespace is joined implicitly, and the reply has no sid.
	expectText(t, c, "40")
	s := recv(t, socks)
	// The id a 2.x client computes, as the reference assigns it.
	if s.ID() != c.open["sid"] {
		t.Fatalf("socket id %q, want the session id %q", s.ID(), c.open["sid"])
	}
	var auth map[string]string
	if err := json.Unmarshal(s.Handshake().Auth, &auth); err != nil {
		t.Fatal(err)
	}
	if auth["foo"] != "bar" {
		t.Fatalf("auth %v", auth)
	}
	// Custom namespace: the query after the name is the auth.
	c.send("40/admin?token=abc")
	expectText(t, c, "40/admin,")
	sa := recv(t, admin)
	if got := string(sa.Handshake().Auth); got != `{"token":"abc"}` {
		t.Fatalf("auth %s", got)
	}
	// Events and acks in protocol 4.
	s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0]) })
	c.send(`421["echo",{"a":1}]`)
	expectText(t, c, `431[{"a":1}]`)
	if err := s.Emit("news", "x"); err != nil {
		t.Fatal(err)
	}
	expectText(t, c, `42["news","x"]`)
}

func TestEIO3MiddlewareError(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	ts.io.Use(func(*Socket) error { return errors.New("denied") })
	ts.io.Of("/data").Use(func(*Socket) error {
		return &ConnectError{Message: "denied", Data: map[string]int{"code": 7}}
	})
	c := ts.dialPollingRev("3", "", nil)
	expectText(t, c, `44"denied"`)
	c.send("40/data")
	// Clients 2.x receive err.data when there is one, else the message.
	expectText(t, c, `44/data,{"code":7}`)
}

func TestEIO3Disallowed(t *testing.T) {
	ts := newTestServer(t, Config{})
	resp, err := ts.hc.Get(ts.base + "?EIO=3&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := NewServer(Config{ConnectTimeout: -1}); err == nil {
		t.Fatal("negative ConnectTimeout accepted")
	}
	if _, err := NewServer(Config{MaxAttachments: -1}); err == nil {
		t.Fatal("negative MaxAttachments accepted")
	}
}

func TestEmitFromConnectionHandlerFollowsConnectReply(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		ts.io.OnConnection(func(s *Socket) {
			_ = s.Emit("welcome", s.ID())
			s.Join("lobby")
			_ = ts.io.To("lobby").Emit("joined")
		})
		c := dial(ts)
		id := connect(t, c, "/", "")
		expectText(t, c, `42["welcome","`+id+`"]`)
		expectText(t, c, `42["joined"]`)
	})
}
