package engineio

import (
	"sync"
	"time"
)

// wheel is a hashed timing wheel: one goroutine and one ticker for all the
// heartbeat deadlines of a server, instead of a runtime timer per session.
// Each session owns one entry, rescheduled in O(1) as pings and pongs go by.
// Deadlines fire within one tick of their time.
type wheel struct {
	tick  time.Duration
	mu    sync.Mutex
	slots []wheelEntry // sentinels of circular lists
	now   int64        // ticks since start
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

// wheelEntry is embedded in its owner; fire is called from the wheel
// goroutine and must not block.
type wheelEntry struct {
	prev, next *wheelEntry
	at         int64 // tick at which it fires
	fire       func()
}

const wheelSlots = 512

func newWheel(tick time.Duration) *wheel {
	w := &wheel{
		tick:  tick,
		slots: make([]wheelEntry, wheelSlots),
		start: time.Now(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for i := range w.slots {
		s := &w.slots[i]
		s.prev, s.next = s, s
	}
	go w.run()
	return w
}

// schedule (re)arms e to fire after d.
func (w *wheel) schedule(e *wheelEntry, d time.Duration) {
	at := int64((time.Since(w.start) + d + w.tick - 1) / w.tick)
	w.mu.Lock()
	w.unlink(e)
	if at <= w.now {
		at = w.now + 1
	}
	e.at = at
	s := &w.slots[at%wheelSlots]
	e.prev, e.next = s.prev, s
	s.prev.next = e
	s.prev = e
	w.mu.Unlock()
}

// cancel disarms e.
func (w *wheel) cancel(e *wheelEntry) {
	w.mu.Lock()
	w.unlink(e)
	w.mu.Unlock()
}

func (w *wheel) unlink(e *wheelEntry) {
	if e.next == nil {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (w *wheel) run() {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var due []*wheelEntry
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		target := int64(time.Since(w.start) / w.tick)
		w.mu.Lock()
		for w.now < target {
			w.now++
			s := &w.slots[w.now%wheelSlots]
			for e := s.next; e != s; {
				next := e.next
				if e.at <= w.now {
					w.unlink(e)
					due = append(due, e)
				}
				e = next
			}
		}
		w.mu.Unlock()
		for i, e := range due {
			e.fire()
			due[i] = nil
		}
		due = due[:0]
	}
}

func (w *wheel) close() {
	close(w.stop)
	<-w.done
}
