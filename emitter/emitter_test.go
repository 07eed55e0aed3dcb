package emitter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/emitter"
)

func needRedis(t *testing.T) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at 127.0.0.1:6379 does not answer (required under CI=true): %v", err)
		}
		t.Skipf("skipping: Redis at 127.0.0.1:6379 does not answer: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestPublishesWhatNodeEmitterPublishes compares, byte for byte, what the
// emitter publishes (captured with a real subscription) with what
// @socket.io/redis-emitter 5.1.0 publishes for the same calls. The golden
// payloads were captured from that package with a recording client and
// key "K"; JSON requests are shown as text.
func TestPublishesWhatNodeEmitterPublishes(t *testing.T) {
	rdb := needRedis(t)
	var r [4]byte
	_, _ = rand.Read(r[:])
	key := fmt.Sprintf("siotest-emitter-%x", r)
	ctx := context.Background()
	sub := rdb.PSubscribe(ctx, key+"#*", key+"-request#*")
	defer sub.Close()
	for range 2 {
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}

	e := emitter.New(rdb, emitter.Options{Key: key})
	steps := []struct {
		call    func() error
		channel string
		payload string // hex, or JSON text for requests
	}{
		{func() error { return e.Emit(ctx, "hello", "world", 1) }, "K#/#",
			"93a7656d697474657283a47479706502a46461746193a568656c6c6fa5776f726c6401a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490"},
		{func() error { return e.To("room1").Emit(ctx, "x", []byte{1, 2, 3}) }, "K#/#room1#",
			"93a7656d697474657283a47479706502a46461746192a178c403010203a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490"},
		{func() error {
			return e.Of("admin").To("a", "b").Except("c").Volatile().Emit(ctx, "v", map[string]any{"a": 1, "b": []any{true, nil, 2.5}})
		}, "K#/admin#",
			"93a7656d697474657283a47479706502a46461746192a17682a16101a16293c3c0cb4004000000000000a36e7370a62f61646d696e83a5726f6f6d7392a161a162a5666c61677381a8766f6c6174696c65c3a665786365707491a163"},
		{func() error { return e.Compress(false).Emit(ctx, "c") }, "K#/#",
			"93a7656d697474657283a47479706502a46461746191a163a36e7370a12f83a5726f6f6d7390a5666c61677381a8636f6d7072657373c2a665786365707490"},
		{func() error { return e.In("r1").SocketsJoin(ctx, "r2", "r3") }, "K-request#/#",
			`{"type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2","r3"]}`},
		{func() error { return e.SocketsLeave(ctx, "r2") }, "K-request#/#",
			`{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["r2"]}`},
		{func() error { return e.Except("x").DisconnectSockets(ctx, true) }, "K-request#/#",
			`{"type":4,"opts":{"rooms":[],"except":["x"]},"close":true}`},
		{func() error { return e.ServerSideEmit(ctx, "sse", map[string]int{"n": 1}, "s") }, "K-request#/#",
			`{"uid":"emitter","type":6,"data":["sse",{"n":1},"s"]}`},
		{func() error { return e.To("a").To("a").Emit(ctx, "dup") }, "K#/#a#",
			"93a7656d697474657283a47479706502a46461746191a3647570a36e7370a12f83a5726f6f6d7391a161a5666c61677380a665786365707490"},
	}
	for i, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := sub.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if want := key + strings.TrimPrefix(s.channel, "K"); msg.Channel != want {
			t.Errorf("step %d: channel %q, want %q", i, msg.Channel, want)
		}
		got := msg.Payload
		if !strings.HasPrefix(s.payload, "{") {
			got = hex.EncodeToString([]byte(got))
		}
		if got != s.payload {
			t.Errorf("step %d: payload\n got %s\nwant %s", i, got, s.payload)
		}
	}
}

func TestReservedEvents(t *testing.T) {
	e := emitter.New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), emitter.Options{})
	for _, ev := range []string{"connect", "disconnect", "newListener"} {
		if err := e.Emit(context.Background(), ev); !errors.Is(err, emitter.ErrReservedEvent) {
			t.Errorf("%s: %v", ev, err)
		}
		if err := e.ServerSideEmit(context.Background(), ev); !errors.Is(err, emitter.ErrReservedEvent) {
			t.Errorf("server-side %s: %v", ev, err)
		}
	}
	if got := e.Of("admin").Namespace(); got != "/admin" {
		t.Errorf("namespace %q", got)
	}
}

func TestRedisErrorReturned(t *testing.T) {
	e := emitter.New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), emitter.Options{})
	if err := e.Emit(context.Background(), "x"); err == nil {
		t.Error("no error without Redis")
	}
}
