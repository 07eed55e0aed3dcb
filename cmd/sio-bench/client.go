package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A Socket.IO 5 client on the main namespace over Engine.IO 4, reduced to
// what the scenarios need: connect, emit with or without an ack, receive
// events, answer heartbeats.

// engineTransport carries Engine.IO packets (text only) for a Client.
type engineTransport interface {
	// send queues or writes one packet.
	send(pkt []byte) error
	// close ends the transport; the reader stops soon after.
	close()
}

// eventFunc receives an event: its name and its raw arguments (the JSON
// array after the name, without brackets, e.g. `,{"t":1}`). It runs on the
// client's reader goroutine, one call at a time.
type eventFunc func(c *Client, name string, args []byte)

// ackFunc receives an acknowledgement's raw JSON array.
type ackFunc func(data []byte)

// Client is one Socket.IO connection.
type Client struct {
	tr      engineTransport
	onEvent eventFunc
	index   int // position in its scenario's dial order

	mu     sync.Mutex
	nextID uint64
	acks   map[uint64]ackFunc

	connected chan struct{} // closed when the CONNECT reply arrives
	connErr   error         // set before connected is closed on failure
	done      chan struct{} // closed when the transport has ended
	doneOnce  sync.Once
	closing   atomic.Bool // Close was called
	endErr    error       // why the transport ended, set before done closes
}

