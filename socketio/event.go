package socketio

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/parser/sio"
)

// Middleware runs when a client connects to a namespace, before the
// connection handlers. An error refuses the connection: the client gets a
// connect_error with the error's message (and the Data of a
// *ConnectError).
type Middleware func(s *Socket) error

// ConnectError is a middleware error carrying data for the client's
// connect_error (err.data in socket.io-client).
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// EventError wraps an error from an event's handler or middleware, or the
// failure to bind its arguments.
type EventError struct {
	Event string
	Err   error
}

func (e *EventError) Error() string { return fmt.Sprintf("socketio: event %q: %v", e.Event, e.Err) }

func (e *EventError) Unwrap() error { return e.Err }

// Event is an incoming event. Its arguments stay raw JSON until bound.
type Event struct {
	s     *Socket
	name  string
	args  []json.RawMessage
	atts  [][]byte
	bin   bool
	id    uint64
	ack   bool
	acked atomic.Bool
	// argArr holds the elements of the payload of events with up to three
	// arguments (the first element is the name), so that splitting it
	// allocates nothing.
	argArr [4]json.RawMessage
}

func newEvent(s *Socket, p *sio.Packet) (*Event, error) {
	ev := &Event{s: s, atts: p.Attachments, bin: p.Type.IsBinary(), id: p.ID, ack: p.HasID}
	var err error
	ev.name, ev.args, err = sio.SplitArgsTo(ev.argArr[:0], p.Data)
	if err != nil {
		return nil, &EventError{Event: ev.name, Err: err}
	}
	return ev, nil
}

// Name is the event name.
func (e *Event) Name() string { return e.name }

// Socket is the socket the event came from.
func (e *Event) Socket() *Socket { return e.s }

// Args returns the raw JSON of each argument. Binary arguments appear as
// placeholders; use Binary or Bind for them.
func (e *Event) Args() []json.RawMessage { return e.args }

// Binary returns argument i when it is a binary attachment.
func (e *Event) Binary(i int) ([]byte, bool) {
	if !e.bin || i < 0 || i >= len(e.args) {
		return nil, false
	}
	n, ok := sio.IsPlaceholder(e.args[i])
	if !ok || n >= len(e.atts) {
		return nil, false
	}
	return e.atts[n], true
}

// Bind decodes the arguments into dst, in order: each dst is a pointer,
// decoded with encoding/json, except that a binary argument goes to a
// *[]byte directly, and binary values nested in an argument decode into
// []byte fields (and stay []byte values in an *any). Fewer arguments than
// dst is an error; extra arguments are ignored. Errors wrap
// ErrBadArguments.
func (e *Event) Bind(dst ...any) error { return bindArgs(e.args, e.atts, e.bin, dst) }

func bindArgs(args []json.RawMessage, atts [][]byte, bin bool, dst []any) error {
	if len(args) < len(dst) {
		return fmt.Errorf("%w: want %d arguments, got %d", ErrBadArguments, len(dst), len(args))
	}
	for i, d := range dst {
		if d == nil {
			continue
		}
		raw := args[i]
		if p, ok := d.(*json.RawMessage); ok && !bin {
			*p = raw // already validated JSON; decoded packets own their bytes
			continue
		}
		if bin {
			if n, ok := sio.IsPlaceholder(raw); ok && n < len(atts) {
				switch p := d.(type) {
				case *[]byte:
					*p = atts[n]
					continue
				case *any:
					*p = atts[n]
					continue
				}
			}
			// Nested binary: rebuild the value with []byte in place. An
			// *any takes it as is, so that relaying it (Emit, Ack) sends
			// binary again; other types go through encoding/json, which
			// writes []byte as base64 that []byte fields read back.
			v, err := sio.Reconstruct(raw, atts)
			if err != nil {
				return fmt.Errorf("%w: argument %d: %v", ErrBadArguments, i, err)
			}
			if p, ok := d.(*any); ok {
				*p = v
				continue
			}
			if raw, err = json.Marshal(v); err != nil {
				return fmt.Errorf("%w: argument %d: %v", ErrBadArguments, i, err)
			}
		}
		if err := json.Unmarshal(raw, d); err != nil {
			return fmt.Errorf("%w: argument %d: %v", ErrBadArguments, i, err)
		}
	}
	return nil
}

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.ack }

// Ack sends the acknowledgement with args (encoded as Emit encodes).
func (e *Event) Ack(args ...any) error {
	if !e.ack {
		return ErrNoAck
	}
	if !e.acked.CompareAndSwap(false, true) {
		return ErrAckSent
	}
	c := e.s.client
	var arr [1]*engineio.Message
	msgs, err := encodeArgsPacket(arr[:0], c.proto, &sio.Packet{Type: sio.Ack, Namespace: e.s.ns.name, ID: e.id, HasID: true}, "", args)
	if err != nil {
		return fmt.Errorf("socketio: encoding ack: %w", err)
	}
	if err := c.conn.Send(msgs...); err != nil {
		return ErrDisconnected
	}
	return nil
}

// Ack acknowledges an event; see Event.Ack.
type Ack func(args ...any) error

// On registers a handler whose first argument is decoded into T. When the
// arguments do not decode, the handler is not called and the error goes
// to Config.OnError.
func On[T any](s *Socket, event string, fn func(T)) {
	s.On(event, func(ev *Event) error {
		var v T
		if err := ev.Bind(&v); err != nil {
			return err
		}
		fn(v)
		return nil
	})
}

// OnAck is On for events the client emits with an acknowledgement: the
// handler gets the Ack to call (calling it when the client asked for none
// returns ErrNoAck).
func OnAck[T any](s *Socket, event string, fn func(T, Ack)) {
	s.On(event, func(ev *Event) error {
		var v T
		if err := ev.Bind(&v); err != nil {
			return err
		}
		fn(v, ev.Ack)
		return nil
	})
}

// On2 registers a handler with two decoded arguments.
func On2[A, B any](s *Socket, event string, fn func(A, B)) {
	s.On(event, func(ev *Event) error {
		var a A
		var b B
		if err := ev.Bind(&a, &b); err != nil {
			return err
		}
		fn(a, b)
		return nil
	})
}

// AckReply is a client's acknowledgement.
type AckReply struct {
	args []json.RawMessage
	atts [][]byte
	bin  bool
}

func newAckReply(p *sio.Packet) (*AckReply, error) {
	_, args, err := p.Args()
	if err != nil {
		return nil, err
	}
	return &AckReply{args: args, atts: p.Attachments, bin: p.Type.IsBinary()}, nil
}

// Args returns the raw JSON of each acknowledgement argument.
func (r *AckReply) Args() []json.RawMessage { return r.args }

// Bind decodes the acknowledgement arguments, as Event.Bind does.
func (r *AckReply) Bind(dst ...any) error { return bindArgs(r.args, r.atts, r.bin, dst) }

// notifyOutgoing calls the OnAnyOutgoing handlers for a broadcast packet.
func (s *Socket) notifyOutgoing(p *sio.Packet) {
	s.mu.Lock()
	outgoing := s.anyOutgoing
	s.mu.Unlock()
	if len(outgoing) == 0 {
		return
	}
	event, raws, err := p.Args()
	if err != nil {
		return
	}
	args := make([]any, len(raws))
	for i, raw := range raws {
		if p.Type.IsBinary() {
			args[i], err = sio.Reconstruct(raw, p.Attachments)
		} else {
			err = json.Unmarshal(raw, &args[i])
		}
		if err != nil {
			return
		}
	}
	for _, fn := range outgoing {
		s.safeCall(func() { fn(event, args) })
	}
}
