package socketio

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connected dials, connects to "/" and returns the client and its socket,
// after setup ran in the connection handler.
func connected(t *testing.T, ts *testServer, dial func(*testServer) tclient, setup func(*Socket)) (tclient, *Socket) {
	t.Helper()
	ch := make(chan *Socket, 1)
	ts.io.OnConnection(func(s *Socket) {
		if setup != nil {
			setup(s)
		}
		ch <- s
	})
	c := dial(ts)
	connect(t, c, "/", "")
	return c, recv(t, ch)
}

func pollDial(ts *testServer) tclient { return ts.dialPolling("") }

type chatMsg struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

// BAD-INPUTS row 51
func TestTypedHandlers(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		strs := make(chan string, 4)
		msgs := make(chan chatMsg, 4)
		pairs := make(chan string, 4)
		c, _ := connected(t, ts, dial, func(s *Socket) {
			On(s, "chat", func(v string) { strs <- v })
			On(s, "msg", func(v chatMsg) { msgs <- v })
			On2(s, "pair", func(a string, b int) { pairs <- fmt.Sprint(a, b) })
		})
		c.send(`42["chat","hi"]`)
		if v := recv(t, strs); v != "hi" {
			t.Fatalf("got %q", v)
		}
		c.send(`42["msg",{"text":"x","n":2}]`)
		if v := recv(t, msgs); v != (chatMsg{"x", 2}) {
			t.Fatalf("got %+v", v)
		}
		c.send(`42["pair","a",1]`)
		if v := recv(t, pairs); v != "a1" {
			t.Fatalf("got %q", v)
		}

		for _, bad := range []string{`42["chat",123]`, `42["chat"]`, `42["msg",[1]]`, `42["pair","a","b"]`, `42["pair","a"]`} {
			c.send(bad)
			err := ts.waitError()
			var ee *EventError
			if !errors.Is(err, ErrBadArguments) || !errors.As(err, &ee) {
				t.Fatalf("%s: OnError got %v", bad, err)
			}
			if want := strings.Split(bad, `"`)[1]; ee.Event != want {
				t.Fatalf("%s: EventError.Event = %q", bad, ee.Event)
			}
		}
		// The connection survives and the handlers were not called.
		c.send(`42["chat","again"]`)
		if v := recv(t, strs); v != "again" {
			t.Fatalf("got %q", v)
		}
		if len(msgs)+len(pairs) != 0 {
			t.Fatal("handler called with bad arguments")
		}
		ts.noError()
	})
}

func TestRawHandlerBindArgsBinary(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		type result struct {
			name  string
			args  []string
			bin0  []byte
			ok0   bool
			ok1   bool
			bound []byte
			str   string
			err   error
		}
		res := make(chan result, 2)
		type nested struct {
			A    []byte   `json:"a"`
			List [][]byte `json:"list"`
			S    string   `json:"s"`
		}
		nres := make(chan nested, 1)
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("bin", func(ev *Event) error {
				r := result{name: ev.Name()}
				for _, a := range ev.Args() {
					r.args = append(r.args, string(a))
				}
				r.bin0, r.ok0 = ev.Binary(0)
				_, r.ok1 = ev.Binary(1)
				r.err = ev.Bind(&r.bound, &r.str)
				res <- r
				return nil
			})
			s.On("nested", func(ev *Event) error {
				var n nested
				if err := ev.Bind(&n); err != nil {
					return err
				}
				nres <- n
				return nil
			})
		})
		c.send(`451-["bin",{"_placeholder":true,"num":0},"x"]`)
		c.sendBinary([]byte{1, 2, 3})
		r := recv(t, res)
		if r.name != "bin" || !slices.Equal(r.args, []string{`{"_placeholder":true,"num":0}`, `"x"`}) {
			t.Fatalf("name %q args %q", r.name, r.args)
		}
		if !r.ok0 || string(r.bin0) != "\x01\x02\x03" || r.ok1 {
			t.Fatalf("Binary: %x %v %v", r.bin0, r.ok0, r.ok1)
		}
		if r.err != nil || string(r.bound) != "\x01\x02\x03" || r.str != "x" {
			t.Fatalf("Bind: %x %q %v", r.bound, r.str, r.err)
		}
		c.send(`452-["nested",{"a":{"_placeholder":true,"num":0},"list":[{"_placeholder":true,"num":1}],"s":"y"}]`)
		c.sendBinary([]byte("A"))
		c.sendBinary([]byte("B"))
		n := recv(t, nres)
		if string(n.A) != "A" || len(n.List) != 1 || string(n.List[0]) != "B" || n.S != "y" {
			t.Fatalf("nested %+v", n)
		}
		// A placeholder-shaped object in a plain EVENT is ordinary data.
		c.send(`42["bin",{"_placeholder":true,"num":0},"x"]`)
		r = recv(t, res)
		if r.ok0 || r.err == nil {
			t.Fatalf("plain EVENT placeholder taken as binary: %+v", r)
		}
	})
}

