package redisstreams_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

// This file holds what the tests running socketio servers over the
// adapter share: a server on an httptest server, and a small Socket.IO
// client (Engine.IO 4 over a hand-built WebSocket connection).

// sioNode is a socketio.Server with the streams adapter, on an httptest
// server. Its sockets answer "join" (argument: a room) by joining the room
// and acknowledging. Logs (Warn and above) and the errors given to
// Config.OnError are kept, so that tests can check that nothing panicked.
type sioNode struct {
	name  string
	srv   *socketio.Server
	hs    *httptest.Server
	logs  *logRecorder
	conns chan connected // every socket connected
	gone  chan string    // the id of every socket disconnected (its session kept, when it has one)

	mu   sync.Mutex
	errs []error

	closeOnce sync.Once
}

type connected struct {
	sid       string
	recovered bool
}

func newSioNode(t testing.TB, name string, rdb goredis.UniversalClient, opts redisstreams.Options, rec *socketio.RecoveryConfig) *sioNode {
	t.Helper()
	n := &sioNode{name: name, logs: &logRecorder{}, conns: make(chan connected, 256), gone: make(chan string, 256)}
	opts.Logger = slog.New(n.logs)
	srv, err := socketio.NewServer(socketio.Config{
		Adapter:                 redisstreams.NewAdapter(rdb, opts),
		ConnectionStateRecovery: rec,
		Logger:                  slog.New(n.logs),
		OnError: func(_ *socketio.Socket, err error) {
			n.mu.Lock()
			n.errs = append(n.errs, err)
			n.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(ev *socketio.Event) error {
			var room string
			if err := ev.Bind(&room); err != nil {
				return err
			}
			s.Join(room)
			return ev.Ack(room)
		})
		s.OnDisconnect(func(socketio.Reason) {
			select {
			case n.gone <- s.ID():
			default:
			}
		})
		select {
		case n.conns <- connected{sid: s.ID(), recovered: s.Recovered()}:
		default:
		}
	})
	n.hs = httptest.NewServer(srv)
	t.Cleanup(n.close)
	return n
}

func (n *sioNode) close() {
	n.closeOnce.Do(func() {
		n.hs.CloseClientConnections()
		n.hs.Close()
		_ = n.srv.Close()
	})
}

func (n *sioNode) adapter() *redisstreams.Adapter {
	return n.srv.Of("/").Adapter().(*redisstreams.Adapter)
}

// connection waits for the next socket to connect.
func (n *sioNode) connection(t testing.TB) connected {
	t.Helper()
	select {
	case c := <-n.conns:
		return c
	case <-time.After(waitLong):
		t.Fatalf("node %s: no connection", n.name)
	}
	return connected{}
}

// disconnected waits for socket sid to be disconnected: once it is, its
// session has been kept (or failed to be).
func (n *sioNode) disconnected(t testing.TB, sid string) {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case id := <-n.gone:
			if id == sid {
				return
			}
		case <-deadline:
			t.Fatalf("node %s: socket %s not disconnected", n.name, sid)
		}
	}
}

// checkNoPanic fails the test when a handler or the adapter panicked.
func (n *sioNode) checkNoPanic(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	for _, err := range n.errs {
		var pe *socketio.PanicError
		if errors.As(err, &pe) {
			t.Errorf("node %s: %v", n.name, err)
		}
	}
	n.mu.Unlock()
	for _, m := range n.logs.warnings("panic") {
		t.Errorf("node %s logged: %s", n.name, m)
	}
}

// ---------------------------------------------------------------------------
// Client

// wsClient is a Socket.IO client of namespace "/" on one WebSocket
// connection. Every packet it receives is kept, in order.
type wsClient struct {
	t    testing.TB
	name string
	conn net.Conn
	done chan struct{} // closed when the reading goroutine ends

	wmu    sync.Mutex
	nextID uint64

	mu   sync.Mutex
	got  []*sio.Packet
	more chan struct{} // signaled when got grows
	pos  int           // the next packet next returns (test goroutine only)
}

// dialWS opens a WebSocket connection to node n (no namespace yet).
func dialWS(t testing.TB, n *sioNode, name string) *wsClient {
	t.Helper()
	conn, br := redistest.DialWebSocket(t, n.hs.Listener.Addr().String(), name)
	c := &wsClient{t: t, name: name, conn: conn, done: make(chan struct{}), more: make(chan struct{}, 1)}
	go c.read(br)
	t.Cleanup(c.cut)
	return c
}

