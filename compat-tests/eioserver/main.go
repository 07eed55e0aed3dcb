// Command eioserver is the Engine.IO server the Node compatibility tests
// talk to. It listens on a free port of 127.0.0.1, prints
//
//	LISTENING 127.0.0.1:PORT
//
// as its first line on stdout, and serves Engine.IO at /engine.io/ with
// revision 3 clients allowed.
//
// Every message is echoed back to its sender, except these text commands:
//
//	close-me            the server closes the session
//	ask-binary          the server sends the binary message 0x00..0x09
//	transport           the server answers "transport:<name>"
//	protocol            the server answers "protocol:<3|4>"
//	last-close-reason   the server answers "reason:<r>", the close reason of
//	                    the session closed most recently ("reason:" if none)
//	close-reason <sid>  the server answers "reason:<r>" for that session
//	                    ("reason:" while it is still open or unknown)
//
// With -watch-stdin the server exits when its standard input reaches end
// of file, so that it never outlives the test process that started it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-sio/sio/compat-tests/internal/testserver"
	"github.com/go-sio/sio/engineio"
)

// handler echoes messages, runs the commands above and records the close
// reason of every session.
type handler struct {
	mu      sync.Mutex
	reasons map[string]engineio.Reason
	last    engineio.Reason
	verbose bool
}

func (h *handler) OnOpen(s *engineio.Session) {
	if h.verbose {
		log.Printf("open %s EIO=%d %s", s.ID(), s.Protocol(), s.Transport())
	}
}

func (h *handler) OnText(s *engineio.Session, data []byte) {
	msg := string(data)
	switch {
	case msg == "close-me":
		_ = s.Close()
	case msg == "ask-binary":
		_ = s.SendBinary([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	case msg == "transport":
		_ = s.SendText([]byte("transport:" + s.Transport()))
	case msg == "protocol":
		_ = s.SendText(fmt.Appendf(nil, "protocol:%d", s.Protocol()))
	case msg == "last-close-reason":
		h.mu.Lock()
		r := h.last
		h.mu.Unlock()
		_ = s.SendText([]byte("reason:" + string(r)))
	case strings.HasPrefix(msg, "close-reason "):
		h.mu.Lock()
		r := h.reasons[strings.TrimPrefix(msg, "close-reason ")]
		h.mu.Unlock()
		_ = s.SendText([]byte("reason:" + string(r)))
	default:
		_ = s.SendText(data)
	}
}

func (h *handler) OnBinary(s *engineio.Session, data []byte) { _ = s.SendBinary(data) }

func (h *handler) OnClose(s *engineio.Session, reason engineio.Reason, err error) {
	h.mu.Lock()
	h.reasons[s.ID()] = reason
	h.last = reason
	h.mu.Unlock()
	if h.verbose {
		log.Printf("close %s: %s (%v)", s.ID(), reason, err)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	pingInterval := flag.Duration("ping-interval", 250*time.Millisecond, "heartbeat period")
	pingTimeout := flag.Duration("ping-timeout", 750*time.Millisecond, "heartbeat timeout")
	upgradeTimeout := flag.Duration("upgrade-timeout", 2*time.Second, "upgrade timeout")
	watchStdin := flag.Bool("watch-stdin", false, "exit when stdin is closed")
	verbose := flag.Bool("v", false, "log sessions and debug messages to stderr")
	flag.Parse()

	logger := testserver.Logger(*verbose)

	h := &handler{reasons: map[string]engineio.Reason{}, verbose: *verbose}
	srv, err := engineio.NewServer(engineio.Config{
		PingInterval:   *pingInterval,
		PingTimeout:    *pingTimeout,
		UpgradeTimeout: *upgradeTimeout,
		AllowEIO3:      true,
		Logger:         logger,
	}, h)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	testserver.Serve(testserver.Listen(*addr), mux, *watchStdin, func(hs *http.Server) {
		_ = srv.Close()
		_ = hs.Close()
	})
}
