// Package wire encodes and decodes the messages of the classic Redis
// protocol of Socket.IO, the one of Node's @socket.io/redis-adapter 8.x
// (createAdapter) and @socket.io/redis-emitter 5.x, so that Go and Node
// nodes and emitters share one cluster. Package adapter/redis and package
// emitter are built on it; applications rarely need it directly. It also
// holds the messages of socket.io-adapter's cluster protocol, the one of
// @socket.io/redis-streams-adapter, used by package adapter/redisstreams
// (ClusterMessage, stream entries and stored sessions).
//
// Channels (key defaults to "socket.io", nsp is a namespace name):
//
//	<key>#<nsp>#           broadcasts (every node PSUBSCRIBEs <key>#<nsp>#*)
//	<key>#<nsp>#<room>#    broadcasts to exactly one room
//	<key>-request#<nsp>#   requests between nodes
//	<key>-response#<nsp>#  responses (or <key>-response#<nsp>#<uid># with
//	                       publishOnSpecificResponseChannel)
//
// A broadcast is the msgpack array [uid, packet, opts]; the packet is the
// JavaScript object {type: 2, data: [event, ...args], nsp} with binary
// arguments as msgpack bin, opts is {rooms: [...], except: [...], flags:
// {...}}. Requests and responses are JSON objects, except the broadcast
// with acknowledgements (type 7) and its acknowledgements (type 9), which
// are msgpack maps; a receiver tells them apart by the first byte ('{' is
// JSON).
//
// msgpack is written as notepack.io writes it: strings as str, binary as
// bin, integer-valued numbers in the smallest integer format, other
// numbers as float64, objects as maps in key order. Packet data is kept
// as JSON text on the Go side (sio.Packet), with binary values as
// attachments behind {"_placeholder":true,"num":N} objects; the codecs
// here convert between that form and msgpack in both directions.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// RequestType is the type of a request or response (the numbering of the
// classic adapter, not that of socket.io-adapter's ClusterAdapter).
type RequestType int

// Request and response types.
const (
	Sockets              RequestType = 0 // legacy: socket ids in rooms
	AllRooms             RequestType = 1
	RemoteJoin           RequestType = 2
	RemoteLeave          RequestType = 3
	RemoteDisconnect     RequestType = 4
	RemoteFetch          RequestType = 5
	ServerSideEmit       RequestType = 6
	BroadcastWithAck     RequestType = 7
	BroadcastClientCount RequestType = 8
	BroadcastAck         RequestType = 9
)

// EmitterUID is the uid the emitters publish with.
const EmitterUID = "emitter"

// DefaultKey is the default channel prefix.
const DefaultKey = "socket.io"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wire: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------------------
// Channels

// Channels are the channel names of one namespace.
type Channels struct {
	Broadcast string // <key>#<nsp>#
	Request   string // <key>-request#<nsp>#
	Response  string // <key>-response#<nsp>#
}

// NewChannels returns the channels of namespace nsp under key ("" means
// DefaultKey).
func NewChannels(key, nsp string) Channels {
	if key == "" {
		key = DefaultKey
	}
	return Channels{
		Broadcast: key + "#" + nsp + "#",
		Request:   key + "-request#" + nsp + "#",
		Response:  key + "-response#" + nsp + "#",
	}
}

// Pattern is the pattern every node subscribes to for broadcasts. It also
// matches the broadcast channel itself.
func (c Channels) Pattern() string { return c.Broadcast + "*" }

// Room is the channel of broadcasts to room alone.
func (c Channels) Room(room string) string { return c.Broadcast + room + "#" }

// SpecificResponse is the response channel of the node uid.
func (c Channels) SpecificResponse(uid string) string { return c.Response + uid + "#" }

// ForRooms is where a broadcast to rooms is published: the room channel
// when there is exactly one room, the broadcast channel otherwise.
func (c Channels) ForRooms(rooms []string) string {
	if len(rooms) == 1 {
		return c.Room(rooms[0])
	}
	return c.Broadcast
}

// RoomOf parses a channel received through the pattern: ok is false when
// it is not a broadcast channel of this namespace; room is "" for the
// namespace-wide channel.
func (c Channels) RoomOf(channel string) (room string, ok bool) {
	rest, ok := strings.CutPrefix(channel, c.Broadcast)
	if !ok {
		return "", false
	}
	if rest == "" {
		return "", true
	}
	return rest[:len(rest)-1], true
}

