package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/internal/warn"
)

// Server is a Socket.IO server: an http.Handler serving the Engine.IO
// transports under Config.Path, the namespaces, and the client bundle.
type Server struct {
	cfg    Config
	engine *engineio.Server
	log    *slog.Logger
	static *staticFiles

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*ParentNamespace
	main    *Namespace
	closed  atomic.Bool // no new sockets: shutting down or closed
	stats   serverStats
	store   warn.Outage // the session store of connection state recovery

	stopOnce     sync.Once
	adaptersOnce sync.Once
	busy         atomic.Int64 // socket executors running
}

// NewServer returns a server for cfg (zero value: the reference
// defaults). The main namespace "/" exists from the start.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	srv := &Server{cfg: cfg, log: cfg.Logger, nsps: map[string]*Namespace{}}
	eng, err := engineio.NewServer(cfg.engineConfig(), engineHandler{srv})
	if err != nil {
		return nil, err
	}
	srv.engine = eng
	if cfg.ClientFS != nil {
		if _, err := fs.Stat(cfg.ClientFS, "socket.io.js"); err != nil {
			eng.Close()
			return nil, fmt.Errorf("socketio: invalid config: ClientFS has no socket.io.js (install the client with npm): %w", err)
		}
		srv.static = newStaticFiles(cfg.ClientFS)
	}
	srv.main = srv.Of("/")
	if cfg.ConnectionStateRecovery != nil {
		if _, ok := srv.main.adapter.(adapter.SessionStore); !ok {
			eng.Close()
			return nil, fmt.Errorf("socketio: invalid config: the adapter (%T) does not support connection state recovery", srv.main.adapter)
		}
	}
	return srv, nil
}

// Engine returns the underlying Engine.IO server.
func (srv *Server) Engine() *engineio.Server { return srv.engine }

// ServeHTTP implements http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if srv.static != nil && r.Method == http.MethodGet {
		if name, ok := strings.CutPrefix(r.URL.Path, srv.engine.Config().Path); ok && srv.static.serve(w, r, name) {
			return
		}
	}
	srv.engine.ServeHTTP(w, r)
}

// Of returns the namespace name, creating it if needed. A name without a
// leading slash gets one.
func (srv *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if n := srv.nsps[name]; n != nil {
		return n
	}
	n := newNamespace(srv, name, nil)
	srv.nsps[name] = n
	return n
}

// OfFunc declares dynamic namespaces: a client connecting to a namespace
// that does not exist gets it created when match returns true (auth is the
// CONNECT payload). The child namespaces share the middlewares and
// connection handlers of the returned ParentNamespace.
func (srv *Server) OfFunc(match func(name string, auth json.RawMessage) bool) *ParentNamespace {
	p := &ParentNamespace{srv: srv, match: match, children: map[string]*Namespace{}}
	srv.mu.Lock()
	srv.parents = append(srv.parents, p)
	srv.mu.Unlock()
	return p
}