func newClient(onEvent eventFunc) *Client {
	return &Client{
		onEvent:   onEvent,
		acks:      map[uint64]ackFunc{},
		connected: make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// Dialer opens connections to one server.
type Dialer struct {
	Addr    string // host:port
	Path    string // e.g. /socket.io/
	Polling bool   // long-polling instead of WebSocket
	Timeout time.Duration
	poll    *pollingClient
}

// release closes the idle keep-alive connections of polling clients.
func (d *Dialer) release() {
	if d.poll != nil {
		d.poll.closeIdle()
	}
}

// Dial connects a client and returns once the namespace is joined.
func (d *Dialer) Dial(ctx context.Context, onEvent eventFunc) (*Client, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := newClient(onEvent)
	var err error
	if d.Polling {
		err = d.poll.dial(ctx, d, c)
	} else {
		err = dialWebSocket(ctx, d, c)
	}
	if err != nil {
		return nil, err
	}
	select {
	case <-c.connected:
		if c.connErr != nil {
			c.Close()
			return nil, c.connErr
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("connection ended before the namespace was joined: %w", c.endErr)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("waiting for the namespace: %w", ctx.Err())
	}
}

// Close ends the connection: best-effort close packet, then the transport.
func (c *Client) Close() {
	if c.closing.Swap(true) {
		return
	}
	c.tr.close()
}

// Lost reports whether the connection ended without Close being called.
func (c *Client) Lost() bool {
	select {
	case <-c.done:
		return !c.closing.Load()
	default:
		return false
	}
}

// ended is called once by the transport when it stops.
func (c *Client) ended(err error) {
	c.doneOnce.Do(func() {
		c.endErr = err
		close(c.done)
	})
}

// Emit sends an event; args is raw JSON for the arguments, comma-separated.
func (c *Client) Emit(event, args string) error {
	return c.tr.send(appendEvent(make([]byte, 0, 16+len(event)+len(args)), event, args, 0, false))
}

// EmitAck sends an event asking for an acknowledgement, which fn receives.
func (c *Client) EmitAck(event, args string, fn ackFunc) error {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.acks[id] = fn
	c.mu.Unlock()
	err := c.tr.send(appendEvent(make([]byte, 0, 24+len(event)+len(args)), event, args, id, true))
	if err != nil {
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
	}
	return err
}

// Call emits and waits for the acknowledgement.
func (c *Client) Call(ctx context.Context, event, args string) ([]byte, error) {
	ch := make(chan []byte, 1)
	if err := c.EmitAck(event, args, func(data []byte) { ch <- bytes.Clone(data) }); err != nil {
		return nil, err
	}
	select {
	case data := <-ch:
		return data, nil
	case <-c.done:
		return nil, fmt.Errorf("connection ended while waiting for the %s ack: %w", event, c.endErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the %s ack: %w", event, ctx.Err())
	}
}

// PendingAcks is the number of acknowledgements not yet received.
func (c *Client) PendingAcks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks)
}

// appendEvent builds the Engine.IO message 4 + Socket.IO EVENT 2 on the
// main namespace: 42[id]["event",args].
func appendEvent(b []byte, event, args string, id uint64, withID bool) []byte {
	b = append(b, '4', '2')
	if withID {
		b = strconv.AppendUint(b, id, 10)
	}
	b = append(b, '[', '"')
	b = append(b, event...)
	b = append(b, '"')
	if args != "" {
		b = append(b, ',')
		b = append(b, args...)
	}
	return append(b, ']')
}

var (
	pktConnect = []byte("40")
	pktPong    = []byte("3")
	pktClose   = []byte("1")
)

// onPacket handles one Engine.IO packet from the server. Transports call
// it from their single reader goroutine.
func (c *Client) onPacket(p []byte) error {
	if len(p) == 0 {
		return errors.New("empty packet")
	}
	switch p[0] {
	case '0': // open: join the main namespace
		return c.tr.send(pktConnect)
	case '1': // close
		return errors.New("server closed the session")
	case '2': // ping
		return c.tr.send(pktPong)
	case '3', '6': // pong, noop
		return nil
	case '4':
		return c.onSocketPacket(p[1:])
	default:
		return fmt.Errorf("unexpected packet %q", truncate(p))
	}
}

func (c *Client) onSocketPacket(p []byte) error {
	if len(p) == 0 {
		return errors.New("empty socket.io packet")
	}
	typ, rest := p[0], p[1:]
	switch typ {
	case '0': // CONNECT reply
		select {
		case <-c.connected:
		default:
			close(c.connected)
		}
	case '4': // CONNECT_ERROR
		select {
		case <-c.connected:
		default:
			c.connErr = fmt.Errorf("connect_error %s", truncate(rest))
			close(c.connected)
		}
	case '1': // DISCONNECT
		return errors.New("server disconnected the socket")
	case '2': // EVENT
		_, rest = leadingID(rest)
		name, args, ok := splitEvent(rest)
		if !ok {
			return fmt.Errorf("bad event %q", truncate(p))
		}
		if c.onEvent != nil {
			c.onEvent(c, name, args)
		}
	case '3': // ACK
		id, data := leadingID(rest)
		if id < 0 {
			return fmt.Errorf("ack without id %q", truncate(p))
		}
		c.mu.Lock()
		fn := c.acks[uint64(id)]
		delete(c.acks, uint64(id))
		c.mu.Unlock()
		if fn != nil {
			fn(data)
		}
	default:
		return fmt.Errorf("unexpected socket.io packet %q", truncate(p))
	}
	return nil
}

// leadingID parses the ack id at the start of p (-1 if none).
func leadingID(p []byte) (int64, []byte) {
	i := 0
	var id int64
	for i < len(p) && p[i] >= '0' && p[i] <= '9' && i < 18 {
		id = id*10 + int64(p[i]-'0')
		i++
	}
	if i == 0 {
		return -1, p
	}
	return id, p[i:]
}

// splitEvent splits `["name",a,b]` into the name and `,a,b`. Event names
// of the contract have no escapes.
func splitEvent(p []byte) (string, []byte, bool) {
	if len(p) < 4 || p[0] != '[' || p[1] != '"' || p[len(p)-1] != ']' {
		return "", nil, false
	}
	end := bytes.IndexByte(p[2:], '"')
	if end < 0 {
		return "", nil, false
	}
	return string(p[2 : 2+end]), p[3+end : len(p)-1], true
}

// jsonInt finds `"key":` in a flat JSON object and parses the integer
// after it. Numbers that went through a JavaScript double may carry a
// fractional or exponent part; they are read as floats then.
func jsonInt(p []byte, key string) (int64, bool) {
	var pat [32]byte
	n := copy(pat[:], `"`)
	n += copy(pat[n:], key)
	n += copy(pat[n:], `":`)
	i := bytes.Index(p, pat[:n])
	if i < 0 {
		return 0, false
	}
	p = p[i+n:]
	for len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	end := 0
	for end < len(p) && (p[end] == '-' || p[end] == '+' || p[end] == '.' || p[end] == 'e' || p[end] == 'E' || (p[end] >= '0' && p[end] <= '9')) {
		end++
	}
	if end == 0 {
		return 0, false
	}
	if v, err := strconv.ParseInt(string(p[:end]), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(p[:end]), 64)
	if err != nil {
		return 0, false
	}
	return int64(f), true
}

func truncate(p []byte) string {
	if len(p) > 80 {
		return string(p[:80]) + "..."
	}
	return string(p)
}