// ---------------------------------------------------------------------------
// Options

// Flags are the broadcast flags as they travel. Only the flags that are set
// are written.
type Flags struct {
	Volatile bool
	// Compress is nil when unset, which means compression is allowed.
	Compress *bool
	// Timeout of a broadcast with acknowledgements, written in
	// milliseconds when positive.
	Timeout time.Duration
}

// Opts select the recipients of a broadcast or request.
type Opts struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// OptsOf converts adapter options: rooms and except de-duplicated (they
// are sets in JavaScript), the flag Compress written only when false (its
// default being true), Local never written.
func OptsOf(o adapter.Options) Opts {
	out := Opts{Rooms: dedup(o.Rooms), Except: dedup(o.Except), Flags: Flags{Volatile: o.Flags.Volatile, Timeout: o.Flags.Timeout}}
	if !o.Flags.Compress {
		f := false
		out.Flags.Compress = &f
	}
	return out
}

// Adapter converts to adapter options.
func (o Opts) Adapter() adapter.Options {
	f := adapter.Flags{Volatile: o.Flags.Volatile, Compress: true, Timeout: o.Flags.Timeout}
	if o.Flags.Compress != nil {
		f.Compress = *o.Flags.Compress
	}
	return adapter.Options{Rooms: o.Rooms, Except: o.Except, Flags: f}
}

// Dedup returns s without its duplicates, first occurrences in order.
func Dedup(s []string) []string { return dedup(s) }

