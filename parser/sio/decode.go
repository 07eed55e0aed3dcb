package sio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// DefaultMaxAttachments is the attachment limit used when
// Decoder.MaxAttachments is not positive (the reference parser's default).
const DefaultMaxAttachments = 10

// maxPrefixDigits bounds the digits of the attachment count and of the ack
// id; longer runs are rejected before anything else is looked at.
const maxPrefixDigits = 20

// Decoder holds the reassembly state of one connection: the connection owns
// it, and it is not safe for concurrent use. The zero value decodes protocol
// 5 with the default attachment limit.
//
// Decoded packets do not alias the caller's buffers (Data, Namespace,
// Query and each attachment are copies) unless Retain is set.
//
// After any error the Decoder drops what it was reassembling (as if Reset
// were called); the reference behaviour, and the expected one, is to close
// the connection.
type Decoder struct {
	// Protocol selects V4 or V5; any other value means V5.
	Protocol Protocol
	// MaxAttachments is the largest attachment count accepted in a
	// BINARY_EVENT/BINARY_ACK header; 0 (or less) means DefaultMaxAttachments.
	MaxAttachments int
	// Retain lets decoded packets alias the buffers given to DecodeText
	// and DecodeBinary (Data and attachments) instead of copying them:
	// set it when the caller hands those buffers over and never reuses
	// them.
	Retain bool

	pending *Packet // binary packet waiting for attachments
	want    int     // attachments declared by pending
}

func (d *Decoder) protocol() Protocol {
	if d.Protocol == V4 {
		return V4
	}
	return V5
}

func (d *Decoder) maxAttachments() int {
	if d.MaxAttachments > 0 {
		return d.MaxAttachments
	}
	return DefaultMaxAttachments
}

// Reset drops any partially received binary packet.
func (d *Decoder) Reset() {
	d.pending = nil
	d.want = 0
}

// Awaiting returns how many attachments the decoder still waits for (0 when
// it is not reassembling a packet).
func (d *Decoder) Awaiting() int {
	if d.pending == nil {
		return 0
	}
	return d.want - len(d.pending.Attachments)
}

// DecodeText decodes a text Engine.IO message. It returns (pkt, true, nil)
// for a complete packet, (nil, false, nil) when the packet is a
// BINARY_EVENT/BINARY_ACK that now waits for its attachments, and an error
// for anything malformed, including text arriving while attachments are
// awaited (ErrUnexpectedText).
//
// The declared attachment count is checked against MaxAttachments, and every
// placeholder of a binary packet is validated, before anything is buffered.
func (d *Decoder) DecodeText(data []byte) (*Packet, bool, error) {
	if d.pending != nil {
		n := d.Awaiting()
		d.Reset()
		return nil, false, fmt.Errorf("%w: %d attachment(s) still expected", ErrUnexpectedText, n)
	}
	p, n, err := decodeText(d.protocol(), d.maxAttachments(), data, d.Retain)
	if err != nil {
		return nil, false, err
	}
	if n > 0 {
		p.Attachments = make([][]byte, 0, min(n, 16))
		d.pending, d.want = p, n
		return nil, false, nil
	}
	return p, true, nil
}

// DecodeBinary feeds one binary attachment. It returns (pkt, true, nil) when
// the last declared attachment arrives, (nil, false, nil) while more are
// expected, and ErrUnexpectedBinary when no attachment is awaited.
func (d *Decoder) DecodeBinary(data []byte) (*Packet, bool, error) {
	if d.pending == nil {
		return nil, false, ErrUnexpectedBinary
	}
	p := d.pending
	if !d.Retain {
		data = append(make([]byte, 0, len(data)), data...)
	}
	p.Attachments = append(p.Attachments, data)
	if len(p.Attachments) < d.want {
		return nil, false, nil
	}
	d.Reset()
	return p, true, nil
}

// DecodePacket decodes one complete text packet with no attachment to
// follow: a BINARY_* packet declaring attachments is an error
// (ErrIllegalAttachments). It is a convenience for tests and tools.
func DecodePacket(proto Protocol, data []byte) (*Packet, error) {
	if proto != V4 {
		proto = V5
	}
	p, n, err := decodeText(proto, DefaultMaxAttachments, data, false)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, fmt.Errorf("%w: %d attachment(s) declared", ErrIllegalAttachments, n)
	}
	return p, nil
}

