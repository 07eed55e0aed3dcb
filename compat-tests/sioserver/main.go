// Command sioserver is the Socket.IO server the Node compatibility tests
// talk to. It listens on 127.0.0.1 (a free port, or the one given with
// -port so that a test can restart it where its clients expect it), prints
//
//	LISTENING 127.0.0.1:PORT
//
// as its first line on stdout, and serves Socket.IO at /socket.io/ with
// socket.io-client 2.x (Engine.IO revision 3) allowed.
//
// Namespaces: "/", "/custom", "/auth" (its middleware refuses a client
// whose auth payload, or query for 2.x clients, has no token "ok", with
// the connect_error "not authorized" and the data {"code":42}), and the
// dynamic namespaces /dyn-<digits>. Each socket, in any of them, gets the
// event "welcome" {"id", "nsp"} on connection, and handles these events
// (an acknowledgement is sent only when the client asks for one):
//
//	echo [args...]                      acknowledges with the same arguments
//	emit-back [args...]                 emits "back" with the arguments
//	info                                acknowledges with {id, nsp, sid
//	                                    (the Engine.IO session), transport,
//	                                    protocol (Socket.IO, 4 or 5), auth,
//	                                    query, rooms}
//	server-ack <ms> [args...]           emits "question" with the arguments,
//	                                    waiting <ms> for the client's
//	                                    acknowledgement, then acknowledges
//	                                    with ("reply", reply args...) or
//	                                    ("timeout")
//	join <room>...                      joins the rooms
//	leave <room>                        leaves the room
//	to-room <room> <event> [args...]    emits to the room, except the sender
//	broadcast-except <room> <event> [args...]
//	                                    emits to the whole namespace except
//	                                    the sockets in the room
//	volatile <event> [args...]          emits <event> as a volatile event
//	volatile-broadcast <event> [args...]
//	                                    broadcasts <event> as a volatile
//	                                    event to the sender's own room
//	disconnect-me                       disconnects the socket from its
//	                                    namespace (Disconnect(false))
//	close-me                            closes the whole connection
//	                                    (Disconnect(true))
//	server-reason <socket id>           acknowledges with the reason the
//	                                    server recorded for that socket's
//	                                    disconnection ("" while connected
//	                                    or unknown)
//	shutdown-after <n>                  emits "news" with 0 to n-1 to the
//	                                    sender's namespace, then shuts the
//	                                    Socket.IO server down gracefully
//	                                    (Server.Shutdown); the HTTP server
//	                                    keeps running, refusing new
//	                                    connections with 503
//
// The acknowledgement of emit-back, join, leave, to-room, broadcast-except,
// volatile and volatile-broadcast is "ok", sent after the emits. The
// disconnecting handler of every socket takes 30 ms, as an application's
// might.
//
// With -recovery <duration> the server has connection state recovery on,
// with that maxDisconnectionDuration; the "info" acknowledgement then also
// says whether the socket was recovered ("recovered") and its data
// ("data"), and "set-data <value>" stores a value in the socket's data.
//
// With -watch-stdin the server exits when its standard input reaches end
// of file, so that it never outlives the test process that started it. On
// SIGTERM (or that end of file) it shuts down gracefully: Server.Shutdown,
// then the HTTP server's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/go-sio/sio/compat-tests/internal/testserver"
	"github.com/go-sio/sio/socketio"
)

// server holds the disconnect reasons the tests ask for.
type server struct {
	io      *socketio.Server
	mu      sync.Mutex
	reasons map[string]socketio.Reason
	verbose bool
}

// args decodes every argument of ev, binary ones (also nested) as []byte.
func args(ev *socketio.Event) ([]any, error) {
	n := len(ev.Args())
	vals := make([]any, n)
	dst := make([]any, n)
	for i := range vals {
		dst[i] = &vals[i]
	}
	if err := ev.Bind(dst...); err != nil {
		return nil, err
	}
	return vals, nil
}

// ackIfWanted acknowledges ev when the client asked for it.
func ackIfWanted(ev *socketio.Event, vals ...any) error {
	if !ev.WantsAck() {
		return nil
	}
	return ev.Ack(vals...)
}

// stringArgs splits the leading string arguments of ev from the rest.
func stringArgs(ev *socketio.Event, n int) ([]string, []any, error) {
	vals, err := args(ev)
	if err != nil {
		return nil, nil, err
	}
	if len(vals) < n {
		return nil, nil, fmt.Errorf("want at least %d arguments, got %d", n, len(vals))
	}
	strs := make([]string, n)
	for i := range n {
		s, ok := vals[i].(string)
		if !ok {
			return nil, nil, fmt.Errorf("argument %d is not a string", i)
		}
		strs[i] = s
	}
	return strs, vals[n:], nil
}

