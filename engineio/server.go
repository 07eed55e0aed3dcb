package engineio

import (
	"encoding/json"
	"errors"
	"hash/maphash"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/uuid/v5"

	"github.com/go-sio/sio/parser/eio"
	"github.com/go-sio/sio/transport/websocket"
)

// Handler receives the events of sessions. It is the seam between the
// engine and the layer above it (the Socket.IO server implements it).
//
// OnOpen is called on the goroutine serving the handshake request, before
// any packet of the session is read; the open packet is already queued, so
// what OnOpen sends follows it. The other methods are called in packet
// order, one at a time per session, from a goroutine that exists only while
// the session has events to deliver; OnClose is the last call for a
// session. Data passed to OnText and OnBinary belongs to the handler.
type Handler interface {
	OnOpen(s *Session)
	OnText(s *Session, data []byte)
	OnBinary(s *Session, data []byte)
	OnClose(s *Session, reason Reason, err error)
}

// TextTaker is an optional interface of a Handler: a way to take a text
// message on the goroutine that read it, saving the hand-off to the
// delivering goroutine.
//
// TakeText is offered a text message as it is read (from a WebSocket or a
// polling request) when nothing
// of the session is queued for delivery or being delivered, and it runs
// as a delivery would (no other call for the session meanwhile). It
// returns true when it handled the message: OnText is then not called for
// it. It returns false, having changed nothing, to have the message
// delivered to OnText as usual. It must return quickly and never block:
// the goroutine is the one reading many connections. data belongs to the
// handler only when TakeText returns true.
type TextTaker interface {
	TakeText(s *Session, data []byte) bool
}

// Server is an Engine.IO server. It is an http.Handler serving the
// polling and WebSocket transports under Config.Path.
type Server struct {
	cfg     Config
	handler Handler
	taker   TextTaker // handler, when it implements TextTaker
	wheel   *wheel
	poller  *websocket.Poller
	shards  [sessionShards]sessionShard
	count   atomic.Int64
	stats   serverStats
	closed  atomic.Bool

	draining atomic.Bool  // Shutdown began: handshakes are refused
	active   atomic.Int64 // sessions opened whose OnClose has not returned
	polls    atomic.Int64 // polling GET requests being served
}

const sessionShards = 32

type sessionShard struct {
	mu sync.RWMutex
	m  map[string]*Session
}

var shardSeed = maphash.MakeSeed()

// NewServer returns a server calling h for session events. It validates
// cfg and fills in the defaults.
func NewServer(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("engineio: nil Handler")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tick := min(cfg.PingInterval, cfg.PingTimeout) / 20
	tick = max(min(tick, 100*time.Millisecond), time.Millisecond)
	taker, _ := h.(TextTaker)
	srv := &Server{
		cfg:     cfg,
		handler: h,
		taker:   taker,
		wheel:   newWheel(tick),
		poller: websocket.NewPoller(websocket.PollerConfig{
			Blocking: cfg.BlockingWebSocket,
			// The sessions enforce MaxWriteBuffer (with the reason
			// "write buffer full"); the poller's own limit is a backstop
			// for the frames written outside the queue.
			MaxWriteBuffer: cfg.MaxWriteBuffer + pollerSlack,
		}),
	}
	for i := range srv.shards {
		srv.shards[i].m = map[string]*Session{}
	}
	return srv, nil
}

// Config returns the server's configuration with defaults filled in.
func (srv *Server) Config() Config { return srv.cfg }

// SessionCount is the number of open sessions.
func (srv *Server) SessionCount() int { return int(srv.count.Load()) }

// Session returns the open session with the given id, or nil.
func (srv *Server) Session(id string) *Session {
	sh := srv.shard(id)
	sh.mu.RLock()
	s := sh.m[id]
	sh.mu.RUnlock()
	return s
}

