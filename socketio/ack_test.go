package socketio

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestClientAckViaEvent(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		errs := make(chan error, 4)
		admin := ts.io.Of("/admin")
		admin.OnConnection(func(s *Socket) {
			s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0], "admin") })
		})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("echo", func(ev *Event) error {
				if !ev.WantsAck() {
					errs <- ev.Ack("unwanted")
					return nil
				}
				var v any
				if err := ev.Bind(&v); err != nil {
					return err
				}
				if err := ev.Ack(v); err != nil {
					return err
				}
				errs <- ev.Ack("twice")
				return nil
			})
			OnAck(s, "ask", func(q string, ack Ack) { errs <- ack(q + "!") })
		})
		c.send(`421["echo",1]`)
		expectText(t, c, `431[1]`)
		if err := recv(t, errs); !errors.Is(err, ErrAckSent) {
			t.Fatalf("second Ack: %v", err)
		}
		c.send(`42["echo",1]`)
		if err := recv(t, errs); !errors.Is(err, ErrNoAck) {
			t.Fatalf("Ack without id: %v", err)
		}
		c.send(`4218446744073709551615["echo",{"a":[1,"x"]}]`)
		expectText(t, c, `4318446744073709551615[{"a":[1,"x"]}]`)
		if err := recv(t, errs); !errors.Is(err, ErrAckSent) {
			t.Fatalf("second Ack: %v", err)
		}
		c.send(`420["ask","why"]`)
		expectText(t, c, `430["why!"]`)
		if err := recv(t, errs); err != nil {
			t.Fatal(err)
		}
		// Typed ack handler without an id: the Ack reports ErrNoAck.
		c.send(`42["ask","no"]`)
		if err := recv(t, errs); !errors.Is(err, ErrNoAck) {
			t.Fatalf("got %v", err)
		}
		connect(t, c, "/admin", "")
		c.send(`42/admin,5["echo","x"]`)
		expectText(t, c, `43/admin,5["x","admin"]`)
	})
}

func TestBinaryAckToClient(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("file", func(ev *Event) error {
				return ev.Ack([]byte{0xca, 0xfe}, map[string]any{"b": []byte{1}, "n": 1})
			})
		})
		c.send(`427["file"]`)
		expectText(t, c, `462-7[{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1},"n":1}]`)
		expectBinary(t, c, []byte{0xca, 0xfe})
		expectBinary(t, c, []byte{1})
	})
}

var ackIDRe = regexp.MustCompile(`^42(\d+)\["q",1\]$`)

// emitAsync runs EmitWithAck on the socket in a goroutine.
func emitAsync(ctx context.Context, e SocketEmitter) <-chan ackResult {
	ch := make(chan ackResult, 1)
	go func() {
		r, err := e.EmitWithAck(ctx, "q", 1)
		ch <- ackResult{r, err}
	}()
	return ch
}

type ackResult struct {
	r   *AckReply
	err error
}

func readAckID(t *testing.T, c tclient) string {
	t.Helper()
	it := c.next()
	m := ackIDRe.FindStringSubmatch(it.text)
	if m == nil {
		t.Fatalf("got %v, want 42<id>[\"q\",1]", it)
	}
	return m[1]
}

func TestServerEmitWithAck(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, s := connected(t, ts, dial, nil)

		res := emitAsync(context.Background(), s.Timeout(waitLong))
		id := readAckID(t, c)
		c.send(`43` + id + `["a",2]`)
		r := recv(t, res)
		if r.err != nil {
			t.Fatal(r.err)
		}
		var a string
		var n int
		if err := r.r.Bind(&a, &n); err != nil || a != "a" || n != 2 || len(r.r.Args()) != 2 {
			t.Fatalf("reply %q %d %v", a, n, err)
		}

		// A binary reply.
		res = emitAsync(context.Background(), s.emitter())
		id = readAckID(t, c)
		c.send(`461-` + id + `[{"_placeholder":true,"num":0}]`)
		c.sendBinary([]byte("bin"))
		r = recv(t, res)
		var b []byte
		if r.err != nil || r.r.Bind(&b) != nil || string(b) != "bin" {
			t.Fatalf("binary reply %q %v", b, r.err)
		}
	})
}