func (sv *server) onConnection(s *socketio.Socket) {
	// A recovered socket has the id of a disconnected one: it is connected
	// again. (A 2.x client's new socket also has the id of its previous
	// one, whose reason the tests still ask for.)
	if s.Recovered() {
		sv.mu.Lock()
		delete(sv.reasons, s.ID())
		sv.mu.Unlock()
	}
	if sv.verbose {
		log.Printf("connect %s nsp=%s sid=%s transport=%s", s.ID(), s.Namespace().Name(), s.Conn().ID(), s.Transport())
	}
	// Work in the disconnecting handler, as applications do, while the
	// socket is still in its rooms: a socket connecting right behind it
	// (socket.disconnect().connect() in a client) must not lose its rooms
	// to the end of this one.
	s.OnDisconnecting(func(socketio.Reason) { time.Sleep(30 * time.Millisecond) })
	s.OnDisconnect(func(r socketio.Reason) {
		sv.mu.Lock()
		sv.reasons[s.ID()] = r
		sv.mu.Unlock()
		if sv.verbose {
			log.Printf("disconnect %s nsp=%s: %s", s.ID(), s.Namespace().Name(), r)
		}
	})

	s.On("echo", func(ev *socketio.Event) error {
		vals, err := args(ev)
		if err != nil {
			return err
		}
		return ackIfWanted(ev, vals...)
	})

	s.On("set-data", func(ev *socketio.Event) error {
		vals, err := args(ev)
		if err != nil || len(vals) != 1 {
			return fmt.Errorf("set-data: want one argument (%v)", err)
		}
		s.SetData(vals[0])
		return ackIfWanted(ev, "ok")
	})

	s.On("emit-back", func(ev *socketio.Event) error {
		vals, err := args(ev)
		if err != nil {
			return err
		}
		if err := s.Emit("back", vals...); err != nil {
			return err
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("info", func(ev *socketio.Event) error {
		hs := s.Handshake()
		query := map[string]string{}
		for k, v := range hs.Query() {
			if len(v) > 0 {
				query[k] = v[0]
			}
		}
		proto := 5
		if s.Conn().Protocol() == 3 {
			proto = 4
		}
		return ackIfWanted(ev, map[string]any{
			"id":        s.ID(),
			"nsp":       s.Namespace().Name(),
			"sid":       s.Conn().ID(),
			"transport": s.Transport(),
			"protocol":  proto,
			"auth":      hs.Auth,
			"query":     query,
			"rooms":     s.Rooms(),
			"recovered": s.Recovered(),
			"data":      s.Data(),
		})
	})

	s.On("server-ack", func(ev *socketio.Event) error {
		vals, err := args(ev)
		if err != nil {
			return err
		}
		if len(vals) < 1 {
			return errors.New("server-ack: no timeout")
		}
		ms, ok := vals[0].(float64)
		if !ok {
			return errors.New("server-ack: the timeout is not a number")
		}
		reply, err := s.Timeout(time.Duration(ms*float64(time.Millisecond))).EmitWithAck(context.Background(), "question", vals[1:]...)
		switch {
		case errors.Is(err, socketio.ErrAckTimeout):
			return ackIfWanted(ev, "timeout")
		case err != nil:
			return ackIfWanted(ev, "error", err.Error())
		}
		n := len(reply.Args())
		got := make([]any, n)
		dst := make([]any, n)
		for i := range got {
			dst[i] = &got[i]
		}
		if err := reply.Bind(dst...); err != nil {
			return ackIfWanted(ev, "error", err.Error())
		}
		return ackIfWanted(ev, append([]any{"reply"}, got...)...)
	})

	s.On("join", func(ev *socketio.Event) error {
		vals, err := args(ev)
		if err != nil {
			return err
		}
		for _, v := range vals {
			room, ok := v.(string)
			if !ok {
				return errors.New("join: a room is not a string")
			}
			s.Join(room)
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("leave", func(ev *socketio.Event) error {
		strs, _, err := stringArgs(ev, 1)
		if err != nil {
			return err
		}
		s.Leave(strs[0])
		return ackIfWanted(ev, "ok")
	})

	s.On("to-room", func(ev *socketio.Event) error {
		strs, rest, err := stringArgs(ev, 2)
		if err != nil {
			return err
		}
		if err := s.To(strs[0]).Emit(strs[1], rest...); err != nil {
			return err
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("broadcast-except", func(ev *socketio.Event) error {
		strs, rest, err := stringArgs(ev, 2)
		if err != nil {
			return err
		}
		if err := s.Namespace().Except(strs[0]).Emit(strs[1], rest...); err != nil {
			return err
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("volatile", func(ev *socketio.Event) error {
		strs, rest, err := stringArgs(ev, 1)
		if err != nil {
			return err
		}
		if err := s.Volatile().Emit(strs[0], rest...); err != nil {
			return err
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("volatile-broadcast", func(ev *socketio.Event) error {
		strs, rest, err := stringArgs(ev, 1)
		if err != nil {
			return err
		}
		if err := s.Namespace().To(s.ID()).Volatile().Emit(strs[0], rest...); err != nil {
			return err
		}
		return ackIfWanted(ev, "ok")
	})

	s.On("disconnect-me", func(ev *socketio.Event) error {
		s.Disconnect(false)
		return nil
	})

	s.On("close-me", func(ev *socketio.Event) error {
		s.Disconnect(true)
		return nil
	})

	s.On("server-reason", func(ev *socketio.Event) error {
		var id string
		if err := ev.Bind(&id); err != nil {
			return err
		}
		sv.mu.Lock()
		r := sv.reasons[id]
		sv.mu.Unlock()
		return ackIfWanted(ev, string(r))
	})

	s.On("shutdown-after", func(ev *socketio.Event) error {
		var n int
		if err := ev.Bind(&n); err != nil {
			return err
		}
		for i := range n {
			if err := s.Namespace().Emit("news", i); err != nil {
				return err
			}
		}
		// Not from the handler itself: Shutdown waits for the handlers.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := sv.io.Shutdown(ctx); err != nil {
				log.Printf("shutdown: %v", err)
			}
		}()
		return nil
	})

	_ = s.Emit("welcome", map[string]string{"id": s.ID(), "nsp": s.Namespace().Name()})
}

// authorize is the middleware of "/auth".
func authorize(s *socketio.Socket) error {
	var auth struct {
		Token string `json:"token"`
	}
	if err := s.Handshake().BindAuth(&auth); err != nil || auth.Token != "ok" {
		return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
	}
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	port := flag.Int("port", 0, "listen on this port of 127.0.0.1 (overrides -addr)")
	pingInterval := flag.Duration("ping-interval", 250*time.Millisecond, "heartbeat period")
	pingTimeout := flag.Duration("ping-timeout", 750*time.Millisecond, "heartbeat timeout")
	connectTimeout := flag.Duration("connect-timeout", 10*time.Second, "time a connection has to join a namespace")
	watchStdin := flag.Bool("watch-stdin", false, "exit when stdin is closed")
	verbose := flag.Bool("v", false, "log sockets and debug messages to stderr")
	recovery := flag.Duration("recovery", 0, "enable connection state recovery with this maxDisconnectionDuration")
	flag.Parse()
	if *port != 0 {
		*addr = fmt.Sprintf("127.0.0.1:%d", *port)
	}

	logger := testserver.Logger(*verbose)

	sv := &server{reasons: map[string]socketio.Reason{}, verbose: *verbose}
	var rec *socketio.RecoveryConfig
	if *recovery > 0 {
		rec = &socketio.RecoveryConfig{MaxDisconnectionDuration: *recovery}
	}
	srv, err := socketio.NewServer(socketio.Config{
		ConnectionStateRecovery: rec,
		PingInterval:            *pingInterval,
		PingTimeout:             *pingTimeout,
		ConnectTimeout:          *connectTimeout,
		AllowEIO3:               true,
		Logger:                  logger,
		OnError: func(s *socketio.Socket, err error) {
			logger.Warn("sioserver: handler error", "socket", s.ID(), "nsp", s.Namespace().Name(), "err", err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	sv.io = srv
	srv.OnConnection(sv.onConnection)
	srv.Of("/custom").OnConnection(sv.onConnection)
	authNsp := srv.Of("/auth")
	authNsp.Use(authorize)
	authNsp.OnConnection(sv.onConnection)
	srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`)).OnConnection(sv.onConnection)

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	testserver.Serve(testserver.Listen(*addr), mux, *watchStdin, func(hs *http.Server) {
		// The Socket.IO server delivers what is queued and closes its
		// connections (a waiting poll gets the close packet), then the
		// HTTP server lets the answers go out.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if hs.Shutdown(ctx) != nil {
			_ = hs.Close()
		}
	})
}
