package socketio

import (
	"encoding/json"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/parser/sio"
)

// client is one Engine.IO session seen by the Socket.IO layer: it decodes
// packets (owning the binary reassembly state) and routes them to the
// session's sockets, one per namespace.
//
// onText and onBinary are called by the engine one at a time, in order, so
// the decoder needs no lock. They never run user code: events go to the
// socket's own serial executor, acknowledgements resolve at once.
type client struct {
	srv   *Server
	conn  *engineio.Session
	proto sio.Protocol
	dec   sio.Decoder

	mu           sync.Mutex
	nsps         []*Socket          // one per joined namespace (usually one)
	last         map[string]*Socket // the latest socket of each namespace, for protocol 4
	connectTimer *time.Timer
	closed       bool
}

func newClient(srv *Server, conn *engineio.Session) *client {
	c := &client{srv: srv, conn: conn, proto: sio.V5}
	if conn.Protocol() == 3 {
		c.proto = sio.V4
	}
	c.dec = sio.Decoder{Protocol: c.proto, MaxAttachments: srv.cfg.MaxAttachments, Retain: true}
	return c
}

// start arms the connect timeout; a revision 3 client is connected to the
// main namespace implicitly, as the reference does for socket.io-client 2.
func (c *client) start() {
	c.mu.Lock()
	c.connectTimer = time.AfterFunc(c.srv.cfg.ConnectTimeout, c.connectTimeout)
	c.mu.Unlock()
	if c.proto == sio.V4 {
		c.connect("/", queryAuth(c.conn.Handshake().Query()))
	}
}

func (c *client) connectTimeout() {
	c.mu.Lock()
	idle := len(c.nsps) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.srv.log.Debug("socketio: no namespace joined in time, closing", "sid", c.conn.ID())
		_ = c.conn.Close()
	}
}

func (c *client) connected() {
	c.mu.Lock()
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
}

func (c *client) onText(data []byte) {
	p, complete, err := c.dec.DecodeText(data)
	if err != nil {
		c.protocolError(err)
		return
	}
	if complete {
		c.route(p)
	}
}

// takeMax is the largest EVENT packet decoded on the goroutine that read
// it: larger ones (their validation takes longer) go through onText on the
// delivering goroutine, keeping the poller's other connections served.
const takeMax = 8 << 10

// takeText handles an EVENT packet on the goroutine that read it: decoding
// it and queueing it on its socket's executor never block. Anything else
// (other packet types, a packet to report as invalid, a namespace not
// joined, a binary packet being reassembled) is left to onText, with the
// decoder untouched.
func (c *client) takeText(data []byte) bool {
	if len(data) < 2 || data[0] != '0'+byte(sio.Event) || len(data) > takeMax || c.dec.Awaiting() > 0 {
		return false
	}
	p, complete, err := c.dec.DecodeText(data)
	if err != nil || !complete {
		return false // decoded again by onText, which reports the error
	}
	c.mu.Lock()
	s := c.socketFor(p.Namespace)
	closed := c.closed
	c.mu.Unlock()
	if closed || s == nil {
		return false
	}
	s.onPacket(p)
	return true
}

func (c *client) onBinary(data []byte) {
	p, complete, err := c.dec.DecodeBinary(data)
	if err != nil {
		c.protocolError(err)
		return
	}
	if complete {
		c.route(p)
	}
}

// protocolError closes the connection after a malformed packet.
func (c *client) protocolError(err error) {
	c.srv.log.Debug("socketio: invalid packet, closing", "sid", c.conn.ID(), "err", err)
	for _, s := range c.sockets() {
		c.srv.reportError(s, err)
	}
	c.closeConn()
}

// closeConn closes the underlying connection; sockets see "forced close".
func (c *client) closeConn() {
	c.dec.Reset()
	_ = c.conn.Close()
}

func (c *client) route(p *sio.Packet) {
	name := p.Namespace
	c.mu.Lock()
	s := c.socketFor(name)
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	switch {
	case s == nil && p.Type == sio.Connect:
		auth := p.Data
		if c.proto == sio.V4 {
			q, _ := url.ParseQuery(p.Query)
			auth = queryAuth(q)
		}
		c.connect(name, auth)
	case s != nil && p.Type != sio.Connect && p.Type != sio.ConnectError:
		s.onPacket(p)
	default:
		// An event for a namespace not joined, a second CONNECT, or a
		// client-sent CONNECT_ERROR: a protocol violation. The server
		// closes the connection, so the sockets see "forced server close",
		// as in the reference.
		c.srv.log.Debug("socketio: invalid packet for the connection state, closing", "sid", c.conn.ID(), "type", p.Type.String(), "nsp", name)
		for _, s := range c.sockets() {
			s.close(ReasonForcedServerClose)
		}
		c.closeConn()
	}
}

