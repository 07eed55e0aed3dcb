package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/examples/internal/chatcore"
	"github.com/go-sio/sio/socketio"
)

const redisAddr = "127.0.0.1:6379"

// needRedis returns a client of the test Redis and a key prefix of the
// test's own (its keys are deleted at the end), or skips the test when
// Redis does not answer (fails it under CI=true).
func needRedis(t *testing.T) (*goredis.Client, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (required under CI=true): %v", redisAddr, err)
		}
		t.Skipf("skipping: Redis at %s does not answer: %v", redisAddr, err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "chat-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		keys, _ := rdb.Keys(ctx, prefix+":*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCensus(t *testing.T) {
	c := census{"lobby": {"bob"}, "dev": {"Carol"}}
	c.merge(census{"lobby": {"alice"}, "zoo": {"dave"}, "dev": {"eve"}})
	if got, want := c.users("lobby"), []string{"alice", "bob"}; !slices.Equal(got, want) {
		t.Errorf("users(lobby) = %v, want %v", got, want)
	}
	if got, want := c.users("dev"), []string{"Carol", "eve"}; !slices.Equal(got, want) {
		t.Errorf("users(dev) = %v, want %v (sorted without regard to case)", got, want)
	}
	if got := c.users("nowhere"); len(got) != 0 {
		t.Errorf("users(nowhere) = %v, want none", got)
	}
	want := []chatcore.RoomInfo{{Name: "lobby", Users: 2}, {Name: "dev", Users: 2}, {Name: "zoo", Users: 1}}
	if got := c.roomList(); !slices.Equal(got, want) {
		t.Errorf("roomList() = %v, want %v", got, want)
	}
	// The default room is listed even when empty; empty rooms are not.
	if got, want := (census{"x": nil}).roomList(), []chatcore.RoomInfo{{Name: "lobby", Users: 0}}; !slices.Equal(got, want) {
		t.Errorf("roomList() of an empty chat = %v, want %v", got, want)
	}
}

func TestLocalPresence(t *testing.T) {
	var l local
	l.members = map[string]member{}
	l.set("s1", "alice", "lobby")
	l.set("s2", "bob", "lobby")
	l.set("s2", "bob", "dev")
	l.set("s3", "carol", "dev")
	l.set("s3", "carol", "")
	c := l.census()
	if got := c.users("lobby"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("lobby = %v", got)
	}
	if got := c.users("dev"); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("dev = %v", got)
	}
}

func TestHolder(t *testing.T) {
	for _, h := range []holder{{"sid1", "token"}, {"sid2", ""}} {
		if got := parseHolder(h.String()); got != h {
			t.Errorf("parseHolder(%q) = %v, want %v", h.String(), got, h)
		}
	}
}

// TestNickClaims: a nickname has one holder in Redis, whatever the case;
// only the holder releases it; a takeover needs the holder seen.
func TestNickClaims(t *testing.T) {
	rdb, prefix := needRedis(t)
	st := &store{rdb: rdb, prefix: prefix}
	ctx := context.Background()
	a, b, c := holder{"sa", "ta"}, holder{"sb", "tb"}, holder{"sc", ""}

	if _, ok, err := st.claimNick(ctx, "Alice", a); err != nil || !ok {
		t.Fatalf("first claim: ok=%v err=%v", ok, err)
	}
	cur, ok, err := st.claimNick(ctx, "ALICE", b)
	if err != nil || ok || cur != a {
		t.Fatalf("second claim = %v, %v, %v; want held by %v", cur, ok, err, a)
	}
	if err := st.releaseNick(ctx, "alice", b); err != nil {
		t.Fatal(err)
	}
	if cur, ok, _ := st.claimNick(ctx, "alice", c); ok || cur != a {
		t.Fatal("a release by another holder freed the nickname")
	}
	// A takeover of a claim that changed meanwhile fails.
	if took, err := st.takeNick(ctx, "alice", c, b); err != nil || took {
		t.Fatalf("takeover from a non-holder: took=%v err=%v", took, err)
	}
	if took, err := st.takeNick(ctx, "alice", a, b); err != nil || !took {
		t.Fatalf("takeover: took=%v err=%v", took, err)
	}
	if err := st.releaseNick(ctx, "alice", a); err != nil {
		t.Fatal(err)
	}
	if cur, ok, _ := st.claimNick(ctx, "alice", c); ok || cur != b {
		t.Fatalf("after the takeover the holder is %v, want %v", cur, b)
	}
	if err := st.releaseNick(ctx, "alice", b); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.claimNick(ctx, "alice", c); err != nil || !ok {
		t.Fatalf("claim after release: ok=%v err=%v", ok, err)
	}
}