// OfRegexp declares dynamic namespaces whose names match re.
func (srv *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace {
	return srv.OfFunc(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

// lookup finds or creates the namespace a client asks for.
func (srv *Server) lookup(name string, auth json.RawMessage) *Namespace {
	srv.mu.RLock()
	n := srv.nsps[name]
	parents := srv.parents
	srv.mu.RUnlock()
	if n != nil {
		return n
	}
	for _, p := range parents {
		if p.match(name, auth) {
			return p.child(name)
		}
	}
	return nil
}

func (srv *Server) removeNamespace(n *Namespace) {
	srv.mu.Lock()
	if srv.nsps[n.name] == n {
		delete(srv.nsps, n.name)
	}
	srv.mu.Unlock()
	_ = n.adapter.Close()
}

// Use adds a middleware to the main namespace.
func (srv *Server) Use(mw Middleware) { srv.main.Use(mw) }

// OnConnection adds a connection handler to the main namespace.
func (srv *Server) OnConnection(fn func(*Socket)) { srv.main.OnConnection(fn) }

// Sockets returns the local sockets of the main namespace.
func (srv *Server) Sockets() []*Socket { return srv.main.Sockets() }

// To selects the sockets of the main namespace in rooms.
func (srv *Server) To(rooms ...string) BroadcastOperator { return srv.main.To(rooms...) }

// In is To.
func (srv *Server) In(rooms ...string) BroadcastOperator { return srv.main.To(rooms...) }

// Except excludes the sockets in rooms.
func (srv *Server) Except(rooms ...string) BroadcastOperator { return srv.main.Except(rooms...) }

// Volatile marks the broadcast as volatile.
func (srv *Server) Volatile() BroadcastOperator { return srv.main.Volatile() }

// Local restricts the broadcast to this node.
func (srv *Server) Local() BroadcastOperator { return srv.main.Local() }

// Compress sets the compression flag.
func (srv *Server) Compress(c bool) BroadcastOperator { return srv.main.Compress(c) }

// Timeout sets the timeout of acknowledgements.
func (srv *Server) Timeout(d time.Duration) BroadcastOperator { return srv.main.Timeout(d) }

// Emit sends an event to every socket of the main namespace.
func (srv *Server) Emit(event string, args ...any) error { return srv.main.Emit(event, args...) }

// FetchSockets describes the sockets of the main namespace.
func (srv *Server) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return srv.main.FetchSockets(ctx)
}

// Close disconnects every socket (reason "server shutting down") and
// closes the engine at once: clients see their connection close (what is
// queued for them is dropped), and the handlers still running are not
// waited for. The server refuses connections afterwards (503). Shutdown
// is the graceful form.
func (srv *Server) Close() error {
	srv.stop()
	err := srv.engine.Close()
	srv.closeAdapters()
	return err
}

// stop refuses new sockets and disconnects every socket with "server
// shutting down", once.
func (srv *Server) stop() {
	srv.stopOnce.Do(func() {
		srv.closed.Store(true)
		for _, n := range srv.namespaces() {
			for _, s := range n.Sockets() {
				s.close(ReasonServerShuttingDown)
			}
		}
	})
}

func (srv *Server) closeAdapters() {
	srv.adaptersOnce.Do(func() {
		for _, n := range srv.namespaces() {
			_ = n.adapter.Close()
		}
	})
}

func (srv *Server) namespaces() []*Namespace {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	nsps := make([]*Namespace, 0, len(srv.nsps))
	for _, n := range srv.nsps {
		nsps = append(nsps, n)
	}
	return nsps
}

// reportError hands an error to Config.OnError.
func (srv *Server) reportError(s *Socket, err error) {
	srv.stats.reported(err)
	if srv.cfg.OnError != nil {
		func() {
			defer func() { _ = recover() }()
			srv.cfg.OnError(s, err)
		}()
		return
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		srv.log.Error("socketio: handler panic", "socket", s.ID(), "nsp", s.ns.name, "err", err, "stack", string(pe.Stack))
		return
	}
	srv.log.Debug("socketio: handler error", "socket", s.ID(), "nsp", s.ns.name, "err", err)
}

// PanicError is the error OnError receives when a handler panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("socketio: handler panic: %v", e.Value) }

func recovered(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

// engineHandler connects the engine's sessions to Socket.IO clients.
type engineHandler struct{ srv *Server }

func (h engineHandler) OnOpen(conn *engineio.Session) {
	c := newClient(h.srv, conn)
	conn.SetData(c)
	c.start()
}

func (h engineHandler) OnText(conn *engineio.Session, data []byte) {
	if c, ok := conn.Data().(*client); ok {
		c.onText(data)
	}
}

// TakeText implements engineio.TextTaker: see client.takeText.
func (h engineHandler) TakeText(conn *engineio.Session, data []byte) bool {
	c, ok := conn.Data().(*client)
	return ok && c.takeText(data)
}

func (h engineHandler) OnBinary(conn *engineio.Session, data []byte) {
	if c, ok := conn.Data().(*client); ok {
		c.onBinary(data)
	}
}

func (h engineHandler) OnClose(conn *engineio.Session, reason engineio.Reason, err error) {
	if c, ok := conn.Data().(*client); ok {
		c.onClose(Reason(reason))
	}
}
