package engineio_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-sio/sio/engineio"
)

// echo is a Handler that sends every message back.
type echo struct{}

func (echo) OnOpen(s *engineio.Session)                { _ = s.SendText([]byte("welcome")) }
func (echo) OnText(s *engineio.Session, data []byte)   { _ = s.SendText(data) }
func (echo) OnBinary(s *engineio.Session, data []byte) { _ = s.SendBinary(data) }
func (echo) OnClose(s *engineio.Session, reason engineio.Reason, err error) {
	// The last call for s: release what the application keeps for it.
}

// Mount the server on a mux. The requests here are served in process to
// show the wire format; a real application passes mux to http.ListenAndServe.
func ExampleNewServer() {
	srv, err := engineio.NewServer(engineio.Config{Path: "/engine.io/"}, echo{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)

	// The handshake opens a session: the open packet, then what OnOpen
	// sent, in one polling payload.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil))
	open, welcome, _ := strings.Cut(rec.Body.String(), "\x1e")
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(strings.HasPrefix(open, `0{"sid":"`), strings.HasSuffix(open, `"upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	fmt.Println(welcome)
	fmt.Println(srv.SessionCount())

	// Errors are JSON with the reference codes.
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=carrier-pigeon", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 text/plain; charset=UTF-8
	// true true
	// 4welcome
	// 1
	// 400 {"code":0,"message":"Transport unknown"}
}
