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
// What it shows: typed event handlers with acknowledgements, rooms, a
// per-socket middleware, input validation and rate limiting, broadcasts
// that include or exclude the sender, volatile events, and a graceful
// shutdown. The chat logic is in chat.go.
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
	"path/filepath"
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

	// The page loads the client from /socket.io/socket.io.js, which the
	// Socket.IO server serves from the npm package.
	if _, err := os.Stat(filepath.Join(*clientDir, "socket.io.js")); err != nil {
		fmt.Fprintf(os.Stderr, "chat: the socket.io client bundle is missing (%s).\n"+
			"Run `npm ci` in the repository root to install it, and start the chat from there,\n"+
			"or point -client at a directory holding socket.io.js.\n", *clientDir)
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
	mux.Handle("/", securityHeaders(http.FileServerFS(static.FS)))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	fmt.Printf("chat: listening on %s\n", pageURL(ln.Addr()))
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

// securityHeaders adds a Content Security Policy to the page: scripts,
// styles and connections only from this server.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// pageURL is the URL to open for the listening address a: "localhost" when
// it listens on every interface.
func pageURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
