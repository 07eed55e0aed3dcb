package redisstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/parser/sio"
)

// ServerSideEmitter sends events to the other servers of the cluster, not
// to clients: the counterpart of Node's io.serverSideEmit() and
// io.on(event), with Node or Go servers on the other side. *Adapter
// implements it:
//
//	sse := io.Of("/").Adapter().(redisstreams.ServerSideEmitter)
//	sse.OnServerSideEmit(func(e *redisstreams.ServerSideEvent) { ... })
//	err := sse.ServerSideEmit(ctx, "config-changed", cfg)
//
// Server-side events travel on pub/sub: a server that is down when one is
// sent never gets it. A server does not receive its own events.
type ServerSideEmitter interface {
	// ServerSideEmit sends event with args to the other servers. Binary
	// arguments ([]byte) are allowed.
	ServerSideEmit(ctx context.Context, event string, args ...any) error
	// ServerSideEmitWithAck sends event and collects one acknowledgement
	// per other server. On timeout (RequestTimeout, or ctx's deadline) it
	// returns the acknowledgements received with an error wrapping
	// adapter.ErrTimeout.
	ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
	// OnServerSideEmit adds a handler of the events other servers send.
	// Handlers run one at a time, in arrival order, off the receiving
	// goroutine.
	OnServerSideEmit(fn func(*ServerSideEvent))
}

// Errors of ServerSideEvent.Ack.
var (
	// ErrNoAck: the sender did not ask for an acknowledgement.
	ErrNoAck = errors.New("adapter/redisstreams: no acknowledgement requested")
	// ErrAckSent: only the first acknowledgement is sent.
	ErrAckSent = errors.New("adapter/redisstreams: acknowledgement already sent")
)

// ServerSideEvent is an event another server sent with ServerSideEmit.
type ServerSideEvent struct {
	// Event is the event name.
	Event string
	// Args are the arguments as JSON. Binary values are attachment
	// placeholders {"_placeholder":true,"num":N} indexing Attachments.
	Args        []json.RawMessage
	Attachments [][]byte

	mu        sync.Mutex
	reply     func(*sio.Packet)
	wantedAck bool
}

// WantsAck reports whether the sender waits for an acknowledgement.
func (e *ServerSideEvent) WantsAck() bool { return e.wantedAck }

// Ack sends reply as this server's acknowledgement (a []byte, or binary
// values inside it, stay binary).
func (e *ServerSideEvent) Ack(reply any) error {
	data, atts, err := sio.EncodeArgs("", []any{reply})
	if err != nil {
		return fmt.Errorf("adapter/redisstreams: encoding acknowledgement: %w", err)
	}
	p := &sio.Packet{Type: sio.Ack, Data: data}
	if len(atts) > 0 {
		p.Type, p.Attachments = sio.BinaryAck, atts
	}
	e.mu.Lock()
	fn := e.reply
	e.reply = nil
	e.mu.Unlock()
	if fn == nil {
		if e.wantedAck {
			return ErrAckSent
		}
		return ErrNoAck
	}
	fn(p)
	return nil
}

// eventPacket encodes [event, ...args].
func eventPacket(event string, args []any) (*sio.Packet, error) {
	if sio.IsReservedEvent(event) {
		return nil, fmt.Errorf("adapter/redisstreams: %q is a reserved event name", event)
	}
	data, atts, err := sio.EncodeArgs(event, args)
	if err != nil {
		return nil, fmt.Errorf("adapter/redisstreams: encoding server-side event: %w", err)
	}
	p := &sio.Packet{Type: sio.Event, Data: data}
	if len(atts) > 0 {
		p.Type, p.Attachments = sio.BinaryEvent, atts
	}
	return p, nil
}

// ServerSideEmit implements ServerSideEmitter.
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	p, err := eventPacket(event, args)
	if err != nil {
		return err
	}
	if a.isClosed() {
		return ErrClosed
	}
	m := a.message(wire.ClusterServerSideEmit)
	m.Packet = p
	if err := a.publish(ctx, a.public, m); err != nil {
		return clusterError("serverSideEmit", err)
	}
	return nil
}

// ServerSideEmitWithAck implements ServerSideEmitter.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	p, err := eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.opContext(ctx, 0)
	defer cancel()
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, clusterError("serverSideEmit", err)
	}
	if n <= 1 {
		return []json.RawMessage{}, nil
	}
	m := a.message(wire.ClusterServerSideEmit)
	m.Packet = p
	req := &request{typ: wire.ClusterServerSideEmit, expected: n - 1}
	err = a.ask(ctx, m, req)
	a.mu.Lock()
	responses := append([]json.RawMessage{}, req.responses...)
	a.mu.Unlock()
	if err != nil {
		return responses, clusterError("serverSideEmit", err)
	}
	return responses, nil
}

// OnServerSideEmit implements ServerSideEmitter.
func (a *Adapter) OnServerSideEmit(fn func(*ServerSideEvent)) {
	a.mu.Lock()
	a.handlers = append(a.handlers, fn)
	a.mu.Unlock()
}

func (a *Adapter) onServerSideEmit(m *wire.ClusterMessage) {
	event, args, err := sio.SplitArgs(m.Packet.Data)
	if err != nil {
		a.node.faults.Warn(a.log, "adapter/redisstreams: dropping malformed server-side event", "err", err)
		return
	}
	e := &ServerSideEvent{Event: event, Args: args, Attachments: m.Packet.Attachments}
	if m.RequestID != "" {
		uid, id := m.UID, m.RequestID
		e.wantedAck = true
		e.reply = func(p *sio.Packet) {
			r := a.message(wire.ClusterServerSideEmitResponse)
			r.RequestID, r.Value = id, p
			a.respond(uid, r)
		}
	}
	a.mu.Lock()
	handlers := append([]func(*ServerSideEvent){}, a.handlers...)
	a.mu.Unlock()
	a.enqueue(func() {
		for _, h := range handlers {
			h(e)
		}
	})
}

// enqueue runs f after the handlers queued before it, on a goroutine that
// exists while there is work.
func (a *Adapter) enqueue(f func()) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.queue = append(a.queue, f)
	if a.running {
		a.mu.Unlock()
		return
	}
	a.running = true
	a.wg.Add(1)
	a.mu.Unlock()
	go a.drain()
}

func (a *Adapter) drain() {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		if len(a.queue) == 0 || a.closed {
			a.queue = nil
			a.running = false
			a.mu.Unlock()
			return
		}
		f := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					a.log.Error("adapter/redisstreams: panic in a server-side event handler", "panic", r, "stack", string(debug.Stack()))
				}
			}()
			f()
		}()
	}
}
