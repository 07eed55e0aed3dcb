// Package cluster is what the Redis adapters (adapter/redis and
// adapter/redisstreams) share in talking to the other servers of a
// cluster: the requests that wait for their responses, the routing of the
// acknowledgements of remote clients, the queue that runs server-side
// event handlers one at a time, the bound and the errors of a cluster
// operation, and the outage reports of Redis commands. Each adapter keeps
// its own wire format, channels and request ids.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-sio/sio/adapter"
)

// Config describes the adapter a Core works for.
type Config struct {
	// Prefix starts the adapter's errors and log messages
	// ("adapter/redis").
	Prefix string
	// ErrClosed is the adapter's ErrClosed.
	ErrClosed error
	// Timeout is the adapter's request timeout: the bound of an operation
	// that sets none, and of the publication of a response.
	Timeout time.Duration
	// Log receives the failures to publish a response (Debug level) and
	// the panics of server-side event handlers.
	Log *slog.Logger
	// Publish publishes payload on channel; Respond uses it.
	Publish func(ctx context.Context, channel string, payload []byte) error
	// ServerCount counts the servers of the cluster, this one included;
	// Collect uses it.
	ServerCount func(ctx context.Context) (int, error)
	// WaitForHandlers makes Close wait for a server-side event handler
	// under way too, not only for the responses being published.
	WaitForHandlers bool
}

// Core is the cluster side of the adapter of one namespace: the requests
// waiting for the responses of other servers (their types are T), the
// broadcasts waiting for remote acknowledgements, and the handlers of
// server-side events (of type E). It is safe for concurrent use.
type Core[E, T any] struct {
	cfg  Config
	life context.Context // canceled by Close
	stop context.CancelFunc

	mu       sync.Mutex
	closed   bool
	requests map[string]*Request[T]
	acks     map[string]*Acks
	handlers []func(E)
	queue    []func() // server-side events waiting for the handlers
	running  bool
	wg       sync.WaitGroup // response publishers (and the handler queue with WaitForHandlers)
}

// New returns the Core of an adapter.
func New[E, T any](cfg Config) *Core[E, T] {
	c := &Core[E, T]{cfg: cfg, requests: map[string]*Request[T]{}, acks: map[string]*Acks{}}
	c.life, c.stop = context.WithCancel(context.Background())
	return c
}

// Closed reports whether Close has been called.
func (c *Core[E, T]) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close fails the requests under way with the adapter's ErrClosed, stops
// routing acknowledgements, drops the server-side events not yet handled
// and cancels the responses being published; then it calls detach and
// waits for the goroutines publishing responses (and, with
// WaitForHandlers, for the handler queue) to end. Only the first call
// does anything.
func (c *Core[E, T]) Close(detach func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, req := range c.requests {
		if !req.finished {
			req.err = c.cfg.ErrClosed
			req.finish()
		}
	}
	clear(c.acks)
	c.queue = nil
	c.mu.Unlock()
	c.stop()
	detach()
	c.wg.Wait()
}

// errRequestTimeout is the cause of an operation context that timed out
// on the adapter's own bound.
var errRequestTimeout = errors.New("request timeout")

// OpContext bounds ctx with d (the request timeout when d <= 0).
func (c *Core[E, T]) OpContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = c.cfg.Timeout
	}
	return context.WithTimeoutCause(ctx, d, errRequestTimeout)
}

// Error wraps the failure of the cluster part of op: a failure that is
// not a timeout, a closing or a cancellation (a Redis error) is reported
// as a timeout, wrapping adapter.ErrTimeout and the cause.
func (c *Core[E, T]) Error(op string, err error) error {
	if errors.Is(err, adapter.ErrTimeout) || errors.Is(err, c.cfg.ErrClosed) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %s: %w", c.cfg.Prefix, op, err)
	}
	return fmt.Errorf("%s: %s: %w: %w", c.cfg.Prefix, op, adapter.ErrTimeout, err)
}

// Respond publishes a response in the background, unless the Core is
// closed; Close cancels it.
func (c *Core[E, T]) Respond(channel string, payload []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.life, c.cfg.Timeout)
		defer cancel()
		if err := c.cfg.Publish(ctx, channel, payload); err != nil {
			c.cfg.Log.Debug(c.cfg.Prefix+": publishing a response", "channel", channel, "err", err)
		}
	}()
}