// queryAuth turns a protocol-4 query string into the auth object.
func queryAuth(q url.Values) json.RawMessage {
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func (c *client) connect(name string, auth json.RawMessage) {
	if c.srv.closed.Load() {
		return // shutting down: the connection closes
	}
	n := c.srv.lookup(name, auth)
	if n == nil {
		c.sendPacket(&sio.Packet{Type: sio.ConnectError, Namespace: name, Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, false)
		return
	}
	s := newSocket(n, c, auth)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.nsps = append(c.nsps, s)
	if c.proto == sio.V4 {
		// The ids of protocol 4 sockets repeat: see Socket.prev.
		if c.last == nil {
			c.last = map[string]*Socket{}
		}
		s.gone = make(chan struct{}) // only protocol 4 ids repeat
		s.prev = c.last[name]
		c.last[name] = s
	}
	c.mu.Unlock()
	s.exec.run(s.runConnect)
}

func (c *client) closedNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	for i, x := range c.nsps {
		if x == s {
			c.nsps = append(c.nsps[:i], c.nsps[i+1:]...)
			c.nsps[len(c.nsps):cap(c.nsps)][0] = nil
			break
		}
	}
	if len(c.nsps) == 0 {
		c.nsps = nil
	}
	c.mu.Unlock()
}

// socketFor returns the socket of namespace name. Called with mu held.
func (c *client) socketFor(name string) *Socket {
	for _, s := range c.nsps {
		if s.ns.name == name {
			return s
		}
	}
	return nil
}

func (c *client) sockets() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nsps)
}

// onClose is the end of the engine session: every socket closes with the
// engine's reason.
func (c *client) onClose(reason Reason) {
	c.mu.Lock()
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
	for _, s := range c.sockets() {
		s.close(reason)
	}
	c.dec.Reset()
}

// disconnectAll disconnects every socket of the connection, then closes
// it (Socket.Disconnect(true)).
func (c *client) disconnectAll() {
	for _, s := range c.sockets() {
		s.disconnect()
	}
	_ = c.conn.Close()
}

// sendPacket encodes p for this connection and queues it.
func (c *client) sendPacket(p *sio.Packet, volatile bool) error {
	var arr [1]*engineio.Message
	msgs := encodePacket(arr[:0], p, c.proto, true)
	if volatile {
		c.conn.SendVolatile(msgs...)
		return nil
	}
	if err := c.conn.Send(msgs...); err != nil {
		return ErrDisconnected
	}
	return nil
}

// packetHeadroom is room for the longest packet header before the data:
// type, attachment count and '-', ',' after the namespace, ack id.
const packetHeadroom = 1 + 20 + 1 + 1 + 20

// encodeArgsPacket appends to dst the messages of packet h (type, namespace
// and ack id; its Data and Attachments are ignored) with the payload
// [event, args...] or, when event is "", [args...]. The payload is encoded
// straight into the buffer of the text frame, the packet header written in
// front of it once the attachments are known.
func encodeArgsPacket(dst []*engineio.Message, proto sio.Protocol, h *sio.Packet, event string, args []any) ([]*engineio.Message, error) {
	off := engineio.TextHeadroom + packetHeadroom + len(h.Namespace)
	buf, atts, err := sio.AppendArgs(make([]byte, off, off+64), event, args)
	if err != nil {
		return nil, err
	}
	var hdr [packetHeadroom + 8]byte
	hp := *h
	hp.Data, hp.Attachments = nil, atts
	head := sio.AppendPacket(hdr[:0], proto, &hp)
	start := off - len(head)
	copy(buf[start:], head)
	msgs := append(dst, engineio.NewTextMessageAt(buf, start))
	for _, a := range atts {
		msgs = append(msgs, engineio.NewBinaryMessage(a))
	}
	return msgs, nil
}

// encodePacket appends to dst the Engine.IO messages of a packet: its text
// form, then one binary message per attachment. The text is written after
// room for its WebSocket frame header, so the frame needs no copy.
func encodePacket(dst []*engineio.Message, p *sio.Packet, proto sio.Protocol, compress bool) []*engineio.Message {
	h := engineio.TextHeadroom
	text := sio.AppendPacket(make([]byte, h, h+packetHeadroom+len(p.Namespace)+len(p.Data)), proto, p)
	m := engineio.NewTextMessageAt(text, h)
	if !compress {
		m = m.NoCompress()
	}
	msgs := append(dst, m)
	for _, a := range p.Attachments {
		bm := engineio.NewBinaryMessage(a)
		if !compress {
			bm = bm.NoCompress()
		}
		msgs = append(msgs, bm)
	}
	return msgs
}
