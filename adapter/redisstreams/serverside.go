package redisstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-sio/sio/adapter/internal/cluster"
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

	reply cluster.Reply[*sio.Packet]
}

// WantsAck reports whether the sender waits for an acknowledgement.
func (e *ServerSideEvent) WantsAck() bool { return e.reply.Wanted() }

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
	return e.reply.Send(p, ErrNoAck, ErrAckSent)
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
	if a.core.Closed() {
		return ErrClosed
	}
	m := a.message(wire.ClusterServerSideEmit)
	m.Packet = p
	if err := a.publish(ctx, a.public, m); err != nil {
		return a.core.Error("serverSideEmit", err)
	}
	return nil
}

// ServerSideEmitWithAck implements ServerSideEmitter.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	p, err := eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	var responses []json.RawMessage // nil until asked
	err = a.core.Collect(ctx, "serverSideEmit", 0, func(ctx context.Context, servers int) error {
		m := a.message(wire.ClusterServerSideEmit)
		m.Packet = p
		req := &request{Type: wire.ClusterServerSideEmit, Want: servers - 1}
		err := a.ask(ctx, m, req)
		responses = a.core.Responses(req)
		return err
	})
	if err != nil {
		return responses, err
	}
	if responses == nil {
		responses = []json.RawMessage{} // this server is alone
	}
	return responses, nil
}

// OnServerSideEmit implements ServerSideEmitter.
func (a *Adapter) OnServerSideEmit(fn func(*ServerSideEvent)) {
	a.core.OnEvent(fn)
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
		e.reply.Expect(func(p *sio.Packet) {
			r := a.message(wire.ClusterServerSideEmitResponse)
			r.RequestID, r.Value = id, p
			a.respond(uid, r)
		})
	}
	a.core.Dispatch(e)
}