func (c *wsClient) read(br *bufio.Reader) {
	defer close(c.done)
	var dec sio.Decoder
	for {
		op, payload, err := redistest.ReadFrame(br)
		if err != nil {
			return
		}
		switch op {
		case 1: // text: an Engine.IO packet
		case 8: // close
			return
		case 9: // ping
			c.writeFrame(10, payload)
			continue
		default:
			continue
		}
		if len(payload) == 0 {
			continue
		}
		switch payload[0] {
		case '2': // Engine.IO ping
			c.writeFrame(1, []byte("3"))
			continue
		case '1': // Engine.IO close
			return
		case '4':
		default:
			continue
		}
		p, complete, err := dec.DecodeText(payload[1:])
		if err != nil {
			c.t.Errorf("%s: bad packet %q: %v", c.name, payload, err)
			return
		}
		if !complete || p.Namespace != "/" {
			continue
		}
		c.mu.Lock()
		c.got = append(c.got, p)
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	}
}

// cut closes the TCP connection without a word and waits for the reading
// goroutine to end.
func (c *wsClient) cut() {
	_ = c.conn.Close()
	<-c.done
}

// next returns the next packet received, or nil after d.
func (c *wsClient) next(d time.Duration) *sio.Packet {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.pos < len(c.got) {
			p := c.got[c.pos]
			c.pos++
			c.mu.Unlock()
			return p
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-timer.C:
			return nil
		}
	}
}

// received returns every packet received so far.
func (c *wsClient) received() []*sio.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*sio.Packet(nil), c.got...)
}

// connect joins namespace "/" with auth ("" for none) and returns the sid
// and pid of the CONNECT reply and the events received before it.
func (c *wsClient) connect(auth string) (sid, pid string, before []*sio.Packet) {
	c.t.Helper()
	p := &sio.Packet{Type: sio.Connect, Namespace: "/"}
	if auth != "" {
		p.Data = json.RawMessage(auth)
	}
	c.send(p)
	for {
		p := c.next(waitLong)
		switch {
		case p == nil:
			c.t.Fatalf("%s: no CONNECT reply", c.name)
		case p.Type == sio.Connect:
			var v struct{ SID, PID string }
			if err := json.Unmarshal(p.Data, &v); err != nil || v.SID == "" {
				c.t.Fatalf("%s: CONNECT reply %s", c.name, p.Data)
			}
			return v.SID, v.PID, before
		case p.Type == sio.Event:
			before = append(before, p)
		default:
			c.t.Fatalf("%s: got a %v packet (%s) while connecting", c.name, p.Type, p.Data)
		}
	}
}

// call emits event with an acknowledgement and returns the
// acknowledgement's arguments. No other packet may arrive meanwhile.
func (c *wsClient) call(event string, args ...any) []json.RawMessage {
	c.t.Helper()
	data, _, err := sio.EncodeArgs(event, args)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wmu.Lock()
	id := c.nextID
	c.nextID++
	c.wmu.Unlock()
	c.send(&sio.Packet{Type: sio.Event, Namespace: "/", ID: id, HasID: true, Data: data})
	p := c.next(waitLong)
	if p == nil || p.Type != sio.Ack || p.ID != id {
		c.t.Fatalf("%s: %s: got %v, want its acknowledgement", c.name, event, describe(p))
	}
	ack, _ := sio.SplitAck(p.Data)
	return ack
}

func (c *wsClient) send(p *sio.Packet) {
	c.writeFrame(1, append([]byte{'4'}, sio.AppendPacket(nil, sio.V5, p)...))
}

func (c *wsClient) writeFrame(op byte, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = redistest.WriteFrame(c.conn, op, payload)
}

// ---------------------------------------------------------------------------
// Events

var offsetArg = regexp.MustCompile(`^"[0-9]+-[0-9]+"$`)

// splitEvent returns an event as "name[args]" without its offset, and the
// offset ("" when its last argument is not one).
func splitEvent(p *sio.Packet) (ev, offset string) {
	if p == nil || p.Type != sio.Event {
		return describe(p), ""
	}
	name, args, err := p.Args()
	if err != nil {
		return describe(p), ""
	}
	if len(args) > 0 && offsetArg.Match(args[len(args)-1]) {
		offset = strings.Trim(string(args[len(args)-1]), `"`)
		args = args[:len(args)-1]
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = string(a)
	}
	return name + "[" + strings.Join(parts, ",") + "]", offset
}

func describe(p *sio.Packet) string {
	if p == nil {
		return "nothing"
	}
	return fmt.Sprintf("%v %s", p.Type, p.Data)
}

func recoveryAuth(pid, offset string) string {
	b, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	return string(b)
}
