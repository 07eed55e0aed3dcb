package socketio

// Server, clients and checks of the fault suite (fault_test.go).

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const faultWait = 15 * time.Second

// ---------------------------------------------------------------------------
// The server

type faultServer struct {
	io     *Server
	hs     *http.Server
	addr   string
	gen    int // which server of a restart test this is
	served chan struct{}
	once   sync.Once

	mu  sync.Mutex // numbering of the stream
	seq int64

	bins     atomic.Int64 // "bin" events that reached the handler
	partials atomic.Int64 // "partial" events that reached the handler

	rmu     sync.Mutex
	reasons map[string]Reason // socket id -> disconnect reason
}

// startFaultServer serves a Server for cfg on addr ("127.0.0.1:0" for any
// port). A fixed address may still be held by a previous server for a
// moment: listening is retried.
func startFaultServer(t *testing.T, addr string, gen int, cfg Config) *faultServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	f := &faultServer{io: srv, gen: gen, served: make(chan struct{}), reasons: map[string]Reason{}}
	srv.OnConnection(f.onConnection)
	mux := http.NewServeMux()
	mux.Handle(srv.Engine().Config().Path, srv)
	var ln net.Listener
	deadline := time.Now().Add(faultWait)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.addr = ln.Addr().String()
	f.hs = &http.Server{Handler: mux, ReadHeaderTimeout: faultWait}
	go func() {
		defer close(f.served)
		_ = f.hs.Serve(ln)
	}()
	t.Cleanup(f.stop)
	return f
}

// stop closes the Socket.IO server, then the HTTP server.
func (f *faultServer) stop() {
	f.once.Do(func() {
		_ = f.io.Close()
		_ = f.hs.Close()
		<-f.served
	})
}

func (f *faultServer) onConnection(s *Socket) {
	s.OnDisconnect(func(r Reason) {
		f.rmu.Lock()
		f.reasons[s.ID()] = r
		f.rmu.Unlock()
	})
	s.On("join", func(ev *Event) error {
		// Joining and reading the number under the stream's lock: every
		// number after the one acknowledged is the socket's.
		f.mu.Lock()
		defer f.mu.Unlock()
		s.Join("stream")
		return ev.Ack(json.RawMessage(fmt.Sprintf(`{"n":%d,"g":%d}`, f.seq, f.gen)))
	})
	s.On("echo", func(ev *Event) error {
		var v json.RawMessage
		if err := ev.Bind(&v); err != nil {
			return err
		}
		return ev.Ack(v)
	})
	s.On("bin", func(ev *Event) error {
		f.bins.Add(1)
		a, _ := ev.Binary(0)
		b, _ := ev.Binary(1)
		return ev.Ack(len(a) + len(b))
	})
	s.On("partial", func(*Event) error {
		f.partials.Add(1)
		return nil
	})
}

// publish numbers and broadcasts n events of the stream and returns the
// last number.
func (f *faultServer) publish(n int) int64 {
	var last int64
	for range n {
		f.mu.Lock()
		f.seq++
		last = f.seq
		_ = f.io.To("stream").Emit("s", json.RawMessage(`{"n":`+strconv.FormatInt(last, 10)+`}`))
		f.mu.Unlock()
	}
	return last
}

func (f *faultServer) last() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

