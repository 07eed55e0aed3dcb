// Command metrics serves a Socket.IO server with its Prometheus metrics at
// /metrics, and logs through log/slog at the chosen level.
//
//	go run ./examples/metrics -addr :3000 -log debug
//	curl -s localhost:3000/metrics | grep -E '^(socketio|engineio)_'
//
// Clients may join a room with the "join" event and "say" something to
// it; the gauges and counters of /metrics follow.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-sio/sio/metrics/sioprom"
	"github.com/go-sio/sio/socketio"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	level := flag.String("log", "info", "log level: debug, info, warn or error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		slog.Error("bad -log", "err", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	h, io, err := newHandler(logger)
	if err != nil {
		logger.Error("starting", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", *addr)
	select {
	case err := <-serveErr:
		logger.Error("serving", "err", err)
		_ = io.Close()
		os.Exit(1)
	case <-ctx.Done():
	}
	// The Socket.IO server first (clients told, handlers finished), then
	// the HTTP server.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := io.Shutdown(shutdownCtx); err != nil {
		logger.Warn("socket.io shutdown", "err", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
}

// newHandler returns the routes of the example: the Socket.IO server at
// /socket.io/ and the metrics at /metrics.
func newHandler(logger *slog.Logger) (http.Handler, *socketio.Server, error) {
	io, err := socketio.NewServer(socketio.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	io.OnConnection(func(s *socketio.Socket) {
		socketio.On(s, "join", func(room string) { s.Join("room:" + room) })
		socketio.On2(s, "say", func(room, text string) {
			_ = s.To("room:"+room).Emit("said", text)
		})
	})

	// A registry of our own: the server's metrics, and those of the Go
	// runtime and of the process.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		sioprom.New(io),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}))
	mux.Handle("/socket.io/", io)
	return mux, io, nil
}
