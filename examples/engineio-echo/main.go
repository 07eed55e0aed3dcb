// Command engineio-echo is an Engine.IO server, without the Socket.IO
// layer, that sends every message back to its sender.
//
//	go run ./examples/engineio-echo -addr :3001
package main

import (
	"flag"
	"log"
	"net/http"

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
	srv, err := engineio.NewServer(engineio.Config{AllowEIO3: true}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	http.Handle("/engine.io/", srv)
	log.Printf("engine.io echo server on %s/engine.io/", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
