package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-sio/sio/adapter"
)

// Request is a request waiting for the responses of other servers.
type Request[T any] struct {
	Type      T                    // what was asked
	Want      int                  // the count of responses that completes it
	Got       int                  // responses counted
	Sockets   []adapter.SocketInfo // fetchSockets
	Rooms     map[string]struct{}  // allRooms
	Responses []json.RawMessage    // serverSideEmit with acknowledgements

	done     chan struct{}
	finished bool
	err      error // set when the adapter closed first
}

// finish completes req. Called with mu held.
func (req *Request[T]) finish() {
	if !req.finished {
		req.finished = true
		close(req.done)
	}
}

// Start registers req under id and publishes the request with publish;
// the returned function unregisters req (after which it gets no more
// responses). It fails with the adapter's ErrClosed once closed, and with
// the error of publish.
func (c *Core[E, T]) Start(ctx context.Context, id string, req *Request[T], publish func(context.Context) error) (unregister func(), err error) {
	req.done = make(chan struct{})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.cfg.ErrClosed
	}
	c.requests[id] = req
	c.mu.Unlock()
	unregister = func() {
		c.mu.Lock()
		delete(c.requests, id)
		c.mu.Unlock()
	}
	if err := publish(ctx); err != nil {
		unregister()
		return nil, err
	}
	return unregister, nil
}

// Await waits for req to complete. The error wraps adapter.ErrTimeout when
// ctx expired; it is the adapter's ErrClosed when the adapter closed
// first.
func (c *Core[E, T]) Await(ctx context.Context, req *Request[T]) error {
	select {
	case <-req.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return req.err
	case <-ctx.Done():
		cause := context.Cause(ctx)
		if errors.Is(cause, errRequestTimeout) || errors.Is(cause, context.DeadlineExceeded) {
			c.mu.Lock()
			got, want := req.Got, req.Want
			c.mu.Unlock()
			return fmt.Errorf("%w: %d of %d responses", adapter.ErrTimeout, got, want)
		}
		return ctx.Err()
	}
}

// Ask is Start, then Await, then unregistering req.
func (c *Core[E, T]) Ask(ctx context.Context, id string, req *Request[T], publish func(context.Context) error) error {
	unregister, err := c.Start(ctx, id, req, publish)
	if err != nil {
		return err
	}
	defer unregister()
	return c.Await(ctx, req)
}

// Collect runs the cluster part of op, bounded by d (the request timeout
// when d <= 0): it counts the servers and, unless this one is alone,
// calls ask with their number; ask registers a request, publishes it and
// waits for it. The errors of counting and asking are wrapped as Error
// does.
func (c *Core[E, T]) Collect(ctx context.Context, op string, d time.Duration, ask func(ctx context.Context, servers int) error) error {
	ctx, cancel := c.OpContext(ctx, d)
	defer cancel()
	n, err := c.cfg.ServerCount(ctx)
	if err != nil {
		return c.Error(op, err)
	}
	if n <= 1 {
		return nil
	}
	if err := ask(ctx, n); err != nil {
		return c.Error(op, err)
	}
	return nil
}

// Responses returns a copy of the responses req has got so far.
func (c *Core[E, T]) Responses(req *Request[T]) []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]json.RawMessage{}, req.Responses...)
}

// Update lets fn take a response to request id, if it is waiting. fn
// returns whether it counted the response; the request completes when a
// counted response brings Got to Want. fn runs with the Core locked.
func (c *Core[E, T]) Update(id string, fn func(req *Request[T]) (counted bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req := c.requests[id]
	if req == nil || req.finished {
		return
	}
	if fn(req) && req.Got >= req.Want {
		req.finish()
	}
}

// Own reports whether id is a request or a broadcast with
// acknowledgements of this adapter.
func (c *Core[E, T]) Own(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, own := c.requests[id]
	if !own {
		_, own = c.acks[id]
	}
	return own
}
