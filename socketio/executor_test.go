package socketio

import (
	"slices"
	"sync"
	"testing"
	"time"
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
