// Command nethttp is the smallest embedding of a Socket.IO server in a
// plain net/http application: the server is an http.Handler mounted at
// /socket.io/, next to the application's own routes.
//
//	go run ./examples/nethttp -addr :3000
//
// Then, from the repository root (after npm ci):
//
//	node --input-type=module -e '
//	  import { io } from "socket.io-client";
//	  const socket = io("http://localhost:3000");
//	  socket.on("broadcast", (msg) => console.log("broadcast:", msg));
//	  console.log("echo:", await socket.emitWithAck("echo", { hello: "world" }));
//	  socket.emit("broadcast", "hi everyone");'
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-sio/sio/socketio"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()

	io, err := socketio.NewServer(socketio.Config{}) // zero value: the reference defaults
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		// "echo" sends its argument back: through the acknowledgement when
		// the client asked for one, as an "echo" event otherwise.
		s.On("echo", func(ev *socketio.Event) error {
			var msg any
			if err := ev.Bind(&msg); err != nil {
				return err
			}
			if ev.WantsAck() {
				return ev.Ack(msg)
			}
			return s.Emit("echo", msg)
		})
		// "broadcast" relays a string to every other connected client.
		socketio.On(s, "broadcast", func(msg string) {
			_ = s.Broadcast().Emit("broadcast", msg)
		})
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/socket.io/", io)

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("listening on %s", *addr)

	// On SIGINT or SIGTERM: the Socket.IO server first (it delivers what
	// is queued and closes every client connection, WebSockets included,
	// which http.Server.Shutdown does not track), then the HTTP server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-serveErr:
		log.Fatal(err)
	case <-ctx.Done():
	}
	stop() // a second signal kills the process
	log.Print("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := io.Shutdown(shutdownCtx); err != nil {
		log.Printf("socket.io shutdown: %v", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("http shutdown: %v", err)
	}
}
