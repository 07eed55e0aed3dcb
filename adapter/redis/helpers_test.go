package redis_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/internal/redistest"
	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

const waitLong = redistest.WaitLong

func TestMain(m *testing.M) { redistest.Main(m) }

// uniqueKey returns a channel prefix of its own for the test.
func uniqueKey(t testing.TB) string { return redistest.UniqueName(t) }

// testNode is one sio server with the Redis adapter on its own httptest
// server. Clients joining pass {"rooms": [...]} as auth; the node stores
// {"node": name} as each socket's data and answers "shout" by broadcasting
// "shouted" to everyone but the sender.
type testNode struct {
	name string
	srv  *socketio.Server
	hs   *httptest.Server
}

func newNode(t testing.TB, name string, rdb goredis.UniversalClient, opts redis.Options) *testNode {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = redistest.QuietLogger()
	}
	srv, err := socketio.NewServer(socketio.Config{Adapter: redis.NewAdapter(rdb, opts), Logger: redistest.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{name: name, srv: srv}
	// The middleware runs before the client is told it is connected.
	join := func(s *socketio.Socket) error {
		var auth struct{ Rooms []string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		s.Join(auth.Rooms...)
		s.SetData(map[string]string{"node": name})
		return nil
	}
	setup := func(s *socketio.Socket) {
		s.On("shout", func(ev *socketio.Event) error {
			return s.Broadcast().Emit("shouted", ev.Args()[0])
		})
	}
	for _, nsp := range []string{"/", "/admin"} {
		srv.Of(nsp).Use(join)
		srv.Of(nsp).OnConnection(setup)
	}
	n.hs = httptest.NewServer(srv)
	t.Cleanup(n.close)
	return n
}

func (n *testNode) close() {
	n.hs.CloseClientConnections()
	n.hs.Close()
	_ = n.srv.Close()
}

// adapter returns the Redis adapter of namespace nsp.
func (n *testNode) adapter(nsp string) *redis.Adapter {
	return n.srv.Of(nsp).Adapter().(*redis.Adapter)
}

// newCluster starts count nodes named A, B, C... sharing key.
func newCluster(t testing.TB, rdb goredis.UniversalClient, count int, opts redis.Options) []*testNode {
	t.Helper()
	nodes := make([]*testNode, count)
	for i := range nodes {
		nodes[i] = newNode(t, string(rune('A'+i)), rdb, opts)
	}
	redistest.WaitServerCount(t, nodes[0].adapter("/"), count)
	return nodes
}

// ---------------------------------------------------------------------------
// A small Socket.IO client over a hand-built WebSocket connection.

type tclient struct {
	t    testing.TB
	name string
	conn net.Conn
	nsp  string
	id   string // socket id

	wmu    sync.Mutex
	events chan *sio.Packet
	gone   chan struct{} // closed on a DISCONNECT packet or when the connection ends
	once   sync.Once
	done   chan struct{}

	mu    sync.Mutex
	reply func(event string, args []json.RawMessage) []any // acknowledgements
}

// dial connects a client to namespace nsp of node n with the given rooms.
func dial(t testing.TB, n *testNode, name, nsp string, rooms ...string) *tclient {
	t.Helper()
	conn, br := redistest.DialWebSocket(t, n.hs.Listener.Addr().String(), name)
	c := &tclient{t: t, name: name, conn: conn, nsp: nsp, events: make(chan *sio.Packet, 256),
		gone: make(chan struct{}), done: make(chan struct{})}
	connected := make(chan string, 1)
	go c.read(br, connected)
	t.Cleanup(c.close)
	if rooms == nil {
		rooms = []string{}
	}
	auth, _ := json.Marshal(map[string]any{"rooms": rooms})
	c.send(&sio.Packet{Type: sio.Connect, Namespace: nsp, Data: auth})
	select {
	case c.id = <-connected:
	case <-time.After(waitLong):
		t.Fatalf("%s: not connected", name)
	}
	return c
}

func (c *tclient) close() {
	_ = c.conn.Close()
	<-c.done
}

// onAck sets the acknowledgement of the events the server sends with one.
func (c *tclient) onAck(fn func(event string, args []json.RawMessage) []any) {
	c.mu.Lock()
	c.reply = fn
	c.mu.Unlock()
}

func (c *tclient) read(br *bufio.Reader, connected chan<- string) {
	defer close(c.done)
	defer c.once.Do(func() { close(c.gone) })
	var dec sio.Decoder
	for {
		op, payload, err := redistest.ReadFrame(br)
		if err != nil {
			return
		}
		var p *sio.Packet
		var complete bool
		switch op {
		case 1:
			s := string(payload)
			switch {
			case s == "2":
				c.writeFrame(1, []byte("3"))
				continue
			case strings.HasPrefix(s, "4"):
				p, complete, err = dec.DecodeText(payload[1:])
			default:
				continue
			}
		case 2:
			p, complete, err = dec.DecodeBinary(payload)
		case 8:
			return
		case 9:
			c.writeFrame(10, payload)
			continue
		default:
			continue
		}
		if err != nil {
			c.t.Errorf("%s: bad packet: %v", c.name, err)
			return
		}
		if !complete || p.Namespace != c.nsp {
			continue
		}
		switch p.Type {
		case sio.Connect:
			var v struct{ SID string }
			_ = json.Unmarshal(p.Data, &v)
			connected <- v.SID
		case sio.Disconnect:
			c.once.Do(func() { close(c.gone) })
		case sio.Event, sio.BinaryEvent:
			if p.HasID {
				c.mu.Lock()
				fn := c.reply
				c.mu.Unlock()
				if fn != nil {
					name, args, _ := p.Args()
					if reply := fn(name, args); reply != nil {
						data, atts, _ := sio.EncodeArgs("", reply)
						c.send(&sio.Packet{Type: sio.Ack, Namespace: c.nsp, ID: p.ID, HasID: true, Data: data, Attachments: atts})
					}
				}
			}
			c.events <- p
		}
	}
}

// emit sends an event to the server.
func (c *tclient) emit(event string, args ...any) {
	data, atts, err := sio.EncodeArgs(event, args)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(&sio.Packet{Type: sio.Event, Namespace: c.nsp, Data: data, Attachments: atts})
}

func (c *tclient) send(p *sio.Packet) {
	text := append([]byte{'4'}, sio.AppendPacket(nil, sio.V5, p)...)
	c.writeFrame(1, text)
	for _, a := range p.Attachments {
		c.writeFrame(2, a)
	}
}

// next returns the next event, or nil after d.
func (c *tclient) next(d time.Duration) *sio.Packet {
	select {
	case p := <-c.events:
		return p
	case <-time.After(d):
		return nil
	}
}

// expect waits for the next event and checks its name and JSON payload
// (the arguments, without the name; "" skips the check).
func (c *tclient) expect(event, args string) *sio.Packet {
	c.t.Helper()
	p := c.next(waitLong)
	if p == nil {
		c.t.Fatalf("%s: no %q event", c.name, event)
	}
	name, got, err := p.Args()
	if err != nil || name != event {
		c.t.Fatalf("%s: got event %q %s (%v), want %q", c.name, name, p.Data, err, event)
	}
	if args != "" {
		raw, _ := json.Marshal(got)
		if len(got) == 0 {
			raw = []byte("[]")
		}
		if string(raw) != args {
			c.t.Fatalf("%s: %q args %s, want %s", c.name, event, raw, args)
		}
	}
	return p
}

// expectDisconnect waits for the server to disconnect the client.
func (c *tclient) expectDisconnect() {
	c.t.Helper()
	select {
	case <-c.gone:
	case <-time.After(waitLong):
		c.t.Fatalf("%s: not disconnected", c.name)
	}
}

func (c *tclient) writeFrame(op byte, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = redistest.WriteFrame(c.conn, op, payload)
}

// fence emits a "fence" event from n to every socket of nsp, and checks
// that each client's next event is that fence: what was sent before it
// did not reach them. Redis delivers the messages of one subscriber in
// publish order, so the fence follows anything published before.
func fence(t testing.TB, n *testNode, nsp string, clients ...*tclient) {
	t.Helper()
	if err := n.srv.Of(nsp).Emit("fence"); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.expect("fence", "")
	}
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
