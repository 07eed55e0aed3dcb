package cluster

import (
	"runtime/debug"
	"sync"
)

// OnEvent adds a handler of server-side events.
func (c *Core[E, T]) OnEvent(fn func(E)) {
	c.mu.Lock()
	c.handlers = append(c.handlers, fn)
	c.mu.Unlock()
}

// Dispatch hands e to the handlers added so far, after the events
// dispatched before it, on a goroutine that exists while there is work.
func (c *Core[E, T]) Dispatch(e E) {
	c.mu.Lock()
	handlers := append([]func(E){}, c.handlers...)
	c.mu.Unlock()
	c.enqueue(func() {
		for _, h := range handlers {
			h(e)
		}
	})
}

// enqueue runs f after the functions queued before it.
func (c *Core[E, T]) enqueue(f func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, f)
	if c.running {
		c.mu.Unlock()
		return
	}
	c.running = true
	if c.cfg.WaitForHandlers {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	go c.drain()
}

func (c *Core[E, T]) drain() {
	if c.cfg.WaitForHandlers {
		defer c.wg.Done()
	}
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.queue = nil
			c.running = false
			c.mu.Unlock()
			return
		}
		f := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.cfg.Log.Error(c.cfg.Prefix+": panic in a server-side event handler", "panic", r, "stack", string(debug.Stack()))
				}
			}()
			f()
		}()
	}
}

// Reply is the acknowledgement of a server-side event, of type V: sent
// once at most.
type Reply[V any] struct {
	mu     sync.Mutex
	send   func(V)
	wanted bool
}

// Expect records that the sender waits for an acknowledgement, which
// send delivers. Call it before the event reaches the handlers.
func (r *Reply[V]) Expect(send func(V)) {
	r.wanted = true
	r.send = send
}

// Wanted reports whether the sender waits for an acknowledgement.
func (r *Reply[V]) Wanted() bool { return r.wanted }

// Send delivers v the first time; later it returns sent, and when no
// acknowledgement was asked for, none.
func (r *Reply[V]) Send(v V, none, sent error) error {
	r.mu.Lock()
	fn := r.send
	r.send = nil
	r.mu.Unlock()
	if fn == nil {
		if r.wanted {
			return sent
		}
		return none
	}
	fn(v)
	return nil
}
