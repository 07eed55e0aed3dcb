package redis_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redis"
)

// levelLog is a slog.Handler recording the level and message of each
// record.
type levelLog struct {
	mu  sync.Mutex
	got []string
}

func (h *levelLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelLog) WithGroup(string) slog.Handler            { return h }
func (h *levelLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.got = append(h.got, r.Level.String()+" "+r.Message)
	h.mu.Unlock()
	return nil
}

// take returns the records above Debug level since the last call.
func (h *levelLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.got {
		if !strings.HasPrefix(r, "DEBUG ") {
			out = append(out, r)
		}
	}
	h.got = nil
	return out
}

// A Redis outage is one warning however many operations fail, and its
// end one line at Info level.
func TestRedisOutageLoggedOnce(t *testing.T) {
	rs := redistest.StartServer(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr(), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	logs := &levelLog{}
	opts := redis.Options{Key: uniqueKey(t), RequestsTimeout: time.Second, Logger: slog.New(logs)}
	A := newNode(t, "A", rdb, opts)
	ctx := context.Background()
	if err := A.srv.Emit("before"); err != nil {
		t.Fatal(err)
	}
	if got := logs.take(); len(got) > 0 {
		t.Fatalf("logged before the outage: %q", got)
	}

	for outage := range 2 {
		rs.Stop()
		for range 3 {
			if err := A.srv.Emit("during"); err == nil {
				t.Fatal("publishing while Redis is down did not fail")
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, _ = A.srv.FetchSockets(short)
			_ = A.adapter("/").ServerSideEmit(short, "during")
			cancel()
		}
		A.srv.Of("/late") // a namespace that cannot subscribe
		want := "WARN adapter/redis: Redis fails; broadcasts and requests to other nodes are lost until it answers"
		if got := logs.take(); len(got) != 1 || got[0] != want {
			t.Fatalf("outage %d: logged %q, want one warning", outage, got)
		}

		rs.Start()
		redistest.WaitServerCount(t, A.adapter("/"), 1)
		deadline := time.Now().Add(waitLong)
		for A.srv.Emit("after") != nil {
			if time.Now().After(deadline) {
				t.Fatal("publishing after the restart keeps failing")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := logs.take(); len(got) != 1 || got[0] != "INFO adapter/redis: Redis answers again" {
			t.Fatalf("outage %d: after it logged %q", outage, got)
		}
	}
}
