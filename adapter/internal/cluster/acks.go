package cluster

import (
	"context"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// Acks routes the responses to a broadcast with acknowledgements.
type Acks struct {
	onCount func(int)
	onAck   adapter.AckFunc
}

// Count hands over the number of clients another server reached.
func (a *Acks) Count(n int) {
	if a.onCount != nil {
		a.onCount(n)
	}
}

// Ack hands over the acknowledgement of a client of another server.
func (a *Acks) Ack(p *sio.Packet) {
	if a.onAck != nil {
		a.onAck("", p)
	}
}

// expectAcks routes the responses to broadcast id to onCount and onAck
// until timeout has passed (when > 0), ctx is done, forget is called or
// the Core closes. It returns the adapter's ErrClosed once closed.
func (c *Core[E, T]) expectAcks(ctx context.Context, id string, timeout time.Duration, onCount func(int), onAck adapter.AckFunc) (forget func(), err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.cfg.ErrClosed
	}
	c.acks[id] = &Acks{onCount: onCount, onAck: onAck}
	c.mu.Unlock()
	forget = func() {
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
	}
	if timeout > 0 {
		time.AfterFunc(timeout, forget)
	}
	context.AfterFunc(ctx, forget)
	return forget, nil
}

// BroadcastWithAck is the end of a broadcast with acknowledgements:
// from now on the responses to broadcast id reach onCount and onAck (see
// expectAcks); the local sockets get p from mem, then publish, bounded by
// the request timeout, sends it to the other servers. It returns the
// adapter's ErrClosed once closed, and the error of publish.
func (c *Core[E, T]) BroadcastWithAck(ctx context.Context, id string, mem *adapter.Memory, p *sio.Packet, opts adapter.Options,
	onCount func(int), onAck adapter.AckFunc, publish func(context.Context) error) error {
	forget, err := c.expectAcks(ctx, id, opts.Flags.Timeout, onCount, onAck)
	if err != nil {
		return err
	}
	_ = mem.BroadcastWithAck(ctx, p, opts, onCount, onAck)
	pctx, cancel := c.OpContext(ctx, 0)
	defer cancel()
	if err := publish(pctx); err != nil {
		forget()
		return err
	}
	return nil
}

// AcksOf returns the routes of broadcast id, nil when it expects none.
func (c *Core[E, T]) AcksOf(id string) *Acks {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acks[id]
}