// Sessions calls fn for each open session until fn returns false.
func (srv *Server) Sessions(fn func(*Session) bool) {
	for i := range srv.shards {
		sh := &srv.shards[i]
		sh.mu.RLock()
		list := make([]*Session, 0, len(sh.m))
		for _, s := range sh.m {
			list = append(list, s)
		}
		sh.mu.RUnlock()
		for _, s := range list {
			if !fn(s) {
				return
			}
		}
	}
}

// pollerSlack is how much more than MaxWriteBuffer the poller may hold
// for a connection.
const pollerSlack = 64 << 10

// Close closes every session at once (ReasonForcedClose: a WebSocket gets
// a close frame, a waiting poll the close packet, and what is queued is
// dropped) and stops the server's background work. It does not wait for
// handlers. Every request after Close is refused with 503 Service
// Unavailable. Close is the immediate form of Shutdown.
func (srv *Server) Close() error {
	srv.draining.Store(true)
	if !srv.closed.CompareAndSwap(false, true) {
		return nil
	}
	srv.Sessions(func(s *Session) bool {
		s.fail(ReasonForcedClose, nil)
		return true
	})
	srv.poller.Close()
	srv.wheel.close()
	return nil
}

func (srv *Server) shard(id string) *sessionShard {
	return &srv.shards[maphash.String(shardSeed, id)%sessionShards]
}

func (srv *Server) addSession(s *Session) {
	sh := srv.shard(s.id)
	sh.mu.Lock()
	sh.m[s.id] = s
	sh.mu.Unlock()
	srv.count.Add(1)
}

