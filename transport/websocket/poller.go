package websocket

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func init() {
	// Errors surface through our own close paths; the library's logger
	// would only repeat them.
	logging.SetLevel(logging.LevelNone)
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	// Blocking serves every connection with a reader goroutine instead of
	// the event poller.
	Blocking bool
	// Pollers is the number of poller goroutines. 0 means one per four
	// CPUs, at least one.
	Pollers int
	// MaxWriteBuffer is the most bytes kept for a connection whose socket
	// buffer is full; past it the connection is closed. 0 means 4 MiB.
	MaxWriteBuffer int
}

// Poller owns the event loop that serves upgraded connections. It starts
// on first use and stops with Close, which closes every connection it
// serves.
type Poller struct {
	cfg     PollerConfig
	once    sync.Once
	engine  *nbio.Engine
	pollers int
	initErr error

	mu      sync.Mutex
	stopped bool
	conns   map[*Conn]struct{} // blocking-mode connections, for Close

	live atomic.Int64 // connections attached and not yet notified closed
}

// Conns is the number of connections the poller serves: attached, and
// not yet reported closed to their Handler.
func (p *Poller) Conns() int { return int(p.live.Load()) }

// count records c as served until uncount.
func (p *Poller) count(c *Conn) {
	c.poller = p
	c.counted.Store(true)
	p.live.Add(1)
}

func (c *Conn) uncount() {
	if c.counted.CompareAndSwap(true, false) {
		c.poller.live.Add(-1)
	}
}

// NewPoller returns a Poller; nothing runs until the first upgrade.
func NewPoller(cfg PollerConfig) *Poller {
	return &Poller{cfg: cfg, conns: map[*Conn]struct{}{}}
}

func (p *Poller) start() error {
	p.once.Do(func() {
		n := p.cfg.Pollers
		if n <= 0 {
			n = max(1, runtime.NumCPU()/4)
		}
		wb := p.cfg.MaxWriteBuffer
		if wb <= 0 {
			wb = 4 << 20
		}
		e := nbio.NewEngine(nbio.Config{
			Name:               "sio-ws",
			NPoller:            n,
			ReadBufferSize:     64 << 10,
			MaxWriteBufferSize: wb,
		})
		e.OnData(func(nc *nbio.Conn, data []byte) {
			switch s := nc.Session().(type) {
			case *Conn:
				s.onData(data)
				// What onData readied (a handler's goroutine) would
				// otherwise wait on this P while the poller blocks in
				// epoll_wait, until the runtime's monitor takes the P
				// away (tens of µs later, and it then keeps waking up
				// every 20 µs): let it run now.
				runtime.Gosched()
			case *pollerProbe:
				s.ran()
			}
		})
		e.OnWrittenSize(func(nc *nbio.Conn, _ []byte, n int) {
			if c, ok := nc.Session().(*Conn); ok {
				c.wrote(n)
			}
		})
		e.OnClose(func(nc *nbio.Conn, err error) {
			if c, ok := nc.Session().(*Conn); ok {
				_ = c.published.Load() // see Conn.published
				c.closed.Store(true)
				// nbio calls this with the connection's lock held: leave
				// it before the handler runs.
				go c.notifyClose(err)
			}
		})
		if err := e.Start(); err != nil {
			p.initErr = fmt.Errorf("websocket: start poller: %w", err)
			return
		}
		p.engine = e
		p.pollers = n
	})
	return p.initErr
}

// attach hands an upgraded connection to the poller, or to a reader
// goroutine when it cannot be polled, then writes what was written before.
func (p *Poller) attach(c *Conn, netConn net.Conn, brw *bufio.ReadWriter, early []byte) error {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		netConn.Close()
		c.closed.Store(true)
		return ErrClosed
	}
	if c.evented {
		nc, err := nbio.NBConn(netConn) // duplicates the descriptor, closes netConn
		if err != nil {
			netConn.Close()
			c.closed.Store(true)
			return err
		}
		c.nbc = nc
		nc.SetSession(c)
		if len(early) > 0 {
			c.onData(early)
		}
		c.published.Store(true)
		p.count(c)
		if _, err := p.engine.AddConn(nc); err != nil {
			c.closed.Store(true)
			nc.Close()
			c.uncount()
			return err
		}
		// The held frames go out before attached is set: a writer that
		// sees it set writes directly, after them.
		c.wmu.Lock()
		if len(c.early) > 0 {
			c.held.Add(int64(len(c.early)))
			if _, err := nc.Write(c.early); err != nil {
				c.held.Add(-int64(len(c.early)))
			}
		}
		c.early = nil
		c.attached.Store(true)
		closed := c.closed.Load()
		c.wmu.Unlock()
		if closed {
			_ = nc.Close() // shut down before it was attached
		}
		return nil
	}
	c.raw = netConn
	c.wmu.Lock()
	if len(c.early) > 0 {
		_ = netConn.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, _ = netConn.Write(c.early)
	}
	c.early = nil
	c.attached.Store(true)
	closed := c.closed.Load()
	c.wmu.Unlock()
	if closed {
		_ = netConn.Close() // shut down before it was attached
	}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.count(c)
	go func() {
		defer func() {
			p.mu.Lock()
			delete(p.conns, c)
			p.mu.Unlock()
		}()
		c.readLoop(brw.Reader)
	}()
	return nil
}

// Close stops the poller and closes every connection it serves.
func (p *Poller) Close() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	conns := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
	p.once.Do(func() {}) // a poller never started stays stopped
	if p.engine != nil {
		p.awaitPollers(p.pollers)
		p.engine.Stop()
	}
}

// pollerProbe is the session of a connection that shows its poller
// goroutine running (see awaitPollers).
type pollerProbe struct {
	once sync.Once
	ch   chan struct{}
}

func (pp *pollerProbe) ran() { pp.once.Do(func() { close(pp.ch) }) }