func TestNumericEventName(t *testing.T) {
	ts := newTestServer(t, Config{})
	got := make(chan string, 1)
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.OnAny(func(ev *Event) { got <- ev.Name() })
	})
	c.send(`42[1.5,"x"]`)
	if n := recv(t, got); n != "1.5" {
		t.Fatalf("name %q", n)
	}
}

func TestOnAnyAndOff(t *testing.T) {
	ts := newTestServer(t, Config{})
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	done := make(chan struct{}, 4)
	c, s := connected(t, ts, pollDial, func(s *Socket) {
		s.OnAny(func(ev *Event) { add("any1:" + ev.Name()) })
		s.OnAny(func(ev *Event) { add("any2:" + ev.Name()) })
		s.On("a", func(*Event) error { add("a"); return nil })
		s.On("end", func(*Event) error { done <- struct{}{}; return nil })
	})
	c.send(`42["a"]`, `42["nohandler",1]`, `42["end"]`)
	recv(t, done)
	s.Off("a")
	c.send(`42["a"]`, `42["end"]`)
	recv(t, done)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"any1:a", "any2:a", "a", "any1:nohandler", "any2:nohandler", "any1:end", "any2:end", "any1:a", "any2:a", "any1:end", "any2:end"}
	if !slices.Equal(log, want) {
		t.Fatalf("log %v\nwant %v", log, want)
	}
}

func TestOnAnyOutgoing(t *testing.T) {
	ts := newTestServer(t, Config{})
	type out struct {
		ev   string
		args []any
	}
	outs := make(chan out, 4)
	c, s := connected(t, ts, pollDial, func(s *Socket) {
		s.OnAnyOutgoing(func(ev string, args []any) { outs <- out{ev, args} })
	})
	if err := s.Emit("x", 1, "a"); err != nil {
		t.Fatal(err)
	}
	o := recv(t, outs)
	if o.ev != "x" || len(o.args) != 2 || o.args[0] != 1 || o.args[1] != "a" {
		t.Fatalf("got %+v", o)
	}
	expectText(t, c, `42["x",1,"a"]`)
	// Broadcasts reach the listeners too, with the decoded arguments.
	if err := ts.io.To(s.ID()).Emit("b", 2, []byte{1}); err != nil {
		t.Fatal(err)
	}
	o = recv(t, outs)
	if b, _ := o.args[1].([]byte); o.ev != "b" || len(o.args) != 2 || o.args[0] != 2.0 || len(b) != 1 || b[0] != 1 {
		t.Fatalf("broadcast: got %+v", o)
	}
	expectText(t, c, `451-["b",2,{"_placeholder":true,"num":0}]`)
	c.next()
	// Reserved names fail before any listener runs.
	if err := s.Emit("connect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("err %v", err)
	}
	if len(outs) != 0 {
		t.Fatal("listener called for a rejected emit")
	}
}

