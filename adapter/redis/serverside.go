package redis

import (
	"bytes"
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
// io.on(event) with a Node or Go server on the other side. *Adapter
// implements it:
//
//	sse := io.Of("/").Adapter().(redis.ServerSideEmitter)
//	sse.OnServerSideEmit(func(e *redis.ServerSideEvent) { ... })
//	err := sse.ServerSideEmit(ctx, "config-changed", cfg)
//
// Arguments travel as JSON (binary values are not supported, as in Node's
// adapter, whose requests are JSON). A server does not receive its own
// events. The @socket.io/redis-emitter and package emitter can send
// server-side events too, without acknowledgements.
type ServerSideEmitter interface {
	// ServerSideEmit sends event with args to the other servers.
	ServerSideEmit(ctx context.Context, event string, args ...any) error
	// ServerSideEmitWithAck sends event and collects one acknowledgement
	// per other server. On timeout it returns the acknowledgements
	// received with an error wrapping adapter.ErrTimeout.
	ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
	// OnServerSideEmit adds a handler of the events other servers send.
	// Handlers run one at a time, in arrival order, off the receiving
	// goroutine.
	OnServerSideEmit(fn func(*ServerSideEvent))
}

// Errors of ServerSideEvent.Ack.
var (
	// ErrNoAck: the sender did not ask for an acknowledgement.
	ErrNoAck = errors.New("adapter/redis: no acknowledgement requested")
	// ErrAckSent: only the first acknowledgement is sent.
	ErrAckSent = errors.New("adapter/redis: acknowledgement already sent")
)

// ServerSideEvent is an event another server sent with ServerSideEmit.
type ServerSideEvent struct {
	// Event is the event name.
	Event string
	// Args are the raw JSON arguments.
	Args []json.RawMessage

	reply cluster.Reply[json.RawMessage]
}

// WantsAck reports whether the sender waits for an acknowledgement.
func (e *ServerSideEvent) WantsAck() bool {
	return e.reply.Wanted()
}

// Ack sends reply (encoded as JSON) as this server's acknowledgement.
func (e *ServerSideEvent) Ack(reply any) error {
	raw, err := marshalJSON(reply)
	if err != nil {
		return fmt.Errorf("adapter/redis: encoding acknowledgement: %w", err)
	}
	return e.reply.Send(raw, ErrNoAck, ErrAckSent)
}

func marshalJSON(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, errors.New("invalid json.RawMessage")
		}
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// serverSideData encodes [event, ...args].
func serverSideData(event string, args []any) (json.RawMessage, error) {
	if sio.IsReservedEvent(event) {
		return nil, fmt.Errorf("adapter/redis: %q is a reserved event name", event)
	}
	all := make([]any, 0, len(args)+1)
	all = append(all, event)
	all = append(all, args...)
	raw, err := marshalJSON(all)
	if err != nil {
		return nil, fmt.Errorf("adapter/redis: encoding server-side event: %w", err)
	}
	return raw, nil
}

// ServerSideEmit implements ServerSideEmitter.
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	data, err := serverSideData(event, args)
	if err != nil {
		return err
	}
	return a.notify(ctx, "serverSideEmit", &wire.Request{Type: wire.ServerSideEmit, UID: a.node.uid, Data: data})
}

// ServerSideEmitWithAck implements ServerSideEmitter.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	data, err := serverSideData(event, args)
	if err != nil {
		return nil, err
	}
	var responses []json.RawMessage // nil until published
	err = a.core.Collect(ctx, "serverSideEmit", 0, func(ctx context.Context, servers int) error {
		req := &request{Type: wire.ServerSideEmit, Want: servers - 1}
		unregister, err := a.startRequest(ctx, &wire.Request{Type: wire.ServerSideEmit, Data: data}, req)
		if err != nil {
			return err
		}
		defer unregister()
		err = a.core.Await(ctx, req)
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

func (a *Adapter) onServerSideEmit(r *wire.Request) {
	event, args, err := sio.SplitArgs(r.Data)
	if err != nil {
		a.node.malformed.Warn(a.log, "adapter/redis: dropping malformed server-side event", "err", err)
		return
	}
	e := &ServerSideEvent{Event: event, Args: args}
	if r.RequestID != "" {
		// Node answers these on the shared response channel, whatever
		// publishOnSpecificResponseChannel says.
		id := r.RequestID
		e.reply.Expect(func(raw json.RawMessage) { a.core.Respond(a.ch.Response, wire.EncodeServerSideAck(id, raw)) })
	}
	a.core.Dispatch(e)
}
