package engineio

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// taker is a recorder whose TakeText takes the messages starting with "t"
// and records them as text too, so the recorder's order is the order the
// handler saw every message in.
type taker struct {
	*recorder
	offered, taken atomic.Int64
	busy           atomic.Int32 // deliveries running for the session
	overlap        atomic.Int32
}

func (k *taker) enter() {
	if k.busy.Add(1) != 1 {
		k.overlap.Add(1)
	}
}

func (k *taker) leave() { k.busy.Add(-1) }

func (k *taker) TakeText(s *Session, data []byte) bool {
	k.enter()
	defer k.leave()
	k.offered.Add(1)
	if !strings.HasPrefix(string(data), "t") {
		return false
	}
	k.taken.Add(1)
	k.recorder.OnText(s, data)
	return true
}

func (k *taker) OnText(s *Session, data []byte) {
	k.enter()
	defer k.leave()
	if strings.HasPrefix(string(data), "slow") {
		time.Sleep(2 * time.Millisecond) // messages read meanwhile queue
	}
	k.recorder.OnText(s, data)
}

// A TextTaker sees the messages it takes in order with those delivered to
// OnText, never two calls at once for a session, and OnClose last; over a
// WebSocket and in polling payloads.
func TestTextTakerKeepsOrder(t *testing.T) {
	// Groups of 7: two taken when offered, one declined, one declined and
	// slow (what follows it is read while it is delivered, so queued).
	var want []string
	for i := range 210 {
		switch i % 7 {
		case 2:
			want = append(want, fmt.Sprintf("o%d", i))
		case 3:
			want = append(want, fmt.Sprintf("slow%d", i))
		default:
			want = append(want, fmt.Sprintf("t%d", i))
		}
	}
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			k := &taker{recorder: newRecorder()}
			e := newEnvHandler(t, testConfig(), k, k.recorder)
			var sid string
			if transport == "websocket" {
				c, id := e.openWS(4)
				sid = id
				for i, m := range want {
					c.sendText("4" + m)
					if i%7 == 6 {
						eventually(t, waitLong, "a group", func() bool { return len(k.texts(sid)) == i+1 })
					}
				}
				eventually(t, waitLong, "every message", func() bool { return len(k.texts(sid)) == len(want) })
				c.close()
			} else {
				sid = e.openPolling(4, "")
				for i := 0; i < len(want); i += 7 {
					var b strings.Builder
					for j, m := range want[i : i+7] {
						if j > 0 {
							b.WriteByte(0x1e)
						}
						b.WriteString("4" + m)
					}
					expect(t, e.post(pq(sid), b.String()), 200, "ok")
					eventually(t, waitLong, "a payload", func() bool { return len(k.texts(sid)) == i+7 })
				}
				eventually(t, waitLong, "every message", func() bool { return len(k.texts(sid)) == len(want) })
				_ = e.srv.Close()
			}
			eventually(t, waitLong, "OnClose", func() bool { _, ok := k.closeEvent(sid); return ok })
			if evs := k.sessionEvents(sid); evs[len(evs)-1].kind != "close" {
				t.Fatalf("last event %+v, want the close", evs[len(evs)-1])
			}
			if got := k.texts(sid); !slices.Equal(got, want) {
				t.Fatalf("order:\n got %q\nwant %q", got, want)
			}
			if n := k.overlap.Load(); n != 0 {
				t.Fatalf("%d deliveries overlapped", n)
			}
			// Both paths ran: messages taken, and messages not offered
			// because a delivery was under way.
			if k.taken.Load() < 30 || k.offered.Load() == int64(len(want)) {
				t.Fatalf("offered %d, taken %d of %d", k.offered.Load(), k.taken.Load(), len(want))
			}
			t.Logf("offered %d, taken %d of %d", k.offered.Load(), k.taken.Load(), len(want))
		})
	}
}

// panicTaker panics in TakeText.
type panicTaker struct{ *recorder }

func (p panicTaker) TakeText(*Session, []byte) bool { panic("taker bug") }

// A panic in TakeText is a handler panic: counted, and the session closes
// with a transport error, OnClose last.
func TestTextTakerPanic(t *testing.T) {
	rec := newRecorder()
	e := newEnvHandler(t, testConfig(), panicTaker{rec}, rec)
	c, sid := e.openWS(4)
	defer c.close()
	c.sendText("4hello")
	rec.waitClosed(t, sid, ReasonTransportError)
	if got := rec.texts(sid); len(got) != 0 {
		t.Fatalf("OnText got %q after the taker panicked", got)
	}
	if n := e.srv.Stats().HandlerPanics; n != 1 {
		t.Fatalf("panics = %d, want 1", n)
	}
}