func TestSocketMiddleware(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		var mu sync.Mutex
		var log []string
		add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
		errDenied := errors.New("denied")
		done := make(chan struct{}, 4)
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.Use(func(ev *Event) error { add("mw1:" + ev.Name()); return nil })
			s.Use(func(ev *Event) error {
				add("mw2:" + ev.Name())
				if ev.Name() == "secret" {
					return errDenied
				}
				return nil
			})
			s.OnAny(func(ev *Event) { add("any:" + ev.Name()) })
			s.On("secret", func(*Event) error { add("secret"); return nil })
			s.On("open", func(*Event) error { add("open"); done <- struct{}{}; return nil })
		})
		c.send(`42["secret"]`)
		err := ts.waitError()
		var ee *EventError
		if !errors.Is(err, errDenied) || !errors.As(err, &ee) || ee.Event != "secret" {
			t.Fatalf("OnError got %v", err)
		}
		c.send(`42["open"]`)
		recv(t, done)
		mu.Lock()
		defer mu.Unlock()
		want := []string{"mw1:secret", "mw2:secret", "mw1:open", "mw2:open", "any:open", "open"}
		if !slices.Equal(log, want) {
			t.Fatalf("log %v, want %v", log, want)
		}
	})
}

func TestHandlerErrorReported(t *testing.T) {
	ts := newTestServer(t, Config{})
	errApp := errors.New("app failure")
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.On("fail", func(*Event) error { return errApp })
	})
	c.send(`42["fail"]`)
	err := ts.waitError()
	var ee *EventError
	if !errors.Is(err, errApp) || !errors.As(err, &ee) || ee.Event != "fail" {
		t.Fatalf("OnError got %v", err)
	}
}

func TestHandlerPanicRecovered(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("boom", func(*Event) error { panic("kaboom") })
			s.On("echo", func(ev *Event) error { return ev.Ack("alive") })
			s.OnAny(func(ev *Event) {
				if ev.Name() == "anyboom" {
					panic(errors.New("any panic"))
				}
			})
		})
		c.send(`42["boom"]`)
		var pe *PanicError
		if err := ts.waitError(); !errors.As(err, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
			t.Fatalf("OnError got %v", err)
		}
		c.send(`42["anyboom"]`)
		if err := ts.waitError(); !errors.As(err, &pe) {
			t.Fatalf("OnError got %v", err)
		}
		c.send(`421["echo"]`)
		expectText(t, c, `431["alive"]`)
	})
}

func TestConnectionHandlerPanicRecovered(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.io.OnConnection(func(*Socket) { panic("in connection handler") })
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.On("echo", func(ev *Event) error { return ev.Ack(1) })
	})
	var pe *PanicError
	if err := ts.waitError(); !errors.As(err, &pe) {
		t.Fatalf("OnError got %v", err)
	}
	c.send(`421["echo"]`)
	expectText(t, c, `431[1]`)
}

func TestEventsHandledInOrder(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		const n = 200
		var mu sync.Mutex
		var got []int
		var inFlight, overlap atomic.Int32
		done := make(chan struct{})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			On(s, "n", func(i int) {
				if inFlight.Add(1) > 1 {
					overlap.Add(1)
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
				mu.Lock()
				got = append(got, i)
				full := len(got) == n
				mu.Unlock()
				inFlight.Add(-1)
				if full {
					close(done)
				}
			})
		})
		pkts := make([]string, n)
		for i := range pkts {
			pkts[i] = fmt.Sprintf(`42["n",%d]`, i)
		}
		c.send(pkts[:n/2]...)
		c.send(pkts[n/2:]...)
		recv(t, done)
		mu.Lock()
		defer mu.Unlock()
		for i, v := range got {
			if v != i {
				t.Fatalf("event %d handled at position %d", v, i)
			}
		}
		if overlap.Load() != 0 {
			t.Fatal("handlers of one socket ran concurrently")
		}
	})
}

