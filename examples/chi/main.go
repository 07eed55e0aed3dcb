// Command chi mounts a Socket.IO server in a go-chi router, next to REST
// routes and the usual middleware, and shows the typical "backend emits to
// clients" use: a REST call pushes an event to the clients in a room.
//
//	go run ./examples/chi -addr :3000
//
// Clients join rooms with the "join" event; then
//
//	curl -X POST localhost:3000/rooms/news/announce -d '{"text":"hello"}'
//
// sends an "announcement" event to every client in the room "news", and
// answers with the number of recipients.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/go-sio/sio/socketio"
)

// Announcement is the event a REST call sends to a room.
type Announcement struct {
	Room string `json:"room"`
	Text string `json:"text"`
	Time int64  `json:"time"` // Unix milliseconds
}

// JoinRequest asks to join a room.
type JoinRequest struct {
	Room string `json:"room"`
}

var roomName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// roomKey is the Socket.IO room behind a room name. The prefix keeps
// client-chosen names apart from the room Socket.IO gives each socket
// (named after its id), which would otherwise be reachable by name.
func roomKey(name string) string { return "room:" + name }

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()

	io, err := socketio.NewServer(socketio.Config{})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(s *socketio.Socket) {
		// The acknowledgement tells the client whether it joined.
		socketio.OnAck(s, "join", func(req JoinRequest, ack socketio.Ack) {
			if !roomName.MatchString(req.Room) {
				_ = ack(map[string]string{"error": "room names are 1 to 32 of a-z 0-9 _ -"})
				return
			}
			s.Join(roomKey(req.Room))
			_ = ack(map[string]string{"room": req.Room})
		})
		socketio.On(s, "leave", func(req JoinRequest) {
			s.Leave(roomKey(req.Room))
		})
	})

	r := chi.NewRouter()
	// Middleware applies to the Socket.IO requests too. Logger and
	// Recoverer are fine (the response writer they wrap still allows the
	// WebSocket upgrade); a middleware.Timeout shorter than the ping
	// interval (25 s) would cut long-polling requests, so keep such
	// middleware in a route group without the Socket.IO handler.
	r.Use(middleware.RequestID)
	r.Use(middleware.Logger)
	r.Use(middleware.Recoverer)

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})

	// POST /rooms/{room}/announce {"text": "..."} emits to the room.
	r.Post("/rooms/{room}/announce", func(w http.ResponseWriter, r *http.Request) {
		room := chi.URLParam(r, "room")
		if !roomName.MatchString(room) {
			http.Error(w, "bad room name", http.StatusBadRequest)
			return
		}
		var body struct {
			Text string `json:"text"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Text == "" {
			http.Error(w, `want a JSON body {"text": "..."}`, http.StatusBadRequest)
			return
		}
		// FetchSockets counts the recipients (on every node, with a
		// cluster adapter); the Emit does not need it.
		sockets, err := io.In(roomKey(room)).FetchSockets(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		msg := Announcement{Room: room, Text: body.Text, Time: time.Now().UnixMilli()}
		if err := io.To(roomKey(room)).Emit("announcement", msg); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"room": room, "recipients": len(sockets)})
	})

	// The Socket.IO server handles everything under its path.
	r.Handle("/socket.io/*", io)

	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
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
