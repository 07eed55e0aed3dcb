// Package websocket is the server side of RFC 6455 used by the Engine.IO
// WebSocket transport.
//
// It is small on purpose: it accepts upgrades from a standard net/http
// handler, decodes client frames with every limit the engine needs (message
// size checked before anything is buffered, fragment count, UTF-8, control
// frame rules), and writes pre-built frames, so that a broadcast can frame a
// message once and write the same bytes to every recipient.
//
// # Connection model
//
// On Linux and the BSDs, an upgraded *net.TCPConn is taken over by an
// event-driven [Poller] (built on github.com/lesismal/nbio): an idle
// connection holds no goroutine and no read or write buffer. Reads arrive on
// the poller goroutine in a buffer shared by all connections of that
// poller; bytes of an incomplete frame are copied aside until it completes.
// Writes are non-blocking: what the kernel does not take at once is kept
// and flushed when the socket is writable, up to a per-connection limit past
// which the connection is closed (writes then fail with ErrWriteBufferFull);
// Buffered tells how much is kept.
//
// Other connections (TLS terminated in process, net.Pipe in tests, or a
// Poller configured with Blocking) get one reader goroutine each and
// blocking writes; the wire behaviour is the same.
//
// The [Handler] is called from the reading goroutine, one call at a time per
// connection; it must not block (hand work to another goroutine).
package websocket

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lesismal/nbio"
)

// Handler receives the events of connections.
type Handler interface {
	// OnMessage is called for each complete data message. data is only
	// valid during the call.
	OnMessage(c *Conn, binary bool, data []byte)
	// OnClose is called once when the connection is gone. err is a
	// *CloseError when a close frame was exchanged.
	OnClose(c *Conn, err error)
}

// Options are the per-upgrade settings.
type Options struct {
	// MaxMessageSize is the largest message accepted, in bytes, after
	// decompression; larger ones close the connection with 1009 before
	// their payload is read. 0 means no limit.
	MaxMessageSize int64
	// MaxFragments caps the number of frames in one message (1008 past
	// it). 0 means 131072, the reference value.
	MaxFragments int
	// Compression enables permessage-deflate when the client offers it.
	Compression bool
}

// Conn is a server-side WebSocket connection. Its write methods are safe
// for concurrent use; each call writes whole frames that are never
// interleaved with those of another call.
type Conn struct {
	h        Handler
	nbc      *nbio.Conn // poller mode
	raw      net.Conn   // blocking mode
	evented  bool       // served by the poller (decided before setup)
	wmu      sync.Mutex // blocking mode writes; writes before attach
	attached atomic.Bool
	early    []byte // frames written before the connection was attached
	rd       reader
	deflate  bool
	closed   atomic.Bool
	notified atomic.Bool
	closeErr atomic.Pointer[CloseError]
	remote   net.Addr

	// held counts the bytes handed to the poller that the socket has not
	// taken yet (the poller reports every write it makes).
	held atomic.Int64
	// closeSent is set once Close wrote the close frame: nothing is
	// written after it. linger makes the poller's write reports shut the
	// connection down once held reaches zero; lingerTimer bounds that.
	closeSent   atomic.Bool
	linger      atomic.Bool
	lingerTimer atomic.Pointer[time.Timer]

	poller  *Poller     // set with counted, before the connection is served
	counted atomic.Bool // counted in poller.live
	// published is set before the poller can see the connection and
	// loaded first by onData: it orders the writes made while setting the
	// connection up before the poller goroutine's reads (the epoll
	// hand-off alone is no synchronization the memory model knows of).
	published atomic.Bool

	// Session is free for the owner of the connection (set it before the
	// first event can arrive: in Upgrade's setup callback).
	session atomic.Value
}

// SetSession attaches a value to the connection.
func (c *Conn) SetSession(v any) { c.session.Store(v) }