func dedup(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := make(map[string]struct{}, len(s))
	out := make([]string, 0, len(s))
	for _, r := range s {
		if _, dup := seen[r]; !dup {
			seen[r] = struct{}{}
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// msgpack writing helpers

type mpWriter struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	err error
}

func newMPWriter() *mpWriter {
	w := &mpWriter{}
	w.enc = msgpack.GetEncoder()
	w.enc.Reset(&w.buf)
	return w
}

func (w *mpWriter) done() ([]byte, error) {
	msgpack.PutEncoder(w.enc)
	w.enc = nil
	if w.err != nil {
		return nil, w.err
	}
	return w.buf.Bytes(), nil
}

func (w *mpWriter) do(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

func (w *mpWriter) str(s string)   { w.do(w.enc.EncodeString(s)) }
func (w *mpWriter) int(i int64)    { w.do(w.enc.EncodeInt(i)) }
func (w *mpWriter) bool(b bool)    { w.do(w.enc.EncodeBool(b)) }
func (w *mpWriter) mapLen(n int)   { w.do(w.enc.EncodeMapLen(n)) }
func (w *mpWriter) arrayLen(n int) { w.do(w.enc.EncodeArrayLen(n)) }
func (w *mpWriter) strs(s []string) {
	w.arrayLen(len(s))
	for _, r := range s {
		w.str(r)
	}
}

// packet writes {type: 2, data: [...], nsp} (socket.io's broadcast packet
// object: the type is EVENT even when the data holds binary).
func (w *mpWriter) packet(p *sio.Packet, nsp string) {
	if p == nil {
		w.do(errors.New("wire: nil packet"))
		return
	}
	if _, _, err := sio.SplitArgs(p.Data); err != nil {
		w.do(fmt.Errorf("wire: packet data: %w", err))
		return
	}
	w.mapLen(3)
	w.str("type")
	w.int(int64(sio.Event))
	w.str("data")
	w.json(p.Data, attachmentsOf(p))
	w.str("nsp")
	w.str(nsp)
}

// json writes a JSON value (placeholders resolved against atts when
// non-nil).
func (w *mpWriter) json(raw []byte, atts [][]byte) {
	if w.err == nil {
		w.do(encodeJSON(w.enc, raw, atts))
	}
}

// attachmentsOf is what placeholders of p refer to: nil unless p is a
// binary packet.
func attachmentsOf(p *sio.Packet) [][]byte {
	if !p.Type.IsBinary() {
		return nil
	}
	if p.Attachments == nil {
		return [][]byte{}
	}
	return p.Attachments
}

// flags writes the flags that are set, volatile first.
func (w *mpWriter) flags(f Flags) {
	n := 0
	if f.Volatile {
		n++
	}
	if f.Compress != nil {
		n++
	}
	if f.Timeout > 0 {
		n++
	}
	w.mapLen(n)
	if f.Volatile {
		w.str("volatile")
		w.bool(true)
	}
	if f.Compress != nil {
		w.str("compress")
		w.bool(*f.Compress)
	}
	if f.Timeout > 0 {
		w.str("timeout")
		w.int(f.Timeout.Milliseconds())
	}
}

// ---------------------------------------------------------------------------
// Broadcasts

// Broadcast is a message of the broadcast channels.
type Broadcast struct {
	UID string
	// Packet is an Event or BinaryEvent packet of namespace Packet.Namespace.
	Packet *sio.Packet
	Opts   Opts
}

// EncodeBroadcast encodes [uid, {type, data, nsp}, {rooms, except, flags}]
// for packet p (an Event or BinaryEvent) of namespace nsp. except is
// de-duplicated, as the adapter does. With uid EmitterUID the opts keys are
// in the emitter's order (rooms, flags, except).
func EncodeBroadcast(uid, nsp string, p *sio.Packet, o Opts) ([]byte, error) {
	w := newMPWriter()
	w.arrayLen(3)
	w.str(uid)
	w.packet(p, nsp)
	w.mapLen(3)
	w.str("rooms")
	w.strs(o.Rooms)
	if uid == EmitterUID {
		w.str("flags")
		w.flags(o.Flags)
		w.str("except")
		w.strs(o.Except)
	} else {
		w.str("except")
		w.strs(dedup(o.Except))
		w.str("flags")
		w.flags(o.Flags)
	}
	return w.done()
}

// DecodeBroadcast decodes a message of a broadcast channel (always
// msgpack). Binary values of the packet data become attachments.
func DecodeBroadcast(b []byte) (*Broadcast, error) {
	rd := newReader(b)
	defer rd.release()
	c, err := rd.dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32) {
		return nil, malformed("broadcast is not an array")
	}
	n, err := rd.dec.DecodeArrayLen()
	if err != nil || n < 3 || n > rd.r.Len() {
		return nil, malformed("broadcast is not [uid, packet, opts]")
	}
	uid, err := rd.field()
	if err != nil {
		return nil, err
	}
	pk, err := rd.object("")
	if err != nil {
		return nil, err
	}
	opts, err := rd.opts()
	if err != nil {
		return nil, err
	}
	for range n - 3 {
		if err := rd.dec.Skip(); err != nil {
			return nil, malformed("broadcast: %v", err)
		}
	}
	if rd.r.Len() != 0 {
		return nil, malformed("broadcast: trailing bytes")
	}
	m := &Broadcast{}
	m.UID, _ = JSString(uid.raw)
	if m.Packet, err = eventPacket(pk); err != nil {
		return nil, err
	}
	m.Opts = opts
	return m, nil
}

// opts reads the map {rooms, except, flags} of a broadcast directly.
func (rd *reader) opts() (Opts, error) {
	var o Opts
	d := rd.dec
	c, err := d.PeekCode()
	if err != nil || !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		return o, malformed("opts is not a map")
	}
	n, err := d.DecodeMapLen()
	if err != nil || n > rd.r.Len() {
		return o, malformed("bad opts")
	}
	for range n {
		k, err := rd.key()
		if err != nil {
			return o, err
		}
		switch k {
		case "rooms", "except":
			list, err := rd.rooms()
			if err != nil {
				return o, err
			}
			if k == "rooms" {
				o.Rooms = list
			} else {
				o.Except = list
			}
		case "flags":
			if o.Flags, err = rd.flags(); err != nil {
				return o, err
			}
		default:
			if err := d.Skip(); err != nil {
				return o, malformed("opts: %v", err)
			}
		}
	}
	return o, nil
}

// key reads a map key (a string, or anything else as its JSON text).
func (rd *reader) key() (string, error) {
	if c, err := rd.dec.PeekCode(); err == nil && msgpcode.IsString(c) {
		k, err := rd.dec.DecodeString()
		if err != nil {
			return "", malformed("%v", err)
		}
		return k, nil
	}
	f, err := rd.field()
	if err != nil {
		return "", err
	}
	return string(f.raw), nil
}

// rooms reads an array of room names (strings or numbers); nil is empty.
func (rd *reader) rooms() ([]string, error) {
	d := rd.dec
	c, err := d.PeekCode()
	if err != nil {
		return nil, malformed("%v", err)
	}
	if c == msgpcode.Nil {
		return nil, d.DecodeNil()
	}
	if !(msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32) {
		return nil, malformed("rooms is not an array")
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n > rd.r.Len() {
		return nil, malformed("bad rooms")
	}
	out := make([]string, 0, n)
	for range n {
		c, err := d.PeekCode()
		if err != nil {
			return nil, malformed("%v", err)
		}
		if msgpcode.IsString(c) {
			r, err := d.DecodeString()
			if err != nil {
				return nil, malformed("%v", err)
			}
			out = append(out, r)
			continue
		}
		f, err := rd.field()
		if err != nil {
			return nil, err
		}
		r, ok := JSString(f.raw)
		if !ok || (len(f.raw) > 0 && f.raw[0] == '"') {
			return nil, malformed("room is not a string or a number")
		}
		out = append(out, r)
	}
	return out, nil
}

// flags reads the flags map, keeping volatile, compress and timeout.
func (rd *reader) flags() (Flags, error) {
	var f Flags
	d := rd.dec
	c, err := d.PeekCode()
	if err != nil {
		return f, malformed("%v", err)
	}
	if c == msgpcode.Nil {
		return f, d.DecodeNil()
	}
	if !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		return f, malformed("flags is not a map")
	}
	n, err := d.DecodeMapLen()
	if err != nil || n > rd.r.Len() {
		return f, malformed("bad flags")
	}
	for range n {
		k, err := rd.key()
		if err != nil {
			return f, err
		}
		v, err := rd.field()
		if err != nil {
			return f, err
		}
		switch k {
		case "volatile":
			f.Volatile = string(v.raw) == "true"
		case "compress":
			switch string(v.raw) {
			case "true", "false":
				b := string(v.raw) == "true"
				f.Compress = &b
			}
		case "timeout":
			if ms, err := strconv.ParseFloat(string(v.raw), 64); err == nil && ms > 0 && ms < 1e12 {
				f.Timeout = time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	return f, nil
}

// field is one value of a decoded message: JSON text, with its binary
// values as attachments numbered from 0; obj is set for the object read
// as fields.
type field struct {
	raw  json.RawMessage
	atts [][]byte
	obj  map[string]field
}

type reader struct {
	r   *bytes.Reader
	dec *msgpack.Decoder
}

func newReader(b []byte) *reader {
	r := bytes.NewReader(b)
	dec := msgpack.GetDecoder()
	dec.Reset(r)
	return &reader{r: r, dec: dec}
}

func (rd *reader) release() { msgpack.PutDecoder(rd.dec) }

// field transcodes the next value.
func (rd *reader) field() (field, error) {
	t := transcoder{dec: rd.dec, r: rd.r}
	if err := t.value(0); err != nil {
		return field{}, malformed("%v", err)
	}
	return field{raw: t.out, atts: t.atts}, nil
}

// object reads a map whose values are transcoded one by one; the value of
// key nested (when not "") is read as an object itself.
func (rd *reader) object(nested string) (map[string]field, error) {
	c, err := rd.dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		return nil, malformed("expected a map")
	}
	n, err := rd.dec.DecodeMapLen()
	if err != nil || n > rd.r.Len() {
		return nil, malformed("bad map length")
	}
	out := make(map[string]field, n)
	for range n {
		kf, err := rd.field()
		if err != nil {
			return nil, err
		}
		k, ok := JSString(kf.raw)
		if !ok {
			k = string(kf.raw)
		}
		if nested != "" && k == nested {
			if c, err := rd.dec.PeekCode(); err == nil && (msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
				obj, err := rd.object("")
				if err != nil {
					return nil, err
				}
				out[k] = field{obj: obj}
				continue
			}
		}
		v, err := rd.field()
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// jsonObject splits a JSON object into fields (no binary in JSON); the
// value of key nested is split too when it is an object.
func jsonObject(raw []byte, nested string) (map[string]field, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, malformed("not a JSON object")
	}
	out := make(map[string]field, len(m))
	for k, v := range m {
		if k == nested && len(v) > 0 && v[0] == '{' {
			obj, err := jsonObject(v, "")
			if err != nil {
				return nil, err
			}
			out[k] = field{obj: obj}
			continue
		}
		out[k] = field{raw: v}
	}
	return out, nil
}

// eventPacket interprets the packet object {type, data, nsp}.
func eventPacket(pk map[string]field) (*sio.Packet, error) {
	t, ok := intField(pk["type"].raw)
	if !ok || (t != int64(sio.Event) && t != int64(sio.BinaryEvent)) {
		return nil, malformed("packet type is not EVENT")
	}
	nsp := "/"
	if f, ok := pk["nsp"]; ok && !isNull(f.raw) {
		s, ok := JSString(f.raw)
		if !ok {
			return nil, malformed("packet nsp is not a string")
		}
		nsp = s
	}
	data := pk["data"]
	if _, _, err := sio.SplitArgs(data.raw); err != nil {
		return nil, malformed("packet data: %v", err)
	}
	p := &sio.Packet{Type: sio.Event, Namespace: nsp, Data: data.raw}
	if len(data.atts) > 0 {
		p.Type = sio.BinaryEvent
		p.Attachments = data.atts
	}
	return p, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// intField reads an integer-valued JSON number.
func intField(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// stringList reads an array of room names (strings, or numbers as
// JavaScript allows them). A missing or null value is an empty list.
func stringList(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, malformed("expected an array of rooms")
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := JSString(e)
		if !ok {
			return nil, malformed("room is not a string or a number")
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeOpts reads {rooms, except, flags}.
func decodeOpts(raw json.RawMessage, withFlags bool) (Opts, error) {
	var o struct {
		Rooms  json.RawMessage `json:"rooms"`
		Except json.RawMessage `json:"except"`
		Flags  *struct {
			Volatile *bool   `json:"volatile"`
			Compress *bool   `json:"compress"`
			Timeout  float64 `json:"timeout"`
		} `json:"flags"`
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Opts{}, malformed("opts is not an object")
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		// Unusual flag types: keep the selection, drop the flags.
		var o2 struct {
			Rooms  json.RawMessage `json:"rooms"`
			Except json.RawMessage `json:"except"`
		}
		if json.Unmarshal(raw, &o2) != nil {
			return Opts{}, malformed("opts: %v", err)
		}
		o.Rooms, o.Except, o.Flags = o2.Rooms, o2.Except, nil
	}
	var out Opts
	var err error
	if out.Rooms, err = stringList(o.Rooms); err != nil {
		return out, err
	}
	if out.Except, err = stringList(o.Except); err != nil {
		return out, err
	}
	if withFlags && o.Flags != nil {
		out.Flags.Volatile = o.Flags.Volatile != nil && *o.Flags.Volatile
		out.Flags.Compress = o.Flags.Compress
		if o.Flags.Timeout > 0 {
			out.Flags.Timeout = time.Duration(o.Flags.Timeout * float64(time.Millisecond))
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Requests

// Request is a message of the request channel.
type Request struct {
	Type RequestType
	// UID is the sender's uid ("" when absent: the emitter's requests 2-4
	// have none).
	UID string
	// RequestID is set on requests expecting responses.
	RequestID string
	// Opts select the sockets of requests 2-5 and 7 (nil in the legacy
	// forms of 2-4, which name one socket with SID).
	Opts *Opts
	// Rooms are the rooms to join or leave (2, 3), or to list (0).
	Rooms []string
	// Close is the argument of a disconnection (4).
	Close bool
	// Data is the JSON array [event, ...args] of a server-side emit (6).
	Data json.RawMessage
	// Packet is the event of a broadcast with acknowledgements (7).
	Packet *sio.Packet
	// SID and Room are the fields of the legacy requests 2-4.
	SID, Room string
}

// jsonWriter writes a JSON object key by key, in order.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) key(k string) {
	if len(w.b) == 0 {
		w.b = append(w.b, '{')
	} else {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *jsonWriter) str(k, v string) { w.key(k); w.b = appendJSONString(w.b, v) }
func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}
func (w *jsonWriter) raw(k string, v []byte) { w.key(k); w.b = append(w.b, v...) }
func (w *jsonWriter) bool(k string, v bool)  { w.key(k); w.b = strconv.AppendBool(w.b, v) }
func (w *jsonWriter) strs(k string, v []string) {
	w.key(k)
	w.b = appendStrings(w.b, v)
}
func (w *jsonWriter) done() []byte {
	if len(w.b) == 0 {
		return []byte("{}")
	}
	return append(w.b, '}')
}

func appendStrings(b []byte, v []string) []byte {
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// selection writes {rooms, except} (requests carry no flags).
func selection(o *Opts) []byte {
	var w jsonWriter
	var rooms, except []string
	if o != nil {
		rooms, except = o.Rooms, o.Except
	}
	w.strs("rooms", rooms)
	w.strs("except", except)
	return w.done()
}

// EncodeRequest encodes r as the adapter does: JSON, keys in the
// adapter's order, except BroadcastWithAck in msgpack. Fields that do not
// belong to r.Type are not written; UID and RequestID only when set.
func EncodeRequest(r *Request) ([]byte, error) {
	if r.Type == BroadcastWithAck {
		if r.Opts == nil {
			r.Opts = &Opts{}
		}
		w := newMPWriter()
		w.mapLen(5)
		w.str("uid")
		w.str(r.UID)
		w.str("requestId")
		w.str(r.RequestID)
		w.str("type")
		w.int(int64(r.Type))
		w.str("packet")
		nsp := "/"
		if r.Packet != nil && r.Packet.Namespace != "" {
			nsp = r.Packet.Namespace
		}
		w.packet(r.Packet, nsp)
		w.str("opts")
		w.mapLen(3)
		w.str("rooms")
		w.strs(r.Opts.Rooms)
		w.str("except")
		w.strs(dedup(r.Opts.Except))
		w.str("flags")
		w.flags(r.Opts.Flags)
		return w.done()
	}
	var w jsonWriter
	if r.UID != "" {
		w.str("uid", r.UID)
	}
	if r.RequestID != "" {
		w.str("requestId", r.RequestID)
	}
	w.int("type", int64(r.Type))
	switch r.Type {
	case Sockets:
		w.strs("rooms", r.Rooms)
	case RemoteJoin, RemoteLeave:
		if r.Opts == nil {
			w.str("sid", r.SID)
			w.str("room", r.Room)
			break
		}
		w.raw("opts", selection(r.Opts))
		w.strs("rooms", r.Rooms)
	case RemoteDisconnect:
		if r.Opts == nil {
			w.str("sid", r.SID)
		} else {
			w.raw("opts", selection(r.Opts))
		}
		w.bool("close", r.Close)
	case RemoteFetch:
		w.raw("opts", selection(r.Opts))
	case ServerSideEmit:
		data := r.Data
		if len(data) == 0 {
			data = []byte("[]")
		}
		if !json.Valid(data) {
			return nil, errors.New("wire: server-side emit data is not valid JSON")
		}
		w.raw("data", data)
	}
	return w.done(), nil
}

// objectOf splits a request or response, JSON when it starts with '{',
// msgpack otherwise (the adapter's rule).
func objectOf(b []byte, nested string) (map[string]field, error) {
	if len(b) == 0 {
		return nil, malformed("empty message")
	}
	if b[0] == '{' {
		return jsonObject(b, nested)
	}
	rd := newReader(b)
	defer rd.release()
	obj, err := rd.object(nested)
	if err != nil {
		return nil, err
	}
	if rd.r.Len() != 0 {
		return nil, malformed("trailing bytes")
	}
	return obj, nil
}

// idString reads a uid or request id: a string (or a number).
func idString(f field) string {
	if isNull(f.raw) {
		return ""
	}
	s, _ := JSString(f.raw)
	return s
}

// DecodeRequest decodes a message of the request channel.
func DecodeRequest(b []byte) (*Request, error) {
	obj, err := objectOf(b, "packet")
	if err != nil {
		return nil, err
	}
	t, ok := intField(obj["type"].raw)
	if !ok {
		return nil, malformed("request without a numeric type")
	}
	r := &Request{Type: RequestType(t), UID: idString(obj["uid"]), RequestID: idString(obj["requestId"])}
	if f, ok := obj["opts"]; ok && !isNull(f.raw) {
		o, err := decodeOpts(f.raw, r.Type == BroadcastWithAck)
		if err != nil {
			return nil, err
		}
		r.Opts = &o
	}
	switch r.Type {
	case Sockets, RemoteJoin, RemoteLeave:
		if f, ok := obj["rooms"]; ok {
			if r.Rooms, err = stringList(f.raw); err != nil {
				return nil, err
			}
		}
		r.SID = idString(obj["sid"])
		r.Room = idString(obj["room"])
	case RemoteDisconnect:
		r.Close = string(bytes.TrimSpace(obj["close"].raw)) == "true"
		r.SID = idString(obj["sid"])
	case RemoteFetch:
		if r.Opts == nil {
			return nil, malformed("fetch request without opts")
		}
	case ServerSideEmit:
		data := obj["data"].raw
		if _, _, err := sio.SplitArgs(data); err != nil {
			return nil, malformed("server-side emit data: %v", err)
		}
		r.Data = data
	case BroadcastWithAck:
		pk, ok := obj["packet"]
		if !ok || pk.obj == nil {
			return nil, malformed("broadcast request without a packet")
		}
		if r.Packet, err = eventPacket(pk.obj); err != nil {
			return nil, err
		}
		if r.Opts == nil {
			r.Opts = &Opts{}
		}
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// Responses

// Response is a message of a response channel.
type Response struct {
	// Type is set on the responses that carry one (6, 8, 9); 0 otherwise.
	Type      RequestType
	RequestID string
	// Sockets is the list of a SOCKETS (ids) or REMOTE_FETCH (socket
	// descriptions) response; HasSockets tells whether it was an array.
	Sockets    []json.RawMessage
	HasSockets bool
	// Rooms is the list of an ALL_ROOMS response.
	Rooms    []string
	HasRooms bool
	// ClientCount is the count of a BROADCAST_CLIENT_COUNT response.
	ClientCount int
	// Data is the acknowledgement of a SERVER_SIDE_EMIT (nil when absent).
	Data json.RawMessage
	// Ack is the acknowledgement of a BROADCAST_ACK as an ACK packet
	// holding the one value (no argument when it was absent).
	Ack *sio.Packet
}

// DecodeResponse decodes a message of a response channel.
func DecodeResponse(b []byte) (*Response, error) {
	obj, err := objectOf(b, "")
	if err != nil {
		return nil, err
	}
	r := &Response{RequestID: idString(obj["requestId"])}
	if f, ok := obj["type"]; ok {
		t, ok := intField(f.raw)
		if !ok {
			return nil, malformed("response type is not a number")
		}
		r.Type = RequestType(t)
	}
	if f, ok := obj["sockets"]; ok && len(f.raw) > 0 && f.raw[0] == '[' {
		if err := json.Unmarshal(f.raw, &r.Sockets); err == nil {
			r.HasSockets = true
		}
	}
	if f, ok := obj["rooms"]; ok && len(f.raw) > 0 && f.raw[0] == '[' {
		if rooms, err := stringList(f.raw); err == nil {
			r.Rooms, r.HasRooms = rooms, true
		}
	}
	switch r.Type {
	case BroadcastClientCount:
		n, ok := intField(obj["clientCount"].raw)
		if !ok || n < 0 {
			return nil, malformed("client count is not a number")
		}
		r.ClientCount = int(n)
	case BroadcastAck:
		r.Ack = &sio.Packet{Type: sio.Ack, Data: json.RawMessage("[]")}
		if f, ok := obj["packet"]; ok {
			r.Ack.Data = append(append(append(make([]byte, 0, len(f.raw)+2), '['), f.raw...), ']')
			if len(f.atts) > 0 {
				r.Ack.Type = sio.BinaryAck
				r.Ack.Attachments = f.atts
			}
		}
	case ServerSideEmit:
		if f, ok := obj["data"]; ok {
			r.Data = f.raw
		}
	}
	return r, nil
}

// EncodeSocketsResponse encodes the response to SOCKETS.
func EncodeSocketsResponse(requestID string, ids []string) []byte {
	var w jsonWriter
	w.str("requestId", requestID)
	w.strs("sockets", ids)
	return w.done()
}

// EncodeRoomsResponse encodes the response to ALL_ROOMS.
func EncodeRoomsResponse(requestID string, rooms []string) []byte {
	var w jsonWriter
	w.str("requestId", requestID)
	w.strs("rooms", rooms)
	return w.done()
}

// EncodeLegacyResponse encodes the response to the legacy forms of
// REMOTE_JOIN, REMOTE_LEAVE and REMOTE_DISCONNECT.
func EncodeLegacyResponse(requestID string) []byte {
	var w jsonWriter
	w.str("requestId", requestID)
	return w.done()
}

// EncodeFetchResponse encodes the response to REMOTE_FETCH: for each
// socket {id, handshake, rooms, data}.
func EncodeFetchResponse(requestID string, sockets []adapter.SocketInfo) []byte {
	var w jsonWriter
	w.str("requestId", requestID)
	w.key("sockets")
	w.b = append(w.b, '[')
	for i, s := range sockets {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		var o jsonWriter
		o.str("id", s.ID)
		o.raw("handshake", validJSON(s.Handshake, "{}"))
		o.strs("rooms", s.Rooms)
		o.raw("data", validJSON(s.Data, "null"))
		w.b = append(w.b, o.done()...)
	}
	w.b = append(w.b, ']')
	return w.done()
}

func validJSON(raw json.RawMessage, def string) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !json.Valid(raw) {
		return []byte(def)
	}
	return raw
}

// DecodeSocketInfo reads one socket of a REMOTE_FETCH response.
func DecodeSocketInfo(raw json.RawMessage) (adapter.SocketInfo, error) {
	var s struct {
		ID        json.RawMessage `json:"id"`
		Handshake json.RawMessage `json:"handshake"`
		Rooms     json.RawMessage `json:"rooms"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return adapter.SocketInfo{}, malformed("socket: %v", err)
	}
	id, ok := JSString(s.ID)
	if !ok {
		return adapter.SocketInfo{}, malformed("socket without an id")
	}
	rooms, err := stringList(s.Rooms)
	if err != nil {
		return adapter.SocketInfo{}, err
	}
	info := adapter.SocketInfo{ID: id, Handshake: s.Handshake, Rooms: rooms, Data: s.Data}
	if len(info.Data) == 0 {
		info.Data = json.RawMessage("null")
	}
	if len(info.Handshake) == 0 {
		info.Handshake = json.RawMessage("{}")
	}
	return info, nil
}

// EncodeServerSideAck encodes the acknowledgement of a SERVER_SIDE_EMIT:
// {type: 6, requestId, data}, data omitted when nil.
func EncodeServerSideAck(requestID string, data json.RawMessage) []byte {
	var w jsonWriter
	w.int("type", int64(ServerSideEmit))
	w.str("requestId", requestID)
	if len(data) > 0 {
		w.raw("data", validJSON(data, "null"))
	}
	return w.done()
}

// EncodeClientCount encodes {type: 8, requestId, clientCount}.
func EncodeClientCount(requestID string, n int) []byte {
	var w jsonWriter
	w.int("type", int64(BroadcastClientCount))
	w.str("requestId", requestID)
	w.int("clientCount", int64(n))
	return w.done()
}

// EncodeBroadcastAck encodes {type: 9, requestId, packet} in msgpack, the
// packet being the first argument of the client's acknowledgement ack (an
// ACK or BINARY_ACK packet); the key is omitted when there is none.
func EncodeBroadcastAck(requestID string, ack *sio.Packet) ([]byte, error) {
	var first json.RawMessage
	if ack != nil {
		args, err := sio.SplitAck(ack.Data)
		if err != nil {
			return nil, err
		}
		if len(args) > 0 {
			first = args[0]
		}
	}
	w := newMPWriter()
	if first == nil {
		w.mapLen(2)
	} else {
		w.mapLen(3)
	}
	w.str("type")
	w.int(int64(BroadcastAck))
	w.str("requestId")
	w.str(requestID)
	if first != nil {
		w.str("packet")
		w.json(first, attachmentsOf(ack))
	}
	return w.done()
}