func TestHandlersFromConnectionSeeEarlyEvents(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		got := make(chan string, 2)
		ts.io.OnConnection(func(s *Socket) {
			// A slow connection handler: the events wait for it.
			time.Sleep(30 * time.Millisecond)
			On(s, "early", func(v string) { got <- v })
		})
		c := dial(ts)
		c.send("40", `42["early","a"]`) // one POST, or two frames back to back
		expectConnected(t, c, "/")
		c.send(`42["early","b"]`)
		if a, b := recv(t, got), recv(t, got); a != "a" || b != "b" {
			t.Fatalf("got %q %q", a, b)
		}
	})
}

// BAD-INPUTS row 34
func TestErrorEventIsOrdinary(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		got := make(chan string, 1)
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("error", func(ev *Event) error { got <- fmt.Sprint(len(ev.Args())); return nil })
			s.On("echo", func(ev *Event) error { return ev.Ack() })
		})
		c.send(`42["error"]`)
		if n := recv(t, got); n != "0" {
			t.Fatalf("args %s", n)
		}
		c.send(`421["echo"]`)
		expectText(t, c, `431[]`)
		ts.noError()
	})
}

func TestErrorsWithoutOnErrorAreLogged(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServer(t, Config{Logger: logger, OnError: func(*Socket, error) {}})
	ts.io.cfg.OnError = nil // the default path, set before any connection
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.On("boom", func(*Event) error { panic("logged panic") })
		s.On("fail", func(*Event) error { return errors.New("logged failure") })
		s.On("echo", func(ev *Event) error {
			if ev.Socket() != s || s.Transport() != "polling" {
				return errors.New("wrong socket or transport")
			}
			return ev.Ack(1)
		})
	})
	c.send(`42["boom"]`, `42["fail"]`, `421["echo"]`)
	expectText(t, c, `431[1]`)
	eventually(t, "logs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(buf.String(), "logged panic") && strings.Contains(buf.String(), "logged failure")
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestOnErrorPanicRecovered(t *testing.T) {
	calls := make(chan error, 2)
	ts := newTestServer(t, Config{OnError: func(_ *Socket, err error) {
		calls <- err
		panic("in OnError")
	}})
	c, _ := connected(t, ts, pollDial, func(s *Socket) {
		s.On("fail", func(*Event) error { return errors.New("x") })
		s.On("echo", func(ev *Event) error { return ev.Ack(2) })
	})
	c.send(`42["fail"]`, `421["echo"]`)
	expectText(t, c, `431[2]`)
	err := recv(t, calls)
	var ee *EventError
	if !errors.As(err, &ee) || ee.Error() != `socketio: event "fail": x` {
		t.Fatalf("error %v", err)
	}
	if pe := (&PanicError{Value: "v"}); pe.Error() != "socketio: handler panic: v" {
		t.Fatal(pe.Error())
	}
}

func TestHandshakeBindAuth(t *testing.T) {
	ts := newTestServer(t, Config{})
	socks := ts.sockets("/")
	c := ts.dialPolling("")
	connect(t, c, "/", `{"token":"t","n":3}`)
	s := recv(t, socks)
	var auth struct {
		Token string
		N     int
	}
	if err := s.Handshake().BindAuth(&auth); err != nil || auth.Token != "t" || auth.N != 3 {
		t.Fatalf("%+v %v", auth, err)
	}
	var wrong []int
	if err := s.Handshake().BindAuth(&wrong); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("err %v", err)
	}
}

// A broadcast reaching clients of both protocol revisions is encoded once
// per revision.
func TestBroadcastMixedProtocols(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	socks := ts.sockets("/")
	v3 := ts.dialPollingRev("3", "", nil)
	expectText(t, v3, "40")
	recv(t, socks)
	v4 := ts.dialPolling("")
	connect(t, v4, "/", "")
	recv(t, socks)
	if err := ts.io.In().Emit("mixed", []byte{1}, "s"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*pollClient{v3, v4} {
		expectText(t, c, `451-["mixed",{"_placeholder":true,"num":0},"s"]`)
	}
	expectText(t, v3, "b4AQ==") // revision 3 base64 binary packet
	expectBinary(t, v4, []byte{1})
}
