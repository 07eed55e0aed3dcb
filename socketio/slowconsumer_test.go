package socketio

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rawWS is a minimal WebSocket client for the fan-out tests: it dials,
// joins the main namespace, and leaves reading to the caller.
type rawWS struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRawWS(addr, path string, rcvbuf int) (*rawWS, error) {
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	_ = conn.SetDeadline(time.Now().Add(waitLong))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	c := &rawWS{conn: conn, br: br}
	if _, p, err := readFrame(br); err != nil || !bytes.HasPrefix(p, []byte("0{")) {
		conn.Close()
		return nil, fmt.Errorf("open packet %q: %v", p, err)
	}
	c.write([]byte("40"))
	if _, p, err := readFrame(br); err != nil || !bytes.HasPrefix(p, []byte("40{")) {
		conn.Close()
		return nil, fmt.Errorf("connect reply %q: %v", p, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// write sends one masked text frame (short payloads only).
func (c *rawWS) write(p []byte) {
	b := []byte{0x81, 0x80 | byte(len(p)), 1, 2, 3, 4}
	for i, x := range p {
		b = append(b, x^byte(i%4+1))
	}
	_, _ = c.conn.Write(b)
}

// tickLatency parses `42["tick",<phase>,<unix nanos>,"..."]`.
func tickLatency(p []byte, now int64) (phase int, lat time.Duration, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte(`42["tick",`))
	if !found || len(rest) < 3 {
		return 0, 0, false
	}
	phase = int(rest[0] - '0')
	end := bytes.IndexByte(rest[2:], ',')
	if end < 0 {
		return 0, 0, false
	}
	ts, err := strconv.ParseInt(string(rest[2:2+end]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return phase, time.Duration(now - ts), true
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A client that stops reading does not slow down a broadcast to a
// thousand others, and is disconnected with "write buffer full" once
// MaxWriteBuffer bytes are held for it, with the server's memory bounded
// accordingly.
//
// The broadcast runs as fast as the clients take it (the next one leaves
// when every client has the previous one), alternating between the whole
// namespace and the namespace without the stuck client, so that both sides
// of the comparison see the same machine load. Before that, the stuck
// client is sent enough that the kernel refuses more: every write to it
// then goes to what the server holds. Latency is measured by the clients
// from a timestamp in each event. A stall of the machine lands on single
// broadcasts at random, and with a few dozen broadcasts a side it can
// decide a p99; a stall the stuck client caused would hit every broadcast
// that includes it. So a round that fails the comparison is followed by
// a second one, which decides.
func TestSlowConsumerDoesNotStallBroadcast(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	const (
		clients  = 1000
		duration = 3 * time.Second // of broadcasting, per round
		maxWrite = 4 << 20
	)
	ts := newTestServer(t, Config{MaxWriteBuffer: maxWrite, PingInterval: time.Minute, PingTimeout: time.Minute})
	slowSock := make(chan *Socket, 1)
	slowReason := make(chan Reason, 1)
	ts.io.OnConnection(func(s *Socket) {
		if s.Handshake().Query().Get("slow") == "1" {
			s.Join("slow")
			s.OnDisconnect(func(r Reason) { slowReason <- r })
			slowSock <- s
		}
	})
	addr := ts.hs.Listener.Addr().String()
	path := ts.io.Engine().Config().Path + "?EIO=4&transport=websocket"

	// The thousand clients, each read by a goroutine recording latencies
	// by phase: 2*round, without the stuck client; 2*round+1, with it.
	type client struct {
		*rawWS
		lats [4][]time.Duration
	}
	var (
		delivered atomic.Int64
		readers   sync.WaitGroup
		conns     = make([]*client, clients)
		dialErr   atomic.Value
	)
	var dialers sync.WaitGroup
	for w := range 8 {
		dialers.Go(func() {
			for i := w; i < clients; i += 8 {
				c, err := dialRawWS(addr, path, 0)
				if err != nil {
					dialErr.Store(err)
					return
				}
				conns[i] = &client{rawWS: c}
			}
		})
	}
	dialers.Wait()
	if err := dialErr.Load(); err != nil {
		t.Fatalf("dial: %v", err)
	}
	closeAll := func() {
		for _, c := range conns {
			c.conn.Close()
		}
		readers.Wait()
	}
	defer closeAll()
	for _, c := range conns {
		readers.Go(func() {
			for {
				_, p, err := readFrame(c.br)
				if err != nil {
					return
				}
				if phase, lat, ok := tickLatency(p, time.Now().UnixNano()); ok && phase < len(c.lats) {
					c.lats[phase] = append(c.lats[phase], lat)
					delivered.Add(1) // after the append: the results are read once all are counted
				}
			}
		})
	}
	eventually(t, "every client connected", func() bool { return len(ts.io.Sockets()) == clients })
	base := heapInuse()

	// The stuck client: a small receive buffer, never read.
	slow, err := dialRawWS(addr, path+"&slow=1", 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.conn.Close()
	ss := recv(t, slowSock)
	fill := strings.Repeat("f", 64<<10)
	for i := 0; ss.Conn().Buffered() < 256<<10; i++ {
		if i == 500 {
			t.Fatalf("the kernel took %d KiB for the stuck client", i*64)
		}
		if err := ss.Emit("fill", fill); err != nil {
			t.Fatalf("fill: %v", err)
		}
		if i%8 == 7 {
			time.Sleep(time.Millisecond)
		}
	}
	t.Logf("%d clients; the stuck client holds %d bytes", clients, ss.Conn().Buffered())

	pad := strings.Repeat("p", 200)
	without := ts.io.Except("slow")
	round := func(r int) (p99 [2]time.Duration) {
		var sent [2]int64
		start := time.Now()
		for n := 0; time.Since(start) < duration || n < 20; n++ {
			side := n % 2
			op := ts.io.Local()
			if side == 0 {
				op = without
			}
			want := delivered.Load() + clients
			if err := op.Emit("tick", 2*r+side, time.Now().UnixNano(), pad); err != nil {
				t.Fatal(err)
			}
			sent[side]++
			for deadline := time.Now().Add(waitLong); delivered.Load() < want; {
				if time.Now().After(deadline) {
					t.Fatalf("broadcast %d: %d of %d deliveries", n, clients-int(want-delivered.Load()), clients)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		elapsed := time.Since(start)
		var p50, worst [2]time.Duration
		for side := range 2 {
			var all []time.Duration
			for _, c := range conns {
				all = append(all, c.lats[2*r+side]...)
			}
			if n := int64(len(all)); n != sent[side]*clients {
				t.Fatalf("round %d side %d: %d deliveries, want %d", r, side, n, sent[side]*clients)
			}
			slices.Sort(all)
			p50[side], p99[side], worst[side] = percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1)
		}
		t.Logf("round %d: %d+%d broadcasts in %v; the stuck client holds %d bytes", r+1, sent[0], sent[1], elapsed.Round(time.Millisecond), ss.Conn().Buffered())
		t.Logf("  without the stuck client: p50 %v p99 %v max %v", p50[0], p99[0], worst[0])
		t.Logf("  with the stuck client:    p50 %v p99 %v max %v", p50[1], p99[1], worst[1])
		return p99
	}
	ok := func(p99 [2]time.Duration) bool { return p99[1] <= 2*p99[0]+5*time.Millisecond }
	p99 := round(0)
	if !ok(p99) {
		t.Logf("round 1 out of bounds; a second round decides")
		p99 = round(1)
	}
	if !ok(p99) {
		t.Errorf("p99 with the stuck client %v > 2 × %v + 5 ms", p99[1], p99[0])
	}
	if !ss.Connected() {
		t.Fatal("the stuck client was disconnected during the broadcast: the test measured nothing")
	}
	peak := heapInuse()

	// Then more for the stuck client until it is disconnected; the heap
	// is measured once it holds three quarters of the bound.
	measured := false
	for i := 0; ; i++ {
		if !measured && ss.Conn().Buffered() > maxWrite*3/4 {
			measured = true
			peak = max(peak, heapInuse())
		}
		if ss.Emit("fill", fill) != nil {
			break
		}
		if i > 4*maxWrite/len(fill) {
			t.Fatalf("still connected after %d fills", i)
		}
	}
	if r := recv(t, slowReason); r != ReasonWriteBufferFull {
		t.Fatalf("stuck client's reason %q", r)
	}
	if !measured {
		t.Fatal("the heap was not measured near the bound")
	}
	delta := int64(peak) - int64(base)
	t.Logf("heap in use after GC: %d KiB with the clients connected, at most %+d KiB with the stuck client",
		base>>10, delta>>10)
	// What is held for the stuck client (MaxWriteBuffer, and the poller's
	// slack over it), plus room for the runtime's own variation.
	const bound = maxWrite + 64<<10 + 4<<20
	if delta > bound {
		t.Errorf("heap grew by %d KiB, bound %d KiB", delta>>10, bound>>10)
	}
}