// waitReason waits for the socket to disconnect and returns why.
func (f *faultServer) waitReason(t *testing.T, id string) Reason {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for {
		f.rmu.Lock()
		r, ok := f.reasons[id]
		f.rmu.Unlock()
		if ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket %s did not disconnect within %v", id, faultWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled waits until the server has no socket, room or session left.
func (f *faultServer) settled(t *testing.T) {
	t.Helper()
	nsp := f.io.Of("/")
	deadline := time.Now().Add(faultWait)
	for {
		socks, rooms, sessions := len(nsp.Sockets()), len(nsp.Adapter().AllRooms()), f.io.Engine().SessionCount()
		if socks == 0 && rooms == 0 && sessions == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left on the server: %d sockets, %d rooms, %d sessions", socks, rooms, sessions)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Clients that report errors instead of failing the test, so that they can
// run on their own goroutines and reconnect.

type fclient interface {
	sid() string
	// recv delivers the server's packets in order; pings are answered
	// and noops dropped.
	recv() <-chan item
	// gone is closed when the connection ended (for polling: when the
	// poll loop stopped, also after pause).
	gone() <-chan struct{}
	send(pkts ...string) error
	sendBinary(b []byte) error
	// cut ends the connection without a close packet.
	cut()
	// release frees everything; it may be called more than once.
	release()
	// why says why the connection ended.
	why() string
}

// wsF is a WebSocket client on the helpers' frame reader.
type wsF struct {
	c    *wsClient
	once sync.Once
}

// dialWSF opens a WebSocket; with a sid in query it is an upgrade probe,
// otherwise a new session whose open packet is consumed here.
func dialWSF(addr, query string) (*wsF, error) {
	conn, err := net.DialTimeout("tcp", addr, faultWait)
	if err != nil {
		return nil, err
	}
	path := "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		path += "&" + query
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	_ = conn.SetDeadline(time.Now().Add(faultWait))
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(conn)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, nil)
	}
	if err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
		err = fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	c := &wsClient{conn: conn, items: make(chan item, 4096), done: make(chan struct{}), quit: make(chan struct{})}
	go c.readLoop(br)
	w := &wsF{c: c}
	if query != "" {
		return w, nil
	}
	select {
	case it := <-c.items:
		var o struct{ SID string }
		if err := json.Unmarshal([]byte(strings.TrimPrefix(it.text, "0")), &o); err != nil || o.SID == "" {
			w.release()
			return nil, fmt.Errorf("open packet %v", it)
		}
		c.id = o.SID
		return w, nil
	case <-c.done:
		w.release()
		return nil, fmt.Errorf("connection closed before the open packet: %s", c.end)
	case <-time.After(faultWait):
		w.release()
		return nil, errors.New("no open packet")
	}
}

func (w *wsF) sid() string           { return w.c.id }
func (w *wsF) recv() <-chan item     { return w.c.items }
func (w *wsF) gone() <-chan struct{} { return w.c.done }
func (w *wsF) send(pkts ...string) error {
	for _, p := range pkts {
		w.c.writeFrame(1, []byte(p))
	}
	return nil
}
func (w *wsF) sendBinary(b []byte) error { w.c.writeFrame(2, b); return nil }
func (w *wsF) cut()                      { w.c.conn.Close() }
func (w *wsF) why() string               { <-w.c.done; return w.c.end }
func (w *wsF) release() {
	w.once.Do(func() {
		close(w.c.quit)
		w.c.conn.Close()
		<-w.c.done
	})
}

// pollF is a long-polling client: one goroutine polls and answers pings;
// sends are POSTs, one at a time.
type pollF struct {
	base   string // ...&transport=polling&sid=<sid>
	id     string
	tr     *http.Transport
	hc     *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	items  chan item
	done   chan struct{}
	quit   chan struct{}
	end    error // why the loop stopped, set before done closes
	paused atomic.Bool
	pmu    sync.Mutex
	once   sync.Once
	delay  time.Duration // between a poll's answer and the next poll
}

var errPaused = errors.New("paused")

func dialPollF(addr string) (*pollF, error) { return dialPollFDelay(addr, 0) }

// dialPollFDelay opens a polling client that waits delay after each poll,
// as a client on a slow network: the server queues packets meanwhile.
func dialPollFDelay(addr string, delay time.Duration) (*pollF, error) {
	tr := &http.Transport{DisableCompression: true}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pollF{
		tr: tr, hc: &http.Client{Transport: tr}, ctx: ctx, cancel: cancel, delay: delay,
		items: make(chan item, 4096), done: make(chan struct{}), quit: make(chan struct{}),
	}
	base := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	status, body, err := p.get(base)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("handshake: %d %s", status, body)
	}
	var o struct{ SID string }
	if err == nil {
		first, _, _ := strings.Cut(body, "\x1e")
		if e := json.Unmarshal([]byte(strings.TrimPrefix(first, "0")), &o); e != nil || o.SID == "" {
			err = fmt.Errorf("handshake: open packet %q", first)
		}
	}
	if err != nil {
		cancel()
		tr.CloseIdleConnections()
		return nil, err
	}
	p.id, p.base = o.SID, base+"&sid="+o.SID
	go p.loop()
	return p, nil
}

func (p *pollF) get(u string) (int, string, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (p *pollF) loop() {
	defer close(p.done)
	for first := true; ; first = false {
		if p.delay > 0 && !first {
			select {
			case <-time.After(p.delay):
			case <-p.quit:
				return
			}
		}
		if p.paused.Load() {
			p.end = errPaused
			return
		}
		status, body, err := p.get(p.base)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("poll: %d %s", status, body)
		}
		if err != nil {
			p.end = err
			return
		}
		for pkt := range strings.SplitSeq(body, "\x1e") {
			var it item
			switch {
			case pkt == "2":
				if err := p.post("3"); err != nil {
					p.end = err
					return
				}
				continue
			case pkt == "6":
				continue
			case pkt == "1":
				p.end = errors.New("closed by the server")
				return
			case strings.HasPrefix(pkt, "b"):
				b, err := base64.StdEncoding.DecodeString(pkt[1:])
				if err != nil {
					p.end = err
					return
				}
				it = item{bin: b, isBin: true}
			default:
				it = item{text: pkt}
			}
			select {
			case p.items <- it:
			case <-p.quit:
				return
			}
		}
	}
}

func (p *pollF) post(body string) error {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.base, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST: %d %s", resp.StatusCode, b)
	}
	return nil
}

