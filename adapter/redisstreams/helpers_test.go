package redisstreams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/parser/sio"
)

const waitLong = redistest.WaitLong

func TestMain(m *testing.M) { redistest.Main(m) }

// uniqueOptions returns options with a stream name, channel prefix and
// session prefix of the test's own; the streams and sessions are deleted
// when the test ends.
func uniqueOptions(t testing.TB, rdb *goredis.Client) redisstreams.Options {
	name := redistest.UniqueName(t)
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pattern := range []string{name, name + "-*", name + ":*"} {
			keys, _ := rdb.Keys(ctx, pattern).Result()
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
	})
	return redisstreams.Options{
		StreamName:       name,
		ChannelPrefix:    name,
		SessionKeyPrefix: name + ":session:",
		Logger:           redistest.QuietLogger(),
	}
}

// sent is one Send or SendWithAck call of a fakeNS.
type sent struct {
	ids   []string
	p     *sio.Packet
	flags adapter.Flags
	onAck adapter.AckFunc
}

// fakeNS is a namespace of a test server: it records what the adapter
// sends; its sockets' data is {"node": <server>}.
type fakeNS struct {
	name     string
	server   string
	recovery time.Duration // > 0: connection state recovery on
	sends    chan sent
	mu       sync.Mutex
	discs    [][]string
	ad       adapter.Adapter   // for the rooms of its sockets
	gate     func(*sio.Packet) // when set, called by Send before recording
}

func newFakeNS(name, server string, recovery time.Duration) *fakeNS {
	return &fakeNS{name: name, server: server, recovery: recovery, sends: make(chan sent, 256)}
}

func (f *fakeNS) Name() string { return f.name }

func (f *fakeNS) Send(ids []string, p *sio.Packet, flags adapter.Flags) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		gate(p)
	}
	f.sends <- sent{ids: sortedIDs(ids), p: p, flags: flags}
}

// setGate sets the function Send calls first.
func (f *fakeNS) setGate(fn func(*sio.Packet)) {
	f.mu.Lock()
	f.gate = fn
	f.mu.Unlock()
}

func (f *fakeNS) SendWithAck(ids []string, p *sio.Packet, flags adapter.Flags, onAck adapter.AckFunc) int {
	f.sends <- sent{ids: sortedIDs(ids), p: p, flags: flags, onAck: onAck}
	return len(ids)
}

func (f *fakeNS) Disconnect(ids []string, close bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discs = append(f.discs, sortedIDs(ids))
}

func (f *fakeNS) disconnected() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.discs)
}

func (f *fakeNS) Socket(id string) (adapter.SocketInfo, bool) {
	f.mu.Lock()
	ad := f.ad
	f.mu.Unlock()
	return adapter.SocketInfo{ID: id, Handshake: json.RawMessage(`{"auth":{}}`), Rooms: ad.Rooms(id),
		Data: json.RawMessage(`{"node":"` + f.server + `"}`)}, true
}

// recoveryNS is a fakeNS of a server with connection state recovery.
type recoveryNS struct{ *fakeNS }

func (r recoveryNS) Recovery() adapter.RecoveryConfig {
	return adapter.RecoveryConfig{MaxDisconnectionDuration: r.recovery}
}

// next returns the next send, failing the test after a while.
func (f *fakeNS) next(t testing.TB) sent {
	t.Helper()
	select {
	case s := <-f.sends:
		return s
	case <-time.After(waitLong):
		t.Fatalf("%s %s: nothing sent", f.server, f.name)
	}
	return sent{}
}

// drain forgets what was sent.
func (f *fakeNS) drain() {
	for {
		select {
		case <-f.sends:
		default:
			return
		}
	}
}

// none checks that nothing is sent for a moment.
func (f *fakeNS) none(t testing.TB) {
	t.Helper()
	select {
	case s := <-f.sends:
		t.Fatalf("%s %s: unexpected send to %v of %s", f.server, f.name, s.ids, s.p.Data)
	case <-time.After(150 * time.Millisecond):
	}
}

// server is one test server: an adapter Factory and the namespaces it
// created.
type server struct {
	name     string
	factory  adapter.Factory
	recovery time.Duration
	ns       map[string]*fakeNS
	ad       map[string]*redisstreams.Adapter
}

func newServer(t testing.TB, name string, rdb goredis.UniversalClient, opts redisstreams.Options, recovery time.Duration, nsps ...string) *server {
	t.Helper()
	s := &server{name: name, factory: redisstreams.NewAdapter(rdb, opts), recovery: recovery,
		ns: map[string]*fakeNS{}, ad: map[string]*redisstreams.Adapter{}}
	if len(nsps) == 0 {
		nsps = []string{"/"}
	}
	for _, nsp := range nsps {
		s.open(nsp)
	}
	t.Cleanup(s.close)
	return s
}

func (s *server) open(nsp string) *redisstreams.Adapter {
	f := newFakeNS(nsp, s.name, s.recovery)
	var ns adapter.Namespace = f
	if s.recovery > 0 {
		ns = recoveryNS{f}
	}
	a := s.factory(ns).(*redisstreams.Adapter)
	f.mu.Lock()
	f.ad = a
	f.mu.Unlock()
	s.ns[nsp], s.ad[nsp] = f, a
	return a
}

func (s *server) close() {
	for _, a := range s.ad {
		_ = a.Close()
	}
}

// connect adds local sockets as the socketio package does: in their own
// room, then in rooms.
func (s *server) connect(nsp string, rooms []string, ids ...string) {
	for _, id := range ids {
		s.ad[nsp].AddAll(id, append([]string{id}, rooms...)...)
	}
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func event(data string) *sio.Packet {
	return &sio.Packet{Type: sio.Event, Namespace: "/", Data: json.RawMessage(data)}
}

// logRecorder is a slog handler keeping the messages, each after its
// level.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// warnings returns the messages at Warn level and above containing sub.
func (l *logRecorder) warnings(sub string) []string {
	var out []string
	for _, m := range l.matching(sub) {
		if !strings.HasPrefix(m, "DEBUG ") && !strings.HasPrefix(m, "INFO ") {
			out = append(out, m)
		}
	}
	return out
}

func (l *logRecorder) matching(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			out = append(out, m)
		}
	}
	return out
}
