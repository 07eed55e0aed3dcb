// Command chat is a multi-room chat on Socket.IO: the example to read
// first. The page (in static/, embedded in the binary) uses the stock
// socket.io-client, which the Go server serves at /socket.io/socket.io.js.
//
// From the repository root:
//
//	npm ci                   # once: installs the socket.io client bundle
//	go run ./examples/chat   # then open http://localhost:3000
//
// The listen address is :3000, or :$PORT when PORT is set, or -addr. The
// server prints the URL it serves on standard output once it listens
// (useful with -addr 127.0.0.1:0); logs go to standard error.
//
// What it shows, and where:
//
//   - chat.go: what the server does with each request: rooms, broadcasts
//     that include or exclude the sender, volatile events, and the state
//     of the chat in memory under one lock.
//   - examples/internal/chatcore: the protocol it shares with
//     examples/cluster (which serves the same page): the events and their
//     payloads, typed event handlers with acknowledgements, a per-socket
//     middleware, input validation and rate limiting.
//   - static/: the page, and what serving it takes.
//   - this file: the server's configuration and a graceful shutdown.
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

	"github.com/go-sio/sio/examples/chat/static"
	"github.com/go-sio/sio/socketio"
)

func main() {
	addr := flag.String("addr", defaultAddr(), "listen address (host:port; port 0 picks a free one)")
	clientDir := flag.String("client", "node_modules/socket.io-client/dist", "directory of the socket.io client bundle")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := static.CheckClient(*clientDir); err != nil {
		fmt.Fprintf(os.Stderr, "chat: %v\n", err)
		os.Exit(1)
	}

	if err := run(*addr, *clientDir, log); err != nil {
		log.Error("chat: " + err.Error())
		os.Exit(1)
	}
}

// defaultAddr is :$PORT when PORT is set, :3000 otherwise.
func defaultAddr() string {
	if port := os.Getenv("PORT"); port != "" {
		return ":" + port
	}
	return ":3000"
}

func run(addr, clientDir string, log *slog.Logger) error {
	io, err := socketio.NewServer(socketio.Config{
		ClientFS: os.DirFS(clientDir),
		// Chat messages are small: refuse anything over 64 KiB instead of
		// the default 1 MB.
		MaxHTTPBufferSize: 64 << 10,
		Logger:            log,
		// Errors no caller can receive (arguments that do not decode, a
		// rate-limited event) are logged at Debug level by default.
		OnError: func(s *socketio.Socket, err error) {
			log.Warn("event refused", "socket", s.ID(), "err", err)
		},
	})
	if err != nil {
		return err
	}
	chat := newChat(io, log)
	io.OnConnection(chat.onConnection)

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/", static.Handler()) // the page, with its Content Security Policy

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	fmt.Printf("chat: listening on %s\n", static.URL(ln.Addr()))
	log.Info("chat started", "addr", ln.Addr().String())

	// Run until SIGINT (Ctrl-C) or SIGTERM, then stop gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills the process
	log.Info("shutting down")

	// Shut the Socket.IO server down first: it refuses new clients, sends
	// each client what is queued for it, closes the long-polling requests
	// and WebSocket connections (which http.Server.Shutdown does not track
	// once upgraded), and waits for the disconnect handlers. The pages
	// see the connection close and keep trying to reconnect. Then the
	// HTTP server stops.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := io.Shutdown(shutdownCtx); err != nil {
		log.Warn("socket.io shutdown", "err", err)
	}
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