// decodeText parses one text packet. It returns the packet and the declared
// attachment count.
//
// Wire format: <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
func decodeText(proto Protocol, maxAtt int, data []byte, retain bool) (*Packet, int, error) {
	if len(data) == 0 {
		return nil, 0, fmt.Errorf("%w: empty packet", ErrInvalidPacket)
	}
	c := data[0]
	if c < '0' || c > '0'+byte(BinaryAck) {
		return nil, 0, fmt.Errorf("%w: unknown packet type %q", ErrInvalidPacket, c)
	}
	t := PacketType(c - '0')
	i := 1

	// Attachment count, for binary types: digits then '-'.
	n := 0
	if t.IsBinary() {
		start := i
		var v uint64
		over := false
		limit := uint64(maxAtt)
		for i < len(data) && isDigit(data[i]) {
			if i-start >= maxPrefixDigits {
				return nil, 0, fmt.Errorf("%w: attachment count too long", ErrIllegalAttachments)
			}
			if digit := uint64(data[i] - '0'); !over {
				if digit > limit || v > (limit-digit)/10 {
					over = true
				} else {
					v = v*10 + digit
				}
			}
			i++
		}
		if i == start || i >= len(data) || data[i] != '-' {
			return nil, 0, fmt.Errorf("%w: malformed attachment count", ErrIllegalAttachments)
		}
		if over {
			return nil, 0, fmt.Errorf("%w: more than %d", ErrTooManyAttachments, maxAtt)
		}
		n = int(v)
		i++
	}

	p := &Packet{Type: t, Namespace: "/"}

	// Namespace: starts with '/', ends at ',' or at the end of the packet.
	if i < len(data) && data[i] == '/' {
		rest := data[i:]
		var nsp []byte
		if j := bytes.IndexByte(rest, ','); j >= 0 {
			nsp, i = rest[:j], i+j+1
		} else {
			nsp, i = rest, len(data)
		}
		if proto == V4 && t == Connect {
			if q := bytes.IndexByte(nsp, '?'); q >= 0 {
				p.Query = string(nsp[q+1:])
				nsp = nsp[:q]
			}
		}
		if len(nsp) > 1 {
			p.Namespace = string(nsp)
		}
	}

	// Ack id: a run of decimal digits.
	if i < len(data) && isDigit(data[i]) {
		start := i
		var id uint64
		for i < len(data) && isDigit(data[i]) {
			if i-start >= maxPrefixDigits {
				return nil, 0, fmt.Errorf("%w: ack id too long", ErrInvalidPacket)
			}
			digit := uint64(data[i] - '0')
			if id > (math.MaxUint64-digit)/10 {
				return nil, 0, fmt.Errorf("%w: ack id overflows uint64", ErrInvalidPacket)
			}
			id = id*10 + digit
			i++
		}
		p.ID, p.HasID = id, true
	}
	switch t {
	case Connect, Disconnect, ConnectError:
		if p.HasID {
			return nil, 0, fmt.Errorf("%w: ack id on a %v packet", ErrInvalidPacket, t)
		}
	case Ack, BinaryAck:
		if !p.HasID {
			return nil, 0, fmt.Errorf("%w: %v without ack id", ErrInvalidPacket, t)
		}
	}

	payload, err := checkPayload(proto, t, data[i:])
	if err != nil {
		return nil, 0, err
	}
	if t.IsBinary() {
		if n > len(payload)/minPlaceholderLen {
			return nil, 0, fmt.Errorf("%w: %d attachments declared, payload too short to reference them", ErrIllegalAttachments, n)
		}
		if err := checkPlaceholders(payload, n); err != nil {
			return nil, 0, err
		}
	}
	switch {
	case payload == nil:
	case retain:
		p.Data = payload
	default:
		p.Data = append(make(json.RawMessage, 0, len(payload)), payload...)
	}
	return p, n, nil
}

// checkPayload validates the payload of a packet of type t and returns it
// without surrounding whitespace (nil when absent).
func checkPayload(proto Protocol, t PacketType, b []byte) ([]byte, error) {
	if len(b) == 0 {
		switch t {
		case Connect, Disconnect:
			return nil, nil
		case ConnectError:
			if proto == V4 {
				// A socket.io 2.x server may send ERROR without data.
				return nil, nil
			}
		}
		return nil, fmt.Errorf("%w: %v requires a payload", ErrInvalidPayload, t)
	}
	if t == Disconnect {
		return nil, fmt.Errorf("%w: DISCONNECT carries no payload", ErrInvalidPayload)
	}
	b = trimSpace(b)
	switch t {
	case Event, BinaryEvent, Ack, BinaryAck:
		if len(b) > 0 && b[0] == '[' {
			// Validate the array and check its shape in one pass.
			first, ok := scanArray(b, nil)
			if !ok {
				return nil, fmt.Errorf("%w: malformed JSON", ErrInvalidPayload)
			}
			if t == Event || t == BinaryEvent {
				if err := checkEventName(t, first); err != nil {
					return nil, err
				}
			}
			return b, nil
		}
	}
	if !validJSON(b) {
		return nil, fmt.Errorf("%w: malformed JSON", ErrInvalidPayload)
	}
	switch t {
	case Connect:
		if b[0] != '{' {
			return nil, fmt.Errorf("%w: CONNECT payload must be an object", ErrInvalidPayload)
		}
	case ConnectError:
		if b[0] != '{' && b[0] != '"' {
			return nil, fmt.Errorf("%w: %v payload must be an object or a string", ErrInvalidPayload, t)
		}
	default: // EVENT or ACK, not an array
		return nil, fmt.Errorf("%w: %v payload must be an array", ErrInvalidPayload, t)
	}
	return b, nil
}

// checkEventName checks the first element of a valid EVENT array: it must
// exist and be a string that is not a reserved event name, or a number.
func checkEventName(t PacketType, first []byte) error {
	switch {
	case len(first) == 0:
		return fmt.Errorf("%w: %v payload must not be empty", ErrInvalidPayload, t)
	case first[0] == '"':
		if name, ok := isReservedLiteral(first); ok {
			return fmt.Errorf("%w: %w %q", ErrInvalidPayload, ErrReservedEvent, name)
		}
	case first[0] == '-' || isDigit(first[0]):
		// numeric event names are accepted by the reference parser
	default:
		return fmt.Errorf("%w: event name must be a string or a number", ErrInvalidPayload)
	}
	return nil
}