func (p *pollF) sid() string               { return p.id }
func (p *pollF) recv() <-chan item         { return p.items }
func (p *pollF) gone() <-chan struct{}     { return p.done }
func (p *pollF) send(pkts ...string) error { return p.post(strings.Join(pkts, "\x1e")) }
func (p *pollF) sendBinary(b []byte) error { return p.post("b" + base64.StdEncoding.EncodeToString(b)) }
func (p *pollF) why() string               { <-p.done; return fmt.Sprint(p.end) }

// pause stops the poll loop once its GET in flight returns, as a client
// does before it completes an upgrade.
func (p *pollF) pause() { p.paused.Store(true) }

func (p *pollF) cut() {
	p.cancel()
	p.tr.CloseIdleConnections()
}

func (p *pollF) release() {
	p.once.Do(func() {
		close(p.quit)
		p.cancel()
		<-p.done
		p.tr.CloseIdleConnections()
	})
}

// rawRequest writes request bytes on a new TCP connection and closes it
// without reading: a request the client gave up on.
func rawRequest(t *testing.T, addr, request string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, faultWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(faultWait))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
}

// abortPoll sends a long-poll GET for sid and closes its connection.
func abortPoll(t *testing.T, addr, sid string) {
	t.Helper()
	rawRequest(t, addr, "GET /socket.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
}

// expectUnknownSession checks that the server no longer knows sid.
func expectUnknownSession(t *testing.T, addr, sid string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || string(b) != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("poll of a closed session: %d %s", resp.StatusCode, b)
	}
}

// ---------------------------------------------------------------------------
// Protocol steps on an fclient

// fnext returns the next packet.
func fnext(t *testing.T, c fclient) item {
	t.Helper()
	select {
	case it := <-c.recv():
		return it
	case <-time.After(faultWait):
		t.Fatalf("%s: no packet within %v", c.sid(), faultWait)
	case <-c.gone():
		select {
		case it := <-c.recv():
			return it
		default:
		}
		t.Fatalf("%s: connection ended while a packet was expected: %s", c.sid(), c.why())
	}
	return item{}
}

func fsend(t *testing.T, c fclient, pkts ...string) {
	t.Helper()
	if err := c.send(pkts...); err != nil {
		t.Fatalf("%s: send: %v", c.sid(), err)
	}
}

// connectReply is the payload of a CONNECT reply; PID is set when the
// server has connection state recovery on.
type connectReply struct {
	SID string `json:"sid"`
	PID string `json:"pid"`
}

