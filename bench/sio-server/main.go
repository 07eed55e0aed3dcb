// Command sio-server is the Go server of the benchmark contract (see
// package benchserver). It listens on 127.0.0.1 and prints
// "LISTENING <port>" once it accepts connections.
//
//	go run ./bench/sio-server -port 3000
//
// The port also comes from $PORT; 0 (the default) picks a free one. The
// heartbeat is the reference default (25 s) unless -ping-interval or
// $PING_INTERVAL_MS says otherwise. -pprof adds the net/http/pprof
// handlers under /debug/pprof/ to look at the server under load.
//
// With -redis (or $SIO_BENCH_REDIS) the server uses the Redis adapter
// (package adapter/redis) on that Redis, under the channel prefix
// -redis-key: servers started with the same two values form one cluster,
// and a bcast on one reaches the clients of all.
//
//	go run ./bench/sio-server -port 3001 -redis 127.0.0.1:6379 &
//	go run ./bench/sio-server -port 3002 -redis 127.0.0.1:6379 &
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/bench/benchserver"
	"github.com/go-sio/sio/socketio"
)

func main() {
	port := flag.Int("port", envInt("PORT", 0), "TCP port on 127.0.0.1 (0: any free port)")
	withPprof := flag.Bool("pprof", false, "also serve net/http/pprof under /debug/pprof/")
	ping := flag.Duration("ping-interval", time.Duration(envInt("PING_INTERVAL_MS", 0))*time.Millisecond, "heartbeat period (0: the default, 25s)")
	blocking := flag.Bool("blocking", os.Getenv("SIO_BLOCKING_WS") != "", "serve WebSocket connections with a goroutine each instead of the event poller")
	redisAddr := flag.String("redis", os.Getenv("SIO_BENCH_REDIS"), "Redis address (host:port) for the Redis adapter (empty: in-memory adapter)")
	redisKey := flag.String("redis-key", "socket.io", "channel prefix of the Redis adapter")
	flag.Parse()

	if err := benchserver.RaiseOpenFileLimit(); err != nil {
		log.Printf("raising the open-file limit: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := socketio.Config{PingInterval: *ping, Logger: logger, BlockingWebSocket: *blocking}
	var rdb *goredis.Client
	if *redisAddr != "" {
		rdb = goredis.NewClient(&goredis.Options{Addr: *redisAddr})
		cfg.Adapter = redis.NewAdapter(rdb, redis.Options{Key: *redisKey, Logger: logger})
	}
	srv, err := benchserver.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	if *withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		_ = srv.Close()
		_ = hs.Close()
		if rdb != nil {
			_ = rdb.Close()
		}
	}()

	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
