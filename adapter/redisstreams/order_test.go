package redisstreams_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/parser/sio"
)

// With recovery on, a server delivers the broadcasts that get an offset in
// stream order, its own among those of the others: a client resumes after
// the last offset it got, so one overtaken by a later offset would be
// lost to it.
func TestOwnBroadcastsInStreamOrder(t *testing.T) {
	rdb, opts, a, b := twoServers(t, time.Minute)
	ctx := context.Background()
	B := b.ns["/"]

	// B's reader is held up while it delivers A's first broadcast.
	entered, release := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open)
	B.setGate(func(p *sio.Packet) {
		if strings.HasPrefix(string(p.Data), `["first"`) {
			enterOnce.Do(func() { close(entered) })
			<-release
		}
	})
	if err := a.ad["/"].Broadcast(ctx, event(`["first"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(waitLong):
		t.Fatal("B's reader did not deliver the first broadcast")
	}
	if err := a.ad["/"].Broadcast(ctx, event(`["second"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.ad["/"].Broadcast(ctx, event(`["third"]`), adapter.Options{}) }()
	deadline := time.Now().Add(waitLong)
	for {
		n, err := rdb.XLen(ctx, opts.StreamName).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries in the stream, want 3", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("B's broadcast did not return")
	}
	last := ""
	for _, want := range []string{"first", "second", "third"} {
		s := B.next(t)
		if !strings.HasPrefix(string(s.p.Data), `["`+want+`",`) {
			t.Fatalf("B sent %s, want %s", s.p.Data, want)
		}
		if s.flags.Offset == "" || (last != "" && adapter.CompareOffsets(last, s.flags.Offset) >= 0) {
			t.Fatalf("offset %q after %q", s.flags.Offset, last)
		}
		last = s.flags.Offset
	}
	B.none(t)
}

// A server's own broadcast waits for its reader at most RequestTimeout,
// then is delivered anyway, once.
func TestOwnBroadcastWaitsAtMostRequestTimeout(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	opts.RequestTimeout = 300 * time.Millisecond
	a := newServer(t, "A", rdb, opts, time.Minute)
	b := newServer(t, "B", rdb, opts, time.Minute)
	redistest.WaitServerCount(t, a.ad["/"], 2)
	b.connect("/", nil, "b1")
	ctx := context.Background()
	B := b.ns["/"]

	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open)
	B.setGate(func(p *sio.Packet) {
		if strings.HasPrefix(string(p.Data), `["held"`) {
			<-release
		}
	})
	if err := a.ad["/"].Broadcast(ctx, event(`["held"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.ad["/"].Broadcast(ctx, event(`["own"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < opts.RequestTimeout || d > 10*opts.RequestTimeout {
		t.Errorf("the broadcast returned after %v, want about %v", d, opts.RequestTimeout)
	}
	if s := B.next(t); !strings.HasPrefix(string(s.p.Data), `["own","`) {
		t.Fatalf("B sent %s first", s.p.Data)
	}
	open()
	if s := B.next(t); !strings.HasPrefix(string(s.p.Data), `["held","`) {
		t.Fatalf("B sent %s, want held", s.p.Data)
	}
	// The reader goes on at once, and delivers nothing twice.
	start = time.Now()
	if err := a.ad["/"].Broadcast(ctx, event(`["next"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	if s := B.next(t); !strings.HasPrefix(string(s.p.Data), `["next","`) {
		t.Fatalf("B sent %s, want next", s.p.Data)
	}
	if d := time.Since(start); d > opts.RequestTimeout {
		t.Errorf("next delivered after %v", d)
	}
	B.none(t)
}