// Session returns the value given to SetSession.
func (c *Conn) Session() any { return c.session.Load() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Compression reports whether permessage-deflate was negotiated.
func (c *Conn) Compression() bool { return c.deflate }

// Evented reports whether the connection is served by the event poller
// (no goroutine while idle).
func (c *Conn) Evented() bool { return c.evented }

// IsUpgradeRequest reports whether r carries the headers of a WebSocket
// upgrade (Connection: upgrade and Upgrade: websocket).
func IsUpgradeRequest(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// ErrBadHandshake is returned by Upgrade for a request that is not a valid
// WebSocket handshake; nothing was written to w.
var ErrBadHandshake = errors.New("websocket: bad handshake")

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Upgrade completes the WebSocket handshake on r and hands the connection to
// p. setup is called with the new connection before any event can be
// delivered for it (attach the session there). On ErrBadHandshake nothing
// was written and the caller answers the request.
func (p *Poller) Upgrade(w http.ResponseWriter, r *http.Request, opts Options, h Handler, setup func(*Conn)) (*Conn, error) {
	if r.Method != http.MethodGet || !IsUpgradeRequest(r) || r.Header.Get("Sec-Websocket-Version") != "13" {
		return nil, ErrBadHandshake
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, ErrBadHandshake
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("websocket: response does not support hijacking")
	}
	compress := opts.Compression && negotiateDeflate(r.Header.Values("Sec-Websocket-Extensions"))

	netConn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	// Bytes the client sent right after its request (it may pipeline its
	// first frames) are already in the server's read buffer.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	_ = netConn.SetDeadline(time.Time{})

	sum := sha1.Sum([]byte(key + acceptGUID))
	resp := make([]byte, 0, 256)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	resp = append(resp, "\r\n"...)
	if compress {
		resp = append(resp, "Sec-WebSocket-Extensions: "+deflateResponse+"\r\n"...)
	}
	resp = append(resp, "\r\n"...)
	_ = netConn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := netConn.Write(resp); err != nil {
		netConn.Close()
		return nil, err
	}
	_ = netConn.SetWriteDeadline(time.Time{})

	c := &Conn{h: h, deflate: compress, remote: netConn.RemoteAddr()}
	c.rd.maxMessage = opts.MaxMessageSize
	c.rd.maxFrags = opts.MaxFragments
	if c.rd.maxFrags == 0 {
		c.rd.maxFrags = 131072
	}
	c.rd.deflate = compress
	_, isTCP := netConn.(*net.TCPConn)
	c.evented = isTCP && !p.cfg.Blocking && p.start() == nil
	// Writes made from setup (or by anyone before the connection is
	// attached) are held and written first when it is.
	if setup != nil {
		setup(c)
	}
	if err := p.attach(c, netConn, brw, early); err != nil {
		return nil, err
	}
	return c, nil
}

// onData decodes bytes read from the connection.
func (c *Conn) onData(data []byte) {
	_ = c.published.Load()
	if c.closed.Load() {
		return
	}
	if cerr := c.rd.feed(data, c); cerr != nil {
		c.fail(cerr)
	}
}

// message implements events.
func (c *Conn) message(op byte, _ bool, data []byte) *CloseError {
	if c.closed.Load() {
		return nil // what follows a close frame in the same read is dropped
	}
	c.h.OnMessage(c, op == OpBinary, data)
	return nil
}

// control implements events.
func (c *Conn) control(op byte, data []byte) *CloseError {
	switch op {
	case OpPing:
		_ = c.writeRaw(AppendFrame(nil, true, false, OpPong, data))
	case OpClose:
		code, reason := CloseNoStatus, ""
		switch {
		case len(data) == 1:
			return protocolError("invalid close payload")
		case len(data) >= 2:
			code = int(data[0])<<8 | int(data[1])
			reason = string(data[2:])
			if !validCloseCode(code) {
				return protocolError("invalid close code")
			}
			if !utf8.Valid(data[2:]) {
				return &CloseError{Code: CloseInvalidPayload, Reason: "invalid close reason", Local: true}
			}
		}
		cerr := &CloseError{Code: code, Reason: reason}
		c.closeErr.CompareAndSwap(nil, cerr)
		reply := code
		if code == CloseNoStatus {
			reply = 0
		}
		_ = c.writeRaw(AppendClose(nil, reply, ""))
		c.shutdown()
		return nil
	}
	return nil
}

// fail sends a close frame with the error's code and closes the connection.
func (c *Conn) fail(cerr *CloseError) {
	c.closeErr.CompareAndSwap(nil, cerr)
	if cerr.Local {
		_ = c.writeRaw(AppendClose(nil, cerr.Code, cerr.Reason))
	}
	c.shutdown()
}

// ErrWriteBufferFull is returned by writes on an evented connection that
// would hold more than the poller's MaxWriteBuffer for a client that does
// not read; the connection is closed. It wraps ErrClosed.
var ErrWriteBufferFull = fmt.Errorf("%w (write buffer full)", ErrClosed)

// WriteFrames writes complete frames built with AppendFrame or
// AppendMessageFrame, in order, in one system call where possible. The
// slices are not retained after the call returns (a remainder the kernel
// did not accept is copied). Writes after Close fail with ErrClosed.
func (c *Conn) WriteFrames(frames [][]byte) error {
	if c.closed.Load() || c.closeSent.Load() {
		return ErrClosed
	}
	return c.write(frames, false)
}

// errCloseSent is returned by write for a second close frame.
var errCloseSent = errors.New("websocket: close frame already sent")

// write writes frames; closing is set for the close frame, the last write.
func (c *Conn) write(frames [][]byte, closing bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		if closing {
			return errCloseSent
		}
		return ErrClosed
	}
	if closing {
		c.closeSent.Store(true)
	}
	if !c.attached.Load() {
		for _, f := range frames {
			c.early = append(c.early, f...)
		}
		return nil
	}
	if c.nbc != nil {
		return c.writeEvented(frames)
	}
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.writeBlocking(frames); err != nil {
		c.closeErr.CompareAndSwap(nil, &CloseError{Code: CloseAbnormal, Reason: err.Error(), Local: true})
		go c.shutdown()
		return ErrClosed
	}
	return nil
}

// writeChunk is the most bytes handed to the poller in one call.
const writeChunk = 64 << 10

// chunkBuffers holds the buffers that gather small frames into one write.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk); return &b }}

// pieces calls fn with consecutive groups of the bytes of frames, in
// order, each of at most writeChunk bytes (a larger frame is cut).
func pieces(frames [][]byte, fn func([][]byte) error) error {
	var arr [16][]byte
	g, n := arr[:0], 0
	for _, f := range frames {
		for len(f) > 0 {
			k := min(len(f), writeChunk-n)
			g = append(g, f[:k])
			n += k
			f = f[k:]
			if n == writeChunk {
				if err := fn(g); err != nil {
					return err
				}
				clear(g)
				g, n = g[:0], 0
			}
		}
	}
	if len(g) > 0 {
		return fn(g)
	}
	return nil
}

// writeEvented hands frames to the poller, in writes of at most
// writeChunk bytes: the poller refuses (closing the connection) any single
// write that would take its held bytes past MaxWriteBuffer, counting the
// whole write even when the socket can take it at once, so pieces keep the
// limit on what is actually held. The frames of a piece are gathered into
// one buffer rather than written with writev: the poller drops a writev the
// socket refuses entirely, and does not report the bytes of one it takes
// entirely, which Buffered relies on. Called with wmu held, which keeps the
// pieces of one call together.
func (c *Conn) writeEvented(frames [][]byte) error {
	if len(frames) == 1 && len(frames[0]) <= writeChunk {
		return c.put(frames[0])
	}
	var bp *[]byte
	defer func() {
		if bp != nil {
			chunkBuffers.Put(bp)
		}
	}()
	return pieces(frames, func(g [][]byte) error {
		if len(g) == 1 {
			return c.put(g[0])
		}
		if bp == nil {
			bp = chunkBuffers.Get().(*[]byte)
		}
		buf := (*bp)[:0]
		for _, b := range g {
			buf = append(buf, b...)
		}
		*bp = buf[:0]
		return c.put(buf)
	})
}

// writeBlocking writes frames to the connection in blocking mode, with
// writev, a piece at a time so that Buffered follows its progress. Called
// with wmu held.
func (c *Conn) writeBlocking(frames [][]byte) error {
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	c.held.Add(int64(total))
	defer func() { c.held.Add(-int64(total)) }() // what was not written
	_ = c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
	return pieces(frames, func(g [][]byte) error {
		bufs := net.Buffers(g)
		n, err := bufs.WriteTo(c.raw)
		c.held.Add(-n)
		total -= int(n)
		return err
	})
}

// putAll hands b to the poller in pieces of at most writeChunk bytes.
func (c *Conn) putAll(b []byte) error {
	for len(b) > writeChunk {
		if err := c.put(b[:writeChunk]); err != nil {
			return err
		}
		b = b[writeChunk:]
	}
	return c.put(b)
}

// put hands one buffer to the poller, which writes what the socket takes
// and keeps a copy of the rest.
func (c *Conn) put(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.held.Add(int64(len(b))) // before: the poller reports as it writes
	if _, err := c.nbc.Write(b); err != nil {
		c.held.Add(-int64(len(b)))
		if errors.Is(err, nbio.ErrOverflow) {
			c.closeErr.CompareAndSwap(nil, &CloseError{Code: CloseAbnormal, Reason: "write buffer full", Local: true})
			return ErrWriteBufferFull
		}
		return ErrClosed
	}
	return nil
}

// wrote is the poller's report of n bytes written to the socket.
func (c *Conn) wrote(n int) {
	if c.held.Add(-int64(n)) <= 0 && c.linger.Load() {
		// Called with the poller's connection lock held, which shutdown
		// takes.
		go c.shutdown()
	}
}

// Buffered is the number of bytes written to the connection that the
// kernel has not taken yet: held by the poller, or, in blocking mode, left
// of the write under way.
func (c *Conn) Buffered() int { return int(c.held.Load()) }

// writeTimeout bounds a blocking write to a client that stopped reading,
// and how long Close waits for the kernel to take what is held.
var writeTimeout = 20 * time.Second

// closeFrameTimeout bounds the write of the close frame in blocking mode.
const closeFrameTimeout = 100 * time.Millisecond

func (c *Conn) writeRaw(frame []byte) error {
	var one [1][]byte
	one[0] = frame
	return c.WriteFrames(one[:])
}

// WriteMessage writes one data message.
func (c *Conn) WriteMessage(binary bool, payload []byte, compress bool) error {
	return c.writeRaw(AppendMessageFrame(nil, binary, payload, compress && c.deflate))
}

// Close sends a close frame with code and reason after the frames written
// before it, then closes the connection; writes after it fail. It does not
// wait for the network: on the poller, the connection is shut down once
// the kernel has taken every byte held for it (or after the write timeout,
// for a client that does not read); in blocking mode, the close frame is
// skipped when another write is under way (it may be blocked on a client
// that does not read), and its own write gives up after a moment.
func (c *Conn) Close(code int, reason string) error {
	if c.closed.Load() || c.closeSent.Load() {
		return nil
	}
	c.closeErr.CompareAndSwap(nil, &CloseError{Code: code, Reason: reason, Local: true})
	frame := AppendClose(nil, code, reason)
	if c.attached.Load() && c.nbc == nil {
		if c.wmu.TryLock() {
			if c.closeSent.CompareAndSwap(false, true) && !c.closed.Load() {
				_ = c.raw.SetWriteDeadline(time.Now().Add(closeFrameTimeout))
				_, _ = c.raw.Write(frame)
			}
			c.wmu.Unlock()
		}
		c.closeSent.Store(true)
		c.shutdown()
		return nil
	}
	var one [1][]byte
	one[0] = frame
	if err := c.write(one[:], true); errors.Is(err, errCloseSent) {
		return nil
	}
	if !c.attached.Load() || c.nbc == nil {
		c.shutdown() // not attached yet: attach writes what is held first
		return nil
	}
	c.linger.Store(true)
	if c.held.Load() <= 0 {
		c.shutdown()
		return nil
	}
	t := time.AfterFunc(writeTimeout, func() { _ = c.CloseNow() })
	c.lingerTimer.Store(t)
	if c.closed.Load() { // shut down meanwhile
		t.Stop()
	}
	return nil
}

// CloseNow closes the connection without a close frame, dropping what is
// held for it.
func (c *Conn) CloseNow() error {
	c.closeErr.CompareAndSwap(nil, &CloseError{Code: CloseAbnormal, Local: true})
	c.shutdown()
	return nil
}

// shutdown closes the network connection; the OnClose notification follows
// from the reading side.
func (c *Conn) shutdown() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	if t := c.lingerTimer.Load(); t != nil {
		t.Stop()
	}
	if !c.attached.Load() {
		c.wmu.Lock()
		attached := c.attached.Load()
		c.wmu.Unlock()
		if !attached {
			// Closed from the setup callback or the early bytes: attach
			// closes the connection after writing the frames held for it.
			return
		}
	}
	if c.nbc != nil {
		shutdownEvented(c.nbc)
		return
	}
	// Not under wmu: closing is what releases a write blocked on a client
	// that stopped reading.
	_ = c.raw.Close()
}

// notifyClose delivers OnClose once.
func (c *Conn) notifyClose(err error) {
	if !c.notified.CompareAndSwap(false, true) {
		return
	}
	defer c.uncount()
	if t := c.lingerTimer.Load(); t != nil {
		t.Stop()
	}
	c.closed.Store(true)
	if cerr := c.closeErr.Load(); cerr != nil {
		err = cerr
	} else if err == nil {
		err = &CloseError{Code: CloseAbnormal}
	}
	c.h.OnClose(c, err)
}

// readLoop serves a connection in blocking mode.
func (c *Conn) readLoop(br *bufio.Reader) {
	var err error
	buf := make([]byte, 4096)
	defer func() {
		_ = c.raw.Close()
		c.notifyClose(err)
	}()
	for {
		var n int
		n, err = br.Read(buf)
		if n > 0 {
			c.onData(buf[:n])
		}
		if err != nil || c.closed.Load() {
			return
		}
	}
}
