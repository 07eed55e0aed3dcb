package redisstreams_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
)

func TestMalformedInputIsDropped(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	logs := &logRecorder{}
	opts.Logger = slog.New(logs)
	a := newServer(t, "A", rdb, opts, time.Minute)
	a.connect("/", nil, "a1")
	ctx := context.Background()

	bad := []map[string]any{
		{"uid": "x", "nsp": "/", "type": "3", "data": "{broken"},
		{"uid": "x", "nsp": "/", "type": "3", "data": "%%%"},
		{"uid": "x", "nsp": "/", "type": "3", "data": "wQ=="},
		{"uid": "x", "nsp": "/", "type": "nope", "data": "{}"},
		{"uid": "x", "nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":"str"},"opts":{"rooms":[],"except":[]}}`},
		{"uid": "x", "nsp": "/", "type": "4", "data": `{"opts":null,"rooms":["r"]}`},
		{"uid": "x", "type": "3", "data": "{}"},
		{"uid": "x", "nsp": "/elsewhere", "type": "3", "data": "{}"},
	}
	for _, v := range bad {
		if err := rdb.XAdd(ctx, &goredis.XAddArgs{Stream: opts.StreamName, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"", "\xc1", "\x81\xa4type\x03", "\x84\xa4type\x03\xa4data\x01\xa3uid\xa1x\xa3nsp\xa1/", "\x91\x91\x91"} {
		if err := rdb.Publish(ctx, opts.ChannelPrefix+"#/#", p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A valid entry after them is delivered.
	if err := rdb.XAdd(ctx, &goredis.XAddArgs{Stream: opts.StreamName, Values: []string{"uid", "x", "nsp", "/", "type", "3",
		"data", `{"packet":{"type":2,"data":["ok"]},"opts":{"rooms":[],"except":[],"flags":{}}}`}}).Err(); err != nil {
		t.Fatal(err)
	}
	s := a.ns["/"].next(t)
	if !strings.HasPrefix(string(s.p.Data), `["ok","`) {
		t.Fatalf("sent %s", s.p.Data)
	}
	deadline := time.Now().Add(waitLong)
	for len(logs.matching("malformed stream entry")) < 6 || len(logs.matching("malformed message")) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q", logs.msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Other nodes cannot flood the logs: one warning, the rest at Debug.
	if w := logs.warnings("malformed"); len(w) != 1 {
		t.Errorf("%d warnings: %q", len(w), w)
	}
	a.ns["/"].none(t)

	// Restoring past malformed entries skips them.
	off, err := rdb.XAdd(ctx, &goredis.XAddArgs{Stream: opts.StreamName, Values: []string{"uid", "x", "nsp", "/", "type", "3", "data", "{bad"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range bad {
		_ = rdb.XAdd(ctx, &goredis.XAddArgs{Stream: opts.StreamName, Values: v}).Err()
	}
	if err := a.ad["/"].PersistSession(ctx, adapter.Session{SID: "s", PID: "p", Rooms: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	_, missed, ok, err := a.ad["/"].RestoreSession(ctx, "p", off)
	if !ok || err != nil || len(missed) != 0 {
		t.Errorf("restore past malformed entries: %v %v %v", missed, ok, err)
	}
	// A malformed session is not restored.
	if err := rdb.Set(ctx, opts.SessionKeyPrefix+"bad", "not base64!", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := a.ad["/"].RestoreSession(ctx, "bad", off); ok || err != nil {
		t.Errorf("malformed session: %v %v", ok, err)
	}
}

func TestRedisUnreachable(t *testing.T) {
	before := runtime.NumGoroutine()
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	logs := &logRecorder{}
	opts := redisstreams.Options{RequestTimeout: 300 * time.Millisecond, Logger: slog.New(logs)}
	start := time.Now()
	s := newServer(t, "A", rdb, opts, time.Minute)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("creating the adapter took %v", d)
	}
	s.connect("/", nil, "a1")
	a := s.ad["/"]
	ctx := context.Background()

	if err := a.Broadcast(ctx, event(`["x"]`), adapter.Options{}); err == nil {
		t.Error("broadcast: no error")
	}
	if sent := s.ns["/"].next(t); string(sent.p.Data) != `["x"]` || sent.flags.Offset != "" {
		t.Errorf("local delivery %s %+v", sent.p.Data, sent.flags)
	}
	if _, err := a.FetchSockets(ctx, adapter.Options{}); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("fetchSockets: %v", err)
	}
	if _, err := a.ServerSideEmitWithAck(ctx, "q"); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("serverSideEmitWithAck: %v", err)
	}
	if _, err := a.ServerCount(ctx); err == nil {
		t.Error("serverCount: no error")
	}
	if err := a.AddSockets(ctx, adapter.Options{}, []string{"r"}); err == nil {
		t.Error("addSockets: no error")
	}
	if got := a.Rooms("a1"); len(got) != 2 {
		t.Errorf("local join: %v", got)
	}
	if err := a.BroadcastWithAck(ctx, event(`["q"]`), adapter.Options{}, nil, nil); err == nil {
		t.Error("broadcastWithAck: no error")
	}
	if err := a.PersistSession(ctx, adapter.Session{SID: "s", PID: "p"}); err == nil {
		t.Error("persistSession: no error")
	}
	if _, _, ok, err := a.RestoreSession(ctx, "p", "1-1"); ok || err == nil {
		t.Errorf("restoreSession: %v %v", ok, err)
	}
	time.Sleep(200 * time.Millisecond)
	// One warning for the outage, whichever operation failed first.
	if n := len(logs.warnings("")); n != 1 {
		t.Errorf("%d outage warnings: %q", n, logs.msgs)
	}
	start = time.Now()
	s.close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	_ = rdb.Close() // its own background goroutines go with it
	waitGoroutines(t, before)
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	opts.StreamCount = 3
	ctx := context.Background()
	before := runtime.NumGoroutine()

	a := newServer(t, "A", rdb, opts, time.Minute, "/", "/admin")
	b := newServer(t, "B", rdb, opts, time.Minute, "/", "/admin")
	redistest.WaitServerCount(t, a.ad["/admin"], 2)
	a.connect("/admin", nil, "a1")
	b.connect("/admin", nil, "b1")
	if err := a.ad["/admin"].Broadcast(ctx, event(`["x"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	b.ns["/admin"].next(t)
	b.ad["/"].OnServerSideEmit(func(e *redisstreams.ServerSideEvent) { _ = e.Ack("ok") })
	if _, err := a.ad["/"].ServerSideEmitWithAck(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ad["/admin"].FetchSockets(ctx, adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	a.close()
	b.close()
	if err := a.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{}); !errors.Is(err, redisstreams.ErrClosed) {
		t.Errorf("broadcast after Close: %v", err)
	}
	if err := a.ad["/"].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitGoroutines(t, before)

	// The factory starts again.
	c := a.open("/")
	d := b.open("/")
	redistest.WaitServerCount(t, c, 2)
	a.connect("/", nil, "a1")
	if err := d.Broadcast(ctx, event(`["again"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	if sent := a.ns["/"].next(t); !strings.HasPrefix(string(sent.p.Data), `["again","`) {
		t.Errorf("sent %s", sent.p.Data)
	}
	a.close()
	b.close()
	waitGoroutines(t, before)
}

// A reader whose connection breaks resumes after the last entry it read:
// the entries added meanwhile are delivered, in order, with at most one
// warning (go-redis may retry the XREAD on a new connection itself).
func TestReaderResumes(t *testing.T) {
	rdb := redistest.NeedRedis(t)
	opts := uniqueOptions(t, rdb)
	logs := &logRecorder{}
	opts.Logger = slog.New(logs)
	name := opts.StreamName
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Addr, ClientName: name})
	defer client.Close()
	a := newServer(t, "A", client, opts, 0)
	opts.Logger = redistest.QuietLogger()
	b := newServer(t, "B", rdb, opts, 0)
	a.connect("/", nil, "a1")
	ctx := context.Background()

	if err := b.ad["/"].Broadcast(ctx, event(`["before"]`), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	expectSend(t, a.ns["/"], []string{"a1"}, `["before"]`)

	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, "cmd=xread") {
			continue
		}
		var id int64
		if _, err := fmt.Sscanf(line, "id=%d", &id); err == nil {
			if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d reading connections", killed)
	}
	for i := range 5 {
		if err := b.ad["/"].Broadcast(ctx, event(fmt.Sprintf(`["after",%d]`, i)), adapter.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		expectSend(t, a.ns["/"], []string{"a1"}, fmt.Sprintf(`["after",%d]`, i))
	}
	if n := len(logs.warnings("")); n > 1 {
		t.Errorf("%d warnings: %q", n, logs.msgs)
	}
}

// A Redis client that has not connected yet changes its own options as it
// opens its first connections; the adapter copies them for its reading
// connections without racing with that, even while the application uses
// the client at the same time (the test is for -race; a few fresh
// clients, since the race detector may miss one).
func TestFreshClient(t *testing.T) {
	opts := uniqueOptions(t, redistest.NeedRedis(t))
	ctx := context.Background()
	for range 20 {
		rdb := goredis.NewClient(&goredis.Options{Addr: redistest.Addr})
		used := make(chan error, 1)
		go func() { used <- rdb.Ping(ctx).Err() }()
		a := newServer(t, "A", rdb, opts, time.Minute)
		b := newServer(t, "B", rdb, opts, time.Minute)
		if err := <-used; err != nil {
			t.Fatal(err)
		}
		redistest.WaitServerCount(t, a.ad["/"], 2)
		a.connect("/", nil, "a1")
		if err := b.ad["/"].Broadcast(ctx, event(`["x"]`), adapter.Options{}); err != nil {
			t.Fatal(err)
		}
		if s := a.ns["/"].next(t); !strings.HasPrefix(string(s.p.Data), `["x","`) {
			t.Fatalf("sent %s", s.p.Data)
		}
		a.close()
		b.close()
		_ = rdb.Close()
	}
}