func (srv *Server) removeSession(s *Session) {
	sh := srv.shard(s.id)
	sh.mu.Lock()
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
		srv.count.Add(-1)
	}
	sh.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, srv.cfg.Path) && r.URL.Path+"/" != srv.cfg.Path {
		http.NotFound(w, r)
		return
	}
	upgrade := websocket.IsUpgradeRequest(r)
	fail := srv.refuse
	if upgrade {
		fail = srv.refuseUpgrade
	} else if srv.cfg.CORS != nil && srv.cfg.CORS.apply(w, r) {
		return // preflight answered
	}
	if srv.closed.Load() {
		w.Header().Set("Connection", "close")
		fail(w, errShuttingDown)
		return
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	if !srv.cfg.transportEnabled(transport) {
		fail(w, &RequestError{Code: UnknownTransport, Context: "transport " + strconv.Quote(transport)})
		return
	}
	if origin, ok := r.Header["Origin"]; ok && len(origin) > 0 && invalidHeaderValue(origin[0]) {
		fail(w, &RequestError{Code: BadRequest, Context: "invalid origin"})
		return
	}
	if sid := q.Get("sid"); sid != "" || q.Has("sid") {
		s := srv.Session(sid)
		if s == nil {
			fail(w, &RequestError{Code: UnknownSID, Context: "sid " + strconv.Quote(sid)})
			return
		}
		if rev := requestRevision(q.Get("EIO")); rev != s.rev {
			fail(w, &RequestError{Code: BadRequest, Context: "protocol revision differs from the session's"})
			return
		}
		if transport == WebSocket {
			if !upgrade {
				fail(w, &RequestError{Code: BadRequest, Context: "websocket request without upgrade"})
				return
			}
			srv.serveUpgrade(w, r, s)
			return
		}
		if s.isWebSocket() {
			fail(w, &RequestError{Code: BadRequest, Context: "polling request after upgrade"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			srv.servePoll(w, r, s, q)
		case http.MethodPost:
			srv.serveData(w, r, s, q)
		default:
			fail(w, &RequestError{Code: BadRequest, Context: "method " + r.Method})
		}
		return
	}

	// Handshake.
	if srv.draining.Load() {
		w.Header().Set("Connection", "close")
		fail(w, errShuttingDown)
		return
	}
	if r.Method != http.MethodGet {
		fail(w, &RequestError{Code: BadHandshakeMethod})
		return
	}
	if transport == WebSocket && !upgrade {
		fail(w, &RequestError{Code: BadRequest, Context: "websocket handshake without upgrade"})
		return
	}
	if srv.cfg.AllowRequest != nil {
		if err := srv.cfg.AllowRequest(r); err != nil {
			fail(w, &RequestError{Code: Forbidden, Message: err.Error()})
			return
		}
	}
	if upgrade && srv.cfg.CORS != nil {
		if origin := r.Header.Get("Origin"); origin != "" && !srv.cfg.CORS.allowed(origin) {
			fail(w, &RequestError{Code: Forbidden, Context: "origin " + strconv.Quote(origin)})
			return
		}
	}
	rev := requestRevision(q.Get("EIO"))
	if rev == eio.Rev3 && !srv.cfg.AllowEIO3 {
		fail(w, &RequestError{Code: UnsupportedProtocolVersion})
		return
	}
	if transport == WebSocket {
		srv.serveWebSocketHandshake(w, r, rev)
		return
	}
	s := srv.newSession(r, rev, false)
	if ck := srv.cfg.Cookie; ck != nil {
		http.SetCookie(w, ck.cookie(s.id))
	}
	srv.open(s)
	if srv.draining.Load() {
		_ = s.Close() // Shutdown began after the check above
	}
	srv.servePoll(w, r, s, q)
}

// requestRevision reads the EIO query parameter: "4" is revision 4, and
// anything else (absent or invalid included) is revision 3, as in the
// reference.
func requestRevision(v string) eio.Revision {
	if v == "4" {
		return eio.Rev4
	}
	return eio.Rev3
}

// invalidHeaderValue reports control characters (other than tab) and DEL.
func invalidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

func (srv *Server) newSession(r *http.Request, rev eio.Revision, ws bool) *Session {
	id := uuid.Must(uuid.NewV4()).String()
	s := &Session{
		srv:       srv,
		id:        id,
		rev:       rev,
		websocket: ws,
		hs: Handshake{
			Header:     r.Header,
			RawQuery:   r.URL.RawQuery,
			RemoteAddr: r.RemoteAddr,
			Host:       r.Host,
			URL:        r.RequestURI,
			Secure:     r.TLS != nil,
			Time:       time.Now(),
		},
	}
	q := r.URL.Query()
	if rev == eio.Rev3 {
		s.noB64 = q.Get("b64") == ""
	}
	s.jsonp = q.Get("j")
	return s
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// open registers s, queues the open packet and calls the handler.
func (srv *Server) open(s *Session) {
	upgrades := []string{}
	if !s.websocket && !srv.cfg.DisallowUpgrades && srv.cfg.transportEnabled(WebSocket) {
		upgrades = append(upgrades, WebSocket)
	}
	data, _ := json.Marshal(openPacket{
		SID:          s.id,
		Upgrades:     upgrades,
		PingInterval: srv.cfg.PingInterval.Milliseconds(),
		PingTimeout:  srv.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   srv.cfg.MaxHTTPBufferSize,
	})
	s.push(&Message{typ: eio.Open, data: data})
	if srv.cfg.InitialPacket != nil {
		s.push(NewTextMessage(srv.cfg.InitialPacket))
	}
	srv.stats.sessionOpened(s.websocket)
	srv.active.Add(1)
	srv.addSession(s)
	s.startHeartbeat()
	func() {
		defer func() {
			if r := recover(); r != nil {
				srv.stats.panics.Add(1)
				srv.cfg.Logger.Error("engineio: OnOpen panic", "sid", s.id, "panic", r, "stack", string(debug.Stack()))
				s.fail(ReasonTransportError, errors.New("engineio: OnOpen panic"))
			}
		}()
		srv.handler.OnOpen(s)
	}()
}

func (s *Session) isWebSocket() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.websocket
}

func (ck *Cookie) cookie(sid string) *http.Cookie {
	return &http.Cookie{
		Name:     ck.Name,
		Value:    sid,
		Path:     ck.Path,
		Domain:   ck.Domain,
		MaxAge:   ck.MaxAge,
		Secure:   ck.Secure,
		HttpOnly: !ck.NoHTTPOnly,
		SameSite: ck.SameSite,
	}
}