// fconnectWith sends CONNECT with an optional auth payload (for recovery:
// {"pid":...,"offset":...}) and returns the reply.
func fconnectWith(t *testing.T, c fclient, auth string) connectReply {
	t.Helper()
	fsend(t, c, "40"+auth)
	it := fnext(t, c)
	var r connectReply
	rest, ok := strings.CutPrefix(it.text, "40")
	if !ok || json.Unmarshal([]byte(rest), &r) != nil || len(r.SID) != 20 {
		t.Fatalf("CONNECT reply %v", it)
	}
	return r
}

// fconnect joins the main namespace and returns the socket id.
func fconnect(t *testing.T, c fclient) string {
	t.Helper()
	return fconnectWith(t, c, "").SID
}

var joinAckRe = regexp.MustCompile(`^43(\d+)\[\{"n":(\d+),"g":(\d+)\}\]$`)

// fjoin joins the stream and returns the number the join acknowledged.
func fjoin(t *testing.T, c fclient, id int) int64 {
	t.Helper()
	fsend(t, c, fmt.Sprintf(`42%d["join"]`, id))
	it := fnext(t, c)
	m := joinAckRe.FindStringSubmatch(it.text)
	if m == nil || m[1] != strconv.Itoa(id) {
		t.Fatalf("join ack %v", it)
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return n
}

// fecho round-trips an acknowledged event: the ack must be the next
// packet, so nothing else (a duplicate) was queued before it.
func fecho(t *testing.T, c fclient, id int) {
	t.Helper()
	fsend(t, c, fmt.Sprintf(`42%d["echo",%d]`, id, id))
	expectItem(t, c, fmt.Sprintf(`43%d[%d]`, id, id))
}

func expectItem(t *testing.T, c fclient, want string) {
	t.Helper()
	if it := fnext(t, c); it.isBin || it.text != want {
		t.Fatalf("%s: got %v, want %q", c.sid(), it, want)
	}
}

// parseStream reads a stream event: its number, and the offset a server
// with connection state recovery appends as a last argument.
func parseStream(text string) (n int64, offset string, ok bool) {
	rest, ok := strings.CutPrefix(text, `42["s",{"n":`)
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(rest, "}")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, "", false
	}
	switch {
	case rest == "]":
		return n, "", true
	case strings.HasPrefix(rest, ",") && strings.HasSuffix(rest, "]"):
		if json.Unmarshal([]byte(rest[1:len(rest)-1]), &offset) != nil {
			return 0, "", false
		}
		return n, offset, true
	}
	return 0, "", false
}

// fstream checks that the next packets are the stream's numbers from..to
// and returns the offset of the last one ("" without recovery).
func fstream(t *testing.T, c fclient, from, to int64) string {
	t.Helper()
	var offset string
	for want := from; want <= to; want++ {
		it := fnext(t, c)
		n, off, ok := parseStream(it.text)
		if !ok || n != want {
			t.Fatalf("%s: got %v, want stream event %d (of %d..%d)", c.sid(), it, want, from, to)
		}
		offset = off
	}
	return offset
}

// ---------------------------------------------------------------------------
// Baselines

type faultBaseline struct {
	goroutines int
	heap       uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// takeBaseline samples once the goroutine count has held still for a
// while (pooled goroutines exit after a second idle).
func takeBaseline(t *testing.T) faultBaseline {
	t.Helper()
	last, since := -1, time.Now()
	deadline := time.Now().Add(faultWait)
	for time.Now().Before(deadline) {
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 1500*time.Millisecond {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return faultBaseline{goroutines: last, heap: liveHeap()}
}

// backToBaseline waits for the goroutine count to return to the baseline
// and the live heap to within max(8 MiB, 25%) of it.
func backToBaseline(t *testing.T, b faultBaseline) {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for n := runtime.NumGoroutine(); n > b.goroutines; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, b.goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	limit := b.heap + max(8<<20, b.heap/4)
	for h := liveHeap(); h > limit; h = liveHeap() {
		if time.Now().After(deadline) {
			t.Fatalf("live heap %d bytes, baseline %d, limit %d", h, b.heap, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