func TestHistoryAndRooms(t *testing.T) {
	rdb, prefix := needRedis(t)
	st := &store{rdb: rdb, prefix: prefix}
	ctx := context.Background()

	for i := range chatcore.HistorySize + 5 {
		if err := st.appendHistory(ctx, chatcore.Message{ID: string(rune('a' + i%26)), Room: "dev", Text: "m", Time: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := st.history(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != chatcore.HistorySize || h[0].Time != 5 || h[len(h)-1].Time != chatcore.HistorySize+4 {
		t.Fatalf("history: %d messages from %d to %d; want the last %d", len(h), h[0].Time, h[len(h)-1].Time, chatcore.HistorySize)
	}
	if ttl := rdb.TTL(ctx, prefix+":history:dev").Val(); ttl <= 0 || ttl > historyTTL {
		t.Errorf("history TTL = %v", ttl)
	}

	rooms, v, err := st.rooms(ctx)
	if err != nil || v != 0 || !slices.Equal(rooms, []chatcore.RoomInfo{{Name: "lobby", Users: 0}}) {
		t.Fatalf("rooms before any snapshot = %v, %d, %v", rooms, v, err)
	}
	v1, _ := st.nextVersion(ctx)
	v2, _ := st.nextVersion(ctx)
	if v2 <= v1 {
		t.Fatalf("versions %d then %d", v1, v2)
	}
	newer := []chatcore.RoomInfo{{Name: "lobby", Users: 2}}
	older := []chatcore.RoomInfo{{Name: "lobby", Users: 1}}
	if err := st.saveRooms(ctx, v2, newer); err != nil {
		t.Fatal(err)
	}
	if err := st.saveRooms(ctx, v1, older); err != nil {
		t.Fatal(err)
	}
	rooms, v, _ = st.rooms(ctx)
	if v != v2 || !slices.Equal(rooms, newer) {
		t.Fatalf("rooms = %v version %d; want %v version %d (an older snapshot does not replace a newer one)", rooms, v, newer, v2)
	}
}

// TestCensusAcrossNodes: two nodes in this process share Redis; each
// one's census holds the other's members, and a node that closes drops
// out of the census.
func TestCensusAcrossNodes(t *testing.T) {
	rdb, prefix := needRedis(t)
	st := &store{rdb: rdb, prefix: prefix}
	var nodes []*presence
	var servers []*socketio.Server
	for range 2 {
		io, err := socketio.NewServer(socketio.Config{
			Logger:  quiet(),
			Adapter: redis.NewAdapter(rdb, redis.Options{Key: prefix, Logger: quiet()}),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = io.Close() })
		servers = append(servers, io)
		nodes = append(nodes, newPresence(io, st, quiet()))
	}
	nodes[0].local.set("s1", "alice", "lobby")
	nodes[1].local.set("s2", "bob", "lobby")
	nodes[1].local.set("s3", "carol", "dev")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, p := range nodes {
		v, c, err := p.snapshot(ctx)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if v <= 0 {
			t.Errorf("node %d: version %d", i, v)
		}
		if got := c.users("lobby"); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("node %d: lobby = %v", i, got)
		}
		if got := c.users("dev"); !slices.Equal(got, []string{"carol"}) {
			t.Errorf("node %d: dev = %v", i, got)
		}
	}

	_ = servers[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, c, err := nodes[0].snapshot(ctx)
		if err == nil && slices.Equal(c.users("lobby"), []string{"alice"}) && len(c.users("dev")) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after node 1 closed: census %v, err %v", c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
