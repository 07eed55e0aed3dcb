// Package redistest holds what the tests of the Redis adapters share: a
// client of the test Redis, a redis-server process of a test's own, names
// of a test's own, and the frames of a hand-built WebSocket client.
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	// Addr is the test Redis.
	Addr = "127.0.0.1:6379"
	// WaitLong bounds what a test waits for.
	WaitLong = 5 * time.Second
)

// Main runs the tests of m with go-redis' own logger silenced: it would
// report every failed dial while a test's Redis is down. Call it from
// TestMain.
func Main(m *testing.M) {
	goredis.SetLogger(quietRedisLogger{})
	os.Exit(m.Run())
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// QuietLogger drops everything.
func QuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NeedRedis returns a client of the test Redis, or skips the test when it
// does not answer (fails it under CI=true).
func NeedRedis(t testing.TB) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: Addr})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (required under CI=true): %v", Addr, err)
		}
		t.Skipf("skipping: Redis at %s does not answer: %v", Addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// UniqueName returns a name of the test's own, for its channels, streams
// and keys.
func UniqueName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("siotest-%s-%x", nonWord.ReplaceAllString(t.Name(), "-"), b)
}

// ServerCounter is an adapter that counts the servers of its cluster.
type ServerCounter interface {
	ServerCount(ctx context.Context) (int, error)
}

// WaitServerCount waits until a counts want servers.
func WaitServerCount(t testing.TB, a ServerCounter, want int) {
	t.Helper()
	deadline := time.Now().Add(WaitLong)
	for {
		n, err := a.ServerCount(context.Background())
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server count %d (%v), want %d", n, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Server is a redis-server process of the test's own, without
// persistence: a restart loses what it held.
type Server struct {
	t    testing.TB
	bin  string
	port string
	cmd  *exec.Cmd
}

// StartServer starts a redis-server on a free port, stopped when the test
// ends. It skips the test when there is no redis-server (fails it under
// CI=true).
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (required under CI=true): %v", err)
		}
		t.Skipf("skipping: redis-server not found: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	s := &Server{t: t, bin: bin, port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return "127.0.0.1:" + s.port }

// Start starts the process again (on the same port) and waits until it
// answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", s.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the process (SIGKILL: no goodbye to the clients).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
