package engineio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BAD-INPUTS row 52: many goroutines send on the same and on different
// sessions while their clients read, disconnect, and the server closes
// sessions. No race (run with -race), no panic; each sender's messages
// reach a client in order; Send fails only with ErrSessionClosed.
func TestConcurrentSendWhileDisconnecting(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		const (
			wsClients   = 16
			pollClients = 8
			senders     = 8
			perSender   = 300
		)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		var sessions []*Session
		var clients sync.WaitGroup
		var failures atomic.Int64
		fail := func(format string, args ...any) {
			if failures.Add(1) < 5 {
				t.Errorf(format, args...)
			}
		}
		// checkOrder verifies that, per sender, sequence numbers grow.
		checkOrder := func(last map[string]int, pkt string) {
			if !strings.HasPrefix(pkt, "4s") {
				return
			}
			id, seq, ok := strings.Cut(pkt[2:], "-")
			n, err := strconv.Atoi(seq)
			if !ok || err != nil {
				fail("bad message %q", pkt)
				return
			}
			if prev, seen := last[id]; seen && n <= prev {
				fail("sender %s: %d after %d", id, n, prev)
			}
			last[id] = n
		}

		for i := range wsClients {
			c, sid := e.openWS(4)
			sessions = append(sessions, e.srv.Session(sid))
			readFor := time.Duration(rand.IntN(80)) * time.Millisecond
			clients.Go(func() {
				defer c.close()
				last := map[string]int{}
				deadline := time.Now().Add(readFor)
				for time.Now().Before(deadline) || i%4 == 0 {
					f, err := c.readFrameErr(waitLong)
					if err != nil {
						return // closed by the server
					}
					if f.op == opClose {
						return
					}
					checkOrder(last, string(f.payload))
				}
				if i%2 == 0 {
					_, _ = c.conn.Write(maskedFrame(0x80|opClose, closePayload(1000, "")))
				}
			})
		}
		for i := range pollClients {
			sid := e.openPolling(4, "")
			sessions = append(sessions, e.srv.Session(sid))
			clients.Go(func() {
				last := map[string]int{}
				for j := 0; ; j++ {
					if i%2 == 0 && j == 3 {
						// Abort a poll.
						pctx, pcancel := context.WithTimeout(ctx, 5*time.Millisecond)
						_, _ = e.doErr(pctx, "GET", pq(sid), nil, nil)
						pcancel()
						return
					}
					rep, err := e.doErr(ctx, "GET", pq(sid), nil, nil)
					if err != nil || rep.status != 200 {
						return
					}
					for _, pkt := range strings.Split(string(rep.body), "\x1e") {
						checkOrder(last, pkt)
						if pkt == "1" {
							return
						}
					}
					if i%2 == 1 && j == 5 {
						_, _ = e.doErr(ctx, "POST", pq(sid), strings.NewReader("1"), nil)
					}
				}
			})
		}

		var senderWG sync.WaitGroup
		var sentOK, sentClosed atomic.Int64
		for id := range senders {
			senderWG.Go(func() {
				for seq := range perSender {
					// Half the senders hammer one shared session.
					var s *Session
					if id%2 == 0 {
						s = sessions[0]
					} else {
						s = sessions[rand.IntN(len(sessions))]
					}
					var err error
					m := fmt.Appendf(nil, "s%d-%d", id, seq)
					switch seq % 3 {
					case 0:
						err = s.SendText(m)
					case 1:
						err = s.Send(NewTextMessage(m), NewTextMessage(m[:0]))
					case 2:
						err = s.SendBinary(m)
					}
					switch {
					case err == nil:
						sentOK.Add(1)
					case errors.Is(err, ErrSessionClosed):
						sentClosed.Add(1)
					default:
						fail("Send: %v", err)
					}
					if seq%50 == 0 && id == 1 {
						_ = sessions[rand.IntN(len(sessions))].Close()
					}
				}
			})
		}
		senderWG.Wait()
		t.Logf("sends: %d accepted, %d refused (closed)", sentOK.Load(), sentClosed.Load())
		_ = e.srv.Close()
		cancel()
		clients.Wait()
		eventually(t, waitLong, "every OnClose", func() bool {
			return e.h.closes.Load() == int64(wsClients+pollClients)
		})
		if e.srv.SessionCount() != 0 {
			t.Fatalf("SessionCount %d", e.srv.SessionCount())
		}
	})
}

// Sessions opening and closing concurrently with Server.Sessions and
// Server.Session lookups.
func TestConcurrentOpenClose(t *testing.T) {
	e := newEnv(t, testConfig())
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.srv.Sessions(func(s *Session) bool {
				_ = s.SendText([]byte("hi"))
				_ = s.Transport()
				return true
			})
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 25 {
				rep, err := e.doErr(t.Context(), "GET", "EIO=4&transport=polling", nil, nil)
				if err != nil || rep.status != 200 {
					t.Errorf("handshake: %v %v", rep, err)
					return
				}
				sid := openRE.FindStringSubmatch(string(rep.body))[1]
				if w%2 == 0 {
					_, _ = e.doErr(t.Context(), "POST", pq(sid), strings.NewReader("1"), nil)
				} else if s := e.srv.Session(sid); s != nil {
					_ = s.Close()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	_ = e.srv.Close()
	if e.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount %d", e.srv.SessionCount())
	}
}

// OnClose is the last call for a session even when messages arrive while
// the session is being closed.
func TestNoMessageAfterOnClose(t *testing.T) {
	forEachWebSocketMode(t, testConfig(), func(t *testing.T, e *env) {
		for range 30 {
			var clients []*wsClient
			for range 10 {
				c, _ := e.openWS(4)
				clients = append(clients, c)
			}
			frame := maskedFrame(0x80|opText, []byte("4x"))
			burst := bytes.Repeat(frame, 200)
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Go(func() { _, _ = c.conn.Write(burst) })
			}
			e.srv.Sessions(func(s *Session) bool { s.fail(ReasonForcedClose, nil); return true })
			wg.Wait()
			for _, c := range clients {
				c.close()
			}
			eventually(t, waitLong, "sessions closed", func() bool { return e.srv.SessionCount() == 0 })
		}
		eventually(t, waitLong, "OnClose", func() bool { return e.h.closes.Load() == 300 })
		time.Sleep(20 * time.Millisecond)
		if n := e.h.afterClose.Load(); n > 0 {
			t.Fatalf("%d handler calls after OnClose", n)
		}
	})
}
