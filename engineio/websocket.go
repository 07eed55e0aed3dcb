package engineio

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-sio/sio/parser/eio"
	"github.com/go-sio/sio/transport/websocket"
)

// wsHandler receives the WebSocket connection events of a server. A
// connection's session value is a *wsRole naming its session and whether
// it is the session's probe.
type wsHandler struct{ srv *Server }

type wsRole struct {
	s     *Session
	probe bool
}

func (srv *Server) wsOptions() websocket.Options {
	return websocket.Options{
		MaxMessageSize: srv.cfg.MaxHTTPBufferSize,
		Compression:    srv.cfg.PerMessageDeflate != nil,
	}
}

// serveWebSocketHandshake opens a session directly over WebSocket.
func (srv *Server) serveWebSocketHandshake(w http.ResponseWriter, r *http.Request, rev eio.Revision) {
	s := srv.newSession(r, rev, true)
	_, err := srv.poller.Upgrade(w, r, srv.wsOptions(), wsHandler{srv}, func(c *websocket.Conn) {
		c.SetSession(&wsRole{s: s})
		s.ws = c
		// Until the connection is attached its writes are only held, so
		// they are made inline: the open packet (and what OnOpen sends)
		// is out before anything the client sent is read, in both modes.
		s.wsSetup = true
		srv.open(s)
		s.mu.Lock()
		s.kick() // writes the open packet and what OnOpen sent
		s.mu.Lock()
		s.wsSetup = false
		s.mu.Unlock()
	})
	if errors.Is(err, websocket.ErrBadHandshake) {
		srv.refuseUpgrade(w, &RequestError{Code: BadRequest, Context: "bad websocket handshake"})
		return
	}
	if err == nil && srv.draining.Load() {
		_ = s.Close() // Shutdown began after the handshake was accepted
	}
	if err != nil {
		if s.ws != nil {
			s.fail(ReasonTransportError, err)
		}
		srv.cfg.Logger.Debug("engineio: websocket upgrade failed", "err", err)
	}
}

// serveUpgrade handles a WebSocket request for an existing session: the
// probe of an upgrade from polling.
func (srv *Server) serveUpgrade(w http.ResponseWriter, r *http.Request, s *Session) {
	s.mu.Lock()
	reject := s.state != stateOpen || s.upgrading || s.upgraded || s.websocket || srv.cfg.DisallowUpgrades
	s.mu.Unlock()
	if reject {
		// The reference accepts the connection and closes it at once,
		// leaving the session as it is.
		c, err := srv.poller.Upgrade(w, r, srv.wsOptions(), wsHandler{srv}, func(c *websocket.Conn) {
			c.SetSession(&wsRole{})
		})
		if errors.Is(err, websocket.ErrBadHandshake) {
			srv.refuseUpgrade(w, &RequestError{Code: BadRequest, Context: "bad websocket handshake"})
			return
		}
		if c != nil {
			_ = c.Close(0, "")
		}
		return
	}
	_, err := srv.poller.Upgrade(w, r, srv.wsOptions(), wsHandler{srv}, func(c *websocket.Conn) {
		c.SetSession(&wsRole{s: s, probe: true})
		s.mu.Lock()
		if s.state != stateOpen || s.upgrading || s.websocket {
			s.mu.Unlock()
			c.SetSession(&wsRole{})
			return
		}
		s.probe = c
		s.upgrading = true
		s.upTimer = time.AfterFunc(srv.cfg.UpgradeTimeout, func() { s.abortUpgrade(c) })
		s.mu.Unlock()
	})
	if errors.Is(err, websocket.ErrBadHandshake) {
		srv.refuseUpgrade(w, &RequestError{Code: BadRequest, Context: "bad websocket handshake"})
	}
}

// abortUpgrade closes the probe c, leaving the session on polling.
func (s *Session) abortUpgrade(c *websocket.Conn) {
	s.mu.Lock()
	if s.probe == c {
		s.probe = nil
		s.stopUpgradeLocked()
	}
	s.mu.Unlock()
	_ = c.CloseNow()
}

func (h wsHandler) OnMessage(c *websocket.Conn, binary bool, data []byte) {
	role, _ := c.Session().(*wsRole)
	if role == nil || role.s == nil {
		return
	}
	s := role.s
	var p eio.Packet
	var err error
	if binary {
		p, err = eio.DecodeBinary(s.rev, data)
	} else {
		p, err = eio.DecodeText(data)
	}
	if role.probe {
		s.onProbePacket(c, p, err)
		return
	}
	if err != nil {
		s.fail(ReasonParseError, err)
		return
	}
	s.onPacket(p, false)
}

func (h wsHandler) OnClose(c *websocket.Conn, err error) {
	role, _ := c.Session().(*wsRole)
	if role == nil || role.s == nil {
		return
	}
	s := role.s
	s.mu.Lock()
	switch {
	case s.probe == c:
		s.probe = nil
		s.stopUpgradeLocked()
		s.mu.Unlock()
	case s.ws == c:
		reason := ReasonTransportClose
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Local {
			reason = ReasonTransportError
		}
		s.closeLocked(reason, err)
	default:
		s.mu.Unlock()
	}
}

// onProbePacket drives the upgrade: "2probe" is answered with "3probe",
// then pending polls are released with noops until the client sends "5",
// at which point the WebSocket becomes the session's transport and what is
// queued goes out on it, in order.
func (s *Session) onProbePacket(c *websocket.Conn, p eio.Packet, err error) {
	switch {
	case err == nil && p.Type == eio.Ping && string(p.Data) == "probe":
		_ = c.WriteFrames([][]byte{msgPongProbe.frame(s.rev, false, 0)})
		s.mu.Lock()
		if s.probe == c && s.noopTimer == nil {
			s.releasePollLocked()
			s.scheduleNoop(c)
		}
		s.mu.Unlock()
	case err == nil && p.Type == eio.Upgrade:
		s.mu.Lock()
		if s.probe != c || s.state == stateClosed {
			s.mu.Unlock()
			_ = c.CloseNow()
			return
		}
		s.stopUpgradeLocked()
		s.probe = nil
		s.upgraded = true
		s.websocket = true
		s.srv.stats.sessionUpgraded()
		s.ws = c
		c.SetSession(&wsRole{s: s})
		if s.pollWait != nil { // a poll still waiting gets a noop
			close(s.pollWait)
			s.pollWait = nil
		}
		// When Close was called meanwhile, the flush delivers the queue
		// on the WebSocket and then closes the session.
		s.kick()
	default:
		s.abortUpgrade(c)
	}
}

// releasePollLocked answers a waiting poll with a noop so that the client
// can pause polling and finish the upgrade.
func (s *Session) releasePollLocked() {
	if s.pollWait != nil && !s.websocket {
		s.push(msgNoop)
		close(s.pollWait)
		s.pollWait = nil
	}
}

// scheduleNoop releases polls every 100 ms while the upgrade is under way,
// as the reference does. Called with mu held.
func (s *Session) scheduleNoop(c *websocket.Conn) {
	var t *time.Timer
	t = time.AfterFunc(100*time.Millisecond, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.probe != c || s.noopTimer != t {
			return
		}
		s.releasePollLocked()
		s.scheduleNoop(c)
	})
	s.noopTimer = t
}