func TestServerEmitWithAckTimeout(t *testing.T) {
	ts := newTestServer(t, Config{})
	c, s := connected(t, ts, pollDial, func(s *Socket) {
		s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0]) })
	})
	start := time.Now()
	res := emitAsync(context.Background(), s.Timeout(100*time.Millisecond))
	id := readAckID(t, c)
	r := recv(t, res)
	if !errors.Is(r.err, ErrAckTimeout) || r.r != nil {
		t.Fatalf("got %v %v", r.r, r.err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	// The late reply is ignored and the connection works on.
	c.send(`43`+id+`["late"]`, `421["echo","ok"]`)
	expectText(t, c, `431["ok"]`)
	s.mu.Lock()
	pending := len(s.acks)
	s.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d acks pending", pending)
	}
	ts.noError()
}

func TestServerEmitWithAckContextCancel(t *testing.T) {
	ts := newTestServer(t, Config{})
	c, s := connected(t, ts, pollDial, nil)
	ctx, cancel := context.WithCancel(context.Background())
	res := emitAsync(ctx, s.Timeout(waitLong))
	readAckID(t, c)
	cancel()
	if r := recv(t, res); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v", r.err)
	}
	// An expired context with no timeout set on the emitter.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res = emitAsync(ctx, s.emitter())
	readAckID(t, c)
	if r := recv(t, res); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("got %v", r.err)
	}
}

func TestPendingAcksFailOnDisconnect(t *testing.T) {
	for _, how := range []string{"namespace", "transport", "server"} {
		t.Run(how, func(t *testing.T) {
			ts := newTestServer(t, Config{})
			c, s := connected(t, ts, pollDial, nil)
			res := emitAsync(context.Background(), s.Timeout(waitLong))
			readAckID(t, c)
			switch how {
			case "namespace":
				c.send("41")
			case "transport":
				c.closeTransport()
			case "server":
				s.Disconnect(false)
			}
			if r := recv(t, res); !errors.Is(r.err, ErrDisconnected) {
				t.Fatalf("got %v", r.err)
			}
			// Emitting to a disconnected socket fails at once.
			if _, err := s.EmitWithAck(context.Background(), "q"); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("EmitWithAck after disconnect: %v", err)
			}
			if err := s.Emit("q"); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("Emit after disconnect: %v", err)
			}
		})
	}
}

// BAD-INPUTS row 43
func TestAckForUnknownIDIgnored(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0]) })
		})
		c.send(`43999[]`)
		c.send(`43999["again"]`)
		c.send(`461-12[{"_placeholder":true,"num":0}]`)
		c.sendBinary([]byte{9})
		c.send(`421["echo","alive"]`)
		expectText(t, c, `431["alive"]`)
		ts.noError()
	})
}

// BAD-INPUTS row 43
func TestInvalidAckIDCloses(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, _ := connected(t, ts, dial, nil)
		c.send(`42abc["message-with-ack",1]`)
		expectClosedOnly(t, c)
	})
}

// A handler may wait for an acknowledgement from its own client: replies
// are resolved outside the socket's handler queue.
func TestEmitWithAckFromHandler(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.On("start", func(ev *Event) error {
				r, err := s.Timeout(waitLong).EmitWithAck(context.Background(), "q", 1)
				if err != nil {
					return err
				}
				return ev.Ack(r.Args()[0])
			})
		})
		c.send(`425["start"]`)
		id := readAckID(t, c)
		c.send(`43` + id + `["answer"]`)
		expectText(t, c, `435["answer"]`)
		ts.noError()
	})
}
