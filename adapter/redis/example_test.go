package redis_test

import (
	"context"
	"log"
	"net/http"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/emitter"
	"github.com/go-sio/sio/socketio"
)

// A server in a cluster: every server of the cluster (Go with this
// adapter, or Node with @socket.io/redis-adapter) uses the same Redis and
// the same key.
func Example() {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	io, err := socketio.NewServer(socketio.Config{
		Adapter: redis.NewAdapter(rdb, redis.Options{Key: "socket.io"}),
	})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		// Reaches the sockets of "lobby" on every server.
		_ = s.To("lobby").Emit("joined", s.ID())
	})

	// Events between servers.
	sse := io.Of("/").Adapter().(redis.ServerSideEmitter)
	sse.OnServerSideEmit(func(e *redis.ServerSideEvent) {
		log.Printf("%s from another server: %s", e.Event, e.Args)
	})

	// Any process can publish to the clients with an emitter.
	em := emitter.New(rdb, emitter.Options{Key: "socket.io"})
	_ = em.To("lobby").Emit(context.Background(), "news", "hello")

	http.Handle("/socket.io/", io)
}
