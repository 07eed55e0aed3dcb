// Command engineio-echo is an Engine.IO server, without the Socket.IO
// layer, that sends every message back to its sender.
//
//	go run ./examples/engineio-echo -addr :3001
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

	"github.com/go-sio/sio/engineio"
)

type echo struct{}

func (echo) OnOpen(s *engineio.Session) { log.Printf("open %s (EIO %d)", s.ID(), s.Protocol()) }

func (echo) OnText(s *engineio.Session, data []byte) { _ = s.SendText(data) }

func (echo) OnBinary(s *engineio.Session, data []byte) { _ = s.SendBinary(data) }

func (echo) OnClose(s *engineio.Session, reason engineio.Reason, err error) {
	log.Printf("close %s: %s", s.ID(), reason)
}

func main() {
	addr := flag.String("addr", ":3001", "listen address")
	flag.Parse()
	eng, err := engineio.NewServer(engineio.Config{AllowEIO3: true}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eng)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("engine.io echo server on %s/engine.io/", *addr)

	// On SIGINT or SIGTERM: the Engine.IO server first (it delivers what
	// is queued and closes every session), then the HTTP server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-serveErr:
		log.Fatal(err)
	case <-ctx.Done():
	}
	stop() // a second signal kills the process
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Shutdown(shutdownCtx); err != nil {
		log.Printf("engine.io shutdown: %v", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("http shutdown: %v", err)
	}
}
