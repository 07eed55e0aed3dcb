// Command cluster is the chat of examples/chat served by several nodes at
// once: every node runs this program, all of them share one Redis, and a
// page connected to any node chats with the pages of every other one. The
// page is examples/chat's, and so is the protocol
// (examples/internal/chatcore): what a node does with each request is in
// chat.go, with the state the nodes share in store.go (Redis) and
// presence.go (a census of the nodes).
//
// From the repository root, with Redis on 127.0.0.1:6379:
//
//	npm ci                                     # once: the socket.io client bundle
//	go run ./examples/cluster -addr :3001 &    # node A
//	go run ./examples/cluster -addr :3002 &    # node B
//
// or `make cluster`, which starts both and stops them on Ctrl-C. Then open
// http://localhost:3001 and http://localhost:3002 side by side.
//
// Each node prints the URL it serves on standard output once it listens;
// logs go to standard error. README.md explains where the chat's state
// lives in a cluster and how to put the nodes behind a load balancer
// (nginx.conf).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/examples/chat/static"
	"github.com/go-sio/sio/socketio"
)

func main() {
	addr := flag.String("addr", defaultAddr(), "listen address (host:port; port 0 picks a free one)")
	redisAddr := flag.String("redis", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address (host:port) shared by the nodes")
	key := flag.String("key", "chat", "prefix of the Redis channels and keys: nodes with the same one form a cluster")
	clientDir := flag.String("client", "node_modules/socket.io-client/dist", "directory of the socket.io client bundle")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := static.CheckClient(*clientDir); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
		os.Exit(1)
	}
	if err := run(*addr, *redisAddr, *key, *clientDir, log); err != nil {
		log.Error("cluster: " + err.Error())
		os.Exit(1)
	}
}

// defaultAddr is :$PORT when PORT is set, :3001 otherwise.
func defaultAddr() string { return ":" + envOr("PORT", "3001") }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(addr, redisAddr, key, clientDir string, log *slog.Logger) error {
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer rdb.Close()
	pingCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := rdb.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("no answer from Redis at %s: %w", redisAddr, err)
	}

	io, err := socketio.NewServer(socketio.Config{
		ClientFS:          os.DirFS(clientDir),
		MaxHTTPBufferSize: 64 << 10,
		Logger:            log,
		OnError: func(s *socketio.Socket, err error) {
			log.Warn("event refused", "socket", s.ID(), "err", err)
		},
		// Broadcasts, FetchSockets, DisconnectSockets and server-side
		// events reach every node through Redis.
		Adapter: redis.NewAdapter(rdb, redis.Options{Key: key, Logger: log}),
		// The session id in a cookie ("io"), for load balancers that keep
		// a client on one node by a cookie (see README.md).
		Cookie: &engineio.Cookie{},
	})
	if err != nil {
		return err
	}
	nodeID := io.Of("/").Adapter().(*redis.Adapter).ServerID()
	log = log.With("node", nodeID)
	st := &store{rdb: rdb, prefix: key}
	c := &chat{io: io, store: st, presence: newPresence(io, st, log), log: log, nodeID: nodeID}
	io.OnConnection(c.onConnection)

	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	go c.presence.run(bg)
	go c.presence.watchServers(bg, 2*time.Second)
	// A node that starts refreshes the lists once: the room list in Redis
	// may be left over from nodes that are gone.
	c.presence.changedAll()

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/", static.Handler())

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = io.Close()
		return err
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	fmt.Printf("cluster: node %s listening on %s\n", nodeID, static.URL(ln.Addr()))
	log.Info("node started", "addr", ln.Addr().String(), "redis", redisAddr, "key", key)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-serveErr:
		_ = io.Close()
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")

	// Shut the Socket.IO server down first: it disconnects every client
	// (the pages reconnect, to this node when it is back or, behind a load
	// balancer, to another one) and waits for the disconnect handlers,
	// which free the nicknames in Redis. The other nodes notice that this
	// one is gone and refresh their lists.
	ioCtx, cancelIO := context.WithTimeout(context.Background(), 5*time.Second)
	if err := io.Shutdown(ioCtx); err != nil {
		log.Warn("socket.io shutdown", "err", err)
	}
	cancelIO()
	stopBackground()
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
