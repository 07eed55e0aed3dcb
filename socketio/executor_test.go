package socketio

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sio/sio/parser/sio"
)

type corkLog struct {
	mu  sync.Mutex
	log []string
}

func (c *corkLog) Cork()   { c.add("cork") }
func (c *corkLog) Uncork() { c.add("uncork") }
func (c *corkLog) add(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

// A burst of queued work runs corked and uncorks as soon as the queue
// drains; a lone item is never corked.
func TestExecutorCorksBursts(t *testing.T) {
	cl := &corkLog{}
	e := &executor{cork: cl}
	release := make(chan struct{})
	done := make(chan struct{})
	e.run(func() { <-release; cl.add("f1") })
	e.run(func() { cl.add("f2") })
	e.run(func() { cl.add("f3"); close(done) })
	close(release)
	<-done
	waitFor(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return !e.running
	})
	cl.mu.Lock()
	got := slices.Clone(cl.log)
	cl.mu.Unlock()
	// f1 may start before f2 and f3 are queued (then it runs uncorked);
	// either way f3 ends the burst and the cork is released after it.
	want1 := []string{"cork", "f1", "f2", "f3", "uncork"}
	want2 := []string{"f1", "cork", "f2", "f3", "uncork"}
	if !slices.Equal(got, want1) && !slices.Equal(got, want2) {
		t.Fatalf("log %v", got)
	}

	cl.mu.Lock()
	cl.log = nil
	cl.mu.Unlock()
	one := make(chan struct{})
	e.run(func() { cl.add("alone"); close(one) })
	<-one
	waitFor(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return !e.running
	})
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if !slices.Equal(cl.log, []string{"alone"}) {
		t.Fatalf("lone item: log %v", cl.log)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// Work queued while the executor runs, from several goroutines, runs
// exactly once and in the order each goroutine queued it, events and
// functions alike, and the queue's storage stays bounded while the
// executor never drains.
func TestExecutorOrderUnderLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[int][]int{}
	record := func(g, i int) {
		mu.Lock()
		seen[g] = append(seen[g], i)
		mu.Unlock()
	}
	e := &executor{owner: eventFunc(func(p *sio.Packet) { record(int(p.ID>>32), int(p.ID&0xffffffff)) })}
	const goroutines, each = 4, 5000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if i%2 == 0 {
					e.runEvent(&sio.Packet{ID: uint64(g)<<32 | uint64(i)})
				} else {
					e.run(func() { record(g, i) })
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return !e.running
	})
	for g := range goroutines {
		got := seen[g]
		if len(got) != each {
			t.Fatalf("goroutine %d: %d tasks ran, want %d", g, len(got), each)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("goroutine %d: task %d ran at position %d", g, v, i)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cap(e.q) > keptQueue || e.head != 0 || len(e.q) != 0 {
		t.Fatalf("idle executor keeps len %d cap %d head %d", len(e.q), cap(e.q), e.head)
	}
}

// An executor that never drains (each task queues another) reuses the
// room of the tasks it took: its queue stays the size of what waits.
func TestExecutorQueueBoundedWhenBusy(t *testing.T) {
	e := &executor{}
	const total, ahead = 20000, 10
	done := make(chan struct{})
	maxCap := 0
	var next func(i int) func()
	next = func(i int) func() {
		return func() {
			e.mu.Lock()
			maxCap = max(maxCap, cap(e.q))
			e.mu.Unlock()
			if j := i + ahead; j < total {
				e.run(next(j))
			}
			if i == total-1 {
				close(done)
			}
		}
	}
	for i := range ahead {
		e.run(next(i))
	}
	<-done
	if maxCap > 4*ahead {
		t.Fatalf("queue capacity reached %d with %d tasks waiting", maxCap, ahead)
	}
}

// eventFunc is an executor owner calling a function for each event.
type eventFunc func(*sio.Packet)

func (f eventFunc) onEvent(p *sio.Packet) { f(p) }
