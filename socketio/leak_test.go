package socketio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// settled waits until the namespaces have no socket and no room and the
// engine no session.
func settled(t *testing.T, ts *testServer, nsps ...string) {
	t.Helper()
	for _, name := range nsps {
		n := ts.io.Of(name)
		eventually(t, name+" has no socket", func() bool { return len(n.Sockets()) == 0 })
		eventually(t, name+" has no room", func() bool { return len(n.Adapter().AllRooms()) == 0 })
		n.mu.RLock()
		left := len(n.sockets)
		n.mu.RUnlock()
		if left != 0 {
			t.Fatalf("%s: %d sockets", name, left)
		}
	}
	eventually(t, "no session", func() bool { return ts.io.Engine().SessionCount() == 0 })
}

func goroutinesBackTo(t *testing.T, ts *testServer, baseline int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		ts.tr.CloseIdleConnections()
		n := runtime.NumGoroutine()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNoLeakAfterManyConnections(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.io.OnConnection(func(s *Socket) {
		s.Join("lobby", "r-"+s.ID()[:2])
		s.On("echo", func(ev *Event) error { return ev.Ack(ev.Args()[0]) })
	})
	ts.io.Of("/admin").OnConnection(func(s *Socket) { s.Join("admins") })

	// Warm up: the heartbeat wheel and the WebSocket poller start once.
	w := ts.dialWS("")
	connect(t, w, "/", "")
	w.closeTransport()
	p := ts.dialPolling("")
	connect(t, p, "/", "")
	p.closeTransport()
	settled(t, ts, "/", "/admin")
	ts.tr.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	const rounds = 30
	for i := range rounds {
		pc := ts.dialPolling("")
		connect(t, pc, "/", "")
		connect(t, pc, "/admin", "")
		pc.send(`421["echo",1]`)
		expectText(t, pc, `431[1]`)
		switch i % 3 {
		case 0:
			pc.send("41", "41/admin")
			pc.closeTransport()
		case 1:
			for _, s := range ts.io.Sockets() {
				s.Disconnect(true)
			}
			pc.expectClosed()
		case 2:
			pc.closeTransport()
		}

		wc := ts.dialWS("")
		connect(t, wc, "/", "")
		connect(t, wc, "/admin", "")
		wc.send(`421["echo",2]`)
		expectText(t, wc, `431[2]`)
		if i%2 == 0 {
			wc.send("41")
		}
		wc.closeTransport()
		// A session that never connects, closed by the client.
		idle := ts.dialPolling("")
		idle.closeTransport()
	}
	settled(t, ts, "/", "/admin")
	goroutinesBackTo(t, ts, baseline)
}

// BAD-INPUTS row 52
func TestConcurrentEmitJoinLeaveWhileDisconnecting(t *testing.T) {
	ts := newTestServer(t, Config{})
	var connected sync.Map
	ts.io.OnConnection(func(s *Socket) {
		connected.Store(s.ID(), s)
		s.Join("all")
		s.OnDisconnect(func(Reason) {
			// Late joins from a disconnect handler must not leak.
			s.Join("ghost")
			connected.Delete(s.ID())
		})
	})
	const nws, npoll = 12, 12
	clients := make([]tclient, 0, nws+npoll)
	for range nws {
		c := ts.dialWS("")
		connect(t, c, "/", "")
		clients = append(clients, c)
	}
	for range npoll {
		c := ts.dialPolling("")
		connect(t, c, "/", "")
		clients = append(clients, c)
	}
	eventually(t, "all connected", func() bool { return len(ts.io.Sockets()) == nws+npoll })

	sockets := func() []*Socket {
		var out []*Socket
		connected.Range(func(_, v any) bool { out = append(out, v.(*Socket)); return true })
		return out
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops atomic.Int64
	worker := func(f func(r *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				f(r)
				ops.Add(1)
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	pick := func(r *rand.Rand) *Socket {
		ss := sockets()
		if len(ss) == 0 {
			return nil
		}
		return ss[r.IntN(len(ss))]
	}
	ctx := context.Background()
	for range 3 {
		worker(func(r *rand.Rand) { _ = ts.io.To("all", fmt.Sprint("r", r.IntN(4))).Emit("news", r.IntN(100)) })
		worker(func(r *rand.Rand) {
			if s := pick(r); s != nil {
				_ = s.Emit("direct", []byte{byte(r.IntN(256))})
				_ = s.Volatile().Emit("v", 1)
				_ = s.To("all").Emit("from", s.ID())
			}
		})
		worker(func(r *rand.Rand) {
			if s := pick(r); s != nil {
				room := fmt.Sprint("r", r.IntN(4))
				s.Join(room)
				_ = s.Rooms()
				s.Leave(room)
				s.Join(room)
			}
		})
	}
	worker(func(r *rand.Rand) {
		_ = ts.io.Of("/").To("all").SocketsJoin(ctx, fmt.Sprint("r", r.IntN(4)))
		_ = ts.io.Of("/").SocketsLeave(ctx, fmt.Sprint("r", r.IntN(4)))
		_, _ = ts.io.FetchSockets(ctx)
	})
	worker(func(r *rand.Rand) {
		_, _ = ts.io.Timeout(time.Millisecond).EmitWithAck(ctx, "ask")
	})

	// Clients leave in every way while the workers run.
	for i, c := range clients {
		time.Sleep(5 * time.Millisecond)
		switch i % 4 {
		case 0:
			c.closeTransport()
		case 1:
			c.send("41")
		case 2:
			if s := pick(rand.New(rand.NewPCG(uint64(i), 2))); s != nil {
				s.Disconnect(i%8 == 2)
			}
		case 3:
			_ = ts.io.Of("/").To(fmt.Sprint("r", i%4)).DisconnectSockets(ctx, true)
		}
	}
	time.Sleep(20 * time.Millisecond)
	_ = ts.io.Of("/").DisconnectSockets(ctx, true)
	for _, c := range clients {
		if w, ok := c.(*wsClient); ok {
			w.closeTransport()
		} else {
			c.(*pollClient).post("1")
		}
	}
	close(stop)
	wg.Wait()
	if ops.Load() == 0 {
		t.Fatal("no operation ran")
	}
	t.Logf("%d concurrent operations", ops.Load())
	// A Join racing with the disconnection may have added the socket back
	// to the namespace-wide selection just before the end: everything must
	// still drain to nothing.
	settled(t, ts, "/")
}
