package redis_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/parser/sio"
	"github.com/go-sio/sio/socketio"
)

const (
	redisAddr = "127.0.0.1:6379"
	waitLong  = 5 * time.Second
)

// TestMain silences go-redis' own logger: the restart test makes it
// report every failed dial.
func TestMain(m *testing.M) {
	goredis.SetLogger(quietRedisLogger{})
	os.Exit(m.Run())
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// needRedis returns a client of the test Redis, or skips the test when it
// does not answer (fails it under CI=true).
func needRedis(t testing.TB) *goredis.Client {
	t.Helper()
	return needRedisAt(t, redisAddr)
}

func needRedisAt(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (required under CI=true): %v", addr, err)
		}
		t.Skipf("skipping: Redis at %s does not answer: %v", addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// uniqueKey returns a channel prefix of its own for the test.
func uniqueKey(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("siotest-%s-%x", nonWord.ReplaceAllString(t.Name(), "-"), b)
}

// quietLogger drops everything.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

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
		opts.Logger = quietLogger()
	}
	srv, err := socketio.NewServer(socketio.Config{Adapter: redis.NewAdapter(rdb, opts), Logger: quietLogger()})
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
	waitServerCount(t, nodes[0].adapter("/"), count)
	return nodes
}

func waitServerCount(t testing.TB, a *redis.Adapter, want int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		n, err := a.ServerCount(context.Background())
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server count %d (%v), want %d", n, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	conn, err := net.Dial("tcp", n.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		n.hs.Listener.Addr(), base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket handshake: %v %v", resp, err)
	}
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
		op, payload, err := readFrame(br)
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
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	body := make([]byte, len(payload))
	for i, b := range payload {
		body[i] = b ^ mask[i%4]
	}
	_, _ = c.conn.Write(append(hdr, body...))
}

func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	for {
		var h [2]byte
		if _, err = io.ReadFull(br, h[:]); err != nil {
			return 0, nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err = io.ReadFull(br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err = io.ReadFull(br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("masked server frame")
		}
		buf := make([]byte, n)
		if _, err = io.ReadFull(br, buf); err != nil {
			return 0, nil, err
		}
		if opcode != 0 {
			op = opcode
		}
		payload = append(payload, buf...)
		if fin {
			return op, payload, nil
		}
	}
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
