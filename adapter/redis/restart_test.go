package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redis"
)

func TestRedisRestart(t *testing.T) {
	rs := redistest.StartServer(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr(), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	opts := redis.Options{Key: uniqueKey(t), RequestsTimeout: time.Second}
	nodes := newCluster(t, rdb, 2, opts)
	A, B := nodes[0], nodes[1]
	a1 := dial(t, A, "a1", "/", "r")
	b1 := dial(t, B, "b1", "/", "r")
	for _, c := range []*tclient{a1, b1} {
		c.onAck(func(string, []json.RawMessage) []any { return []any{c.name} })
	}
	ctx := context.Background()

	// Before.
	if err := A.srv.Emit("before"); err != nil {
		t.Fatal(err)
	}
	a1.expect("before", "[]")
	b1.expect("before", "[]")

	// Redis goes away: local delivery goes on, cluster requests fail.
	rs.Stop()
	if err := A.srv.Emit("during"); err == nil {
		t.Error("publishing while Redis is down did not fail")
	}
	a1.expect("during", "[]")
	if err := B.srv.To("r").Emit("during-b"); err == nil {
		t.Error("publishing while Redis is down did not fail")
	}
	b1.expect("during-b", "[]")
	start := time.Now()
	if _, err := A.srv.FetchSockets(ctx); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("fetchSockets while Redis is down: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fetchSockets took %v", d)
	}
	// (a1 does not answer this one: socketio's EmitWithAckEach returns on
	// the adapter's error without waiting, and a late answer would race
	// with the returned replies.)
	a1.onAck(nil)
	if _, err := A.srv.Timeout(500*time.Millisecond).EmitWithAck(ctx, "ack-during"); err == nil {
		t.Error("emitWithAck while Redis is down did not fail")
	}
	a1.expect("ack-during", "[]")
	a1.onAck(func(string, []json.RawMessage) []any { return []any{"a1"} })
	if err := A.srv.In("r").SocketsJoin(ctx, "x"); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("socketsJoin while Redis is down: %v", err)
	}
	if got := A.adapter("/").Rooms(a1.id); len(got) != 3 {
		t.Errorf("local join not applied: %q", got)
	}

	// Redis is back on the same port: the subscriptions are renewed.
	rs.Start()
	restarted := time.Now()
	redistest.WaitServerCount(t, A.adapter("/"), 2)
	redistest.WaitServerCount(t, B.adapter("/"), 2)
	t.Logf("subscriptions renewed %v after the restart", time.Since(restarted).Round(time.Millisecond))

	const n = 50
	for i := range n {
		if err := A.srv.To("r").Emit("after-a", i); err != nil {
			t.Fatal(err)
		}
		if err := B.srv.Emit("after-b", i); err != nil {
			t.Fatal(err)
		}
	}
	// Each client sees the events of each node in order, and nothing of
	// what was published while Redis was away.
	for _, c := range []*tclient{a1, b1} {
		next := map[string]int{}
		for range 2 * n {
			p := c.next(waitLong)
			if p == nil {
				t.Fatalf("%s: missing events after the restart: %v", c.name, next)
			}
			name, args, _ := p.Args()
			if !strings.HasPrefix(name, "after-") || string(args[0]) != strconv.Itoa(next[name]) {
				t.Fatalf("%s: got %s, want %s %d", c.name, p.Data, name, next[name])
			}
			next[name]++
		}
	}
	socks, err := A.srv.FetchSockets(ctx)
	if err != nil || len(socks) != 2 {
		t.Errorf("fetchSockets after the restart: %d sockets, %v", len(socks), err)
	}
	replies, err := B.srv.Timeout(waitLong).EmitWithAck(ctx, "ack-after")
	if err != nil || len(replies) != 2 {
		t.Errorf("emitWithAck after the restart: %d replies, %v", len(replies), err)
	}
}

// TestCloseStopsGoroutines checks that closing the servers (and so their
// adapters) leaves no goroutine of the adapter or of go-redis behind.
func TestCloseStopsGoroutines(t *testing.T) {
	rdb0 := redistest.NeedRedis(t)
	_ = rdb0
	rdb := goredis.NewClient(&goredis.Options{Addr: redistest.Addr})
	opts := redis.Options{Key: uniqueKey(t)}
	nodes := newCluster(t, rdb, 2, opts)
	c := dial(t, nodes[1], "c", "/")
	nodes[0].srv.Of("/admin")
	if _, err := nodes[0].srv.FetchSockets(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].adapter("/").ServerSideEmit(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	c.close()
	for _, n := range nodes {
		n.close()
	}
	_ = rdb.Close()
	deadline := time.Now().Add(waitLong)
	for {
		left := leftovers()
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left:\n%s", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leftovers() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out strings.Builder
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "sio/adapter/redis.") || strings.Contains(g, "sio/adapter/internal/cluster.") || strings.Contains(g, "redis/go-redis/v9") {
			fmt.Fprintln(&out, g)
		}
	}
	return out.String()
}
