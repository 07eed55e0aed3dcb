package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// The cluster protocol is the one of socket.io-adapter's ClusterAdapter,
// spoken by Node's @socket.io/redis-streams-adapter 0.3 (and by the
// sharded Redis, Postgres and MongoDB adapters). A message is the object
// {type, data, uid, nsp}; its numbering is not that of RequestType.
//
// The streams adapter carries it two ways:
//
//   - as a stream entry with the string fields uid, nsp, type (decimal)
//     and data: JSON.stringify(data), or, when data holds binary values
//     and the type may carry them, the standard base64 of data in
//     msgpack (StreamFields, DecodeStreamEntry);
//   - as a pub/sub payload, the whole message in msgpack
//     (EncodeClusterMessage, DecodeClusterMessage).
//
// msgpack is written as @msgpack/msgpack writes the JavaScript values:
// str for strings, bin for binary, the smallest integer format for
// integer-valued numbers, float64 otherwise.

// ClusterType is the type of a cluster message.
type ClusterType int

// Cluster message types (socket.io-adapter's MessageType). The heartbeat
// types 1, 2 and 13 of the older streams adapter are not used.
const (
	ClusterBroadcast              ClusterType = 3
	ClusterSocketsJoin            ClusterType = 4
	ClusterSocketsLeave           ClusterType = 5
	ClusterDisconnectSockets      ClusterType = 6
	ClusterFetchSockets           ClusterType = 7
	ClusterFetchSocketsResponse   ClusterType = 8
	ClusterServerSideEmit         ClusterType = 9
	ClusterServerSideEmitResponse ClusterType = 10
	ClusterBroadcastClientCount   ClusterType = 11
	ClusterBroadcastAck           ClusterType = 12

	clusterTypeMax = 13 // ADAPTER_CLOSE and beyond are not handled
)

// ClusterMessage is a message of the cluster protocol. Only the fields of
// its Type are written.
type ClusterMessage struct {
	Type ClusterType
	// UID identifies the sending server; Nsp is the namespace.
	UID, Nsp string
	// RequestID is set on a BROADCAST expecting acknowledgements, on
	// FETCH_SOCKETS, on a SERVER_SIDE_EMIT expecting acknowledgements and
	// on every response. Empty means absent: the key is then not written,
	// since its mere presence makes a broadcast one with acknowledgements.
	RequestID string
	// Packet is the event of a BROADCAST (an Event or BinaryEvent packet)
	// or of a SERVER_SIDE_EMIT (its data being [event, ...args]).
	Packet *sio.Packet
	// Opts select the sockets of BROADCAST, SOCKETS_JOIN, SOCKETS_LEAVE,
	// DISCONNECT_SOCKETS and FETCH_SOCKETS. Rooms and Except are always
	// written, as arrays.
	Opts Opts
	// Rooms are the rooms to join or leave.
	Rooms []string
	// Close is the argument of DISCONNECT_SOCKETS.
	Close bool
	// Sockets are the sockets of a FETCH_SOCKETS_RESPONSE.
	Sockets []adapter.SocketInfo
	// Value is the one acknowledgement value of a BROADCAST_ACK or a
	// SERVER_SIDE_EMIT_RESPONSE, as an Ack or BinaryAck packet whose data
	// is [value] ("[]" when the value is absent).
	Value *sio.Packet
	// ClientCount is the count of a BROADCAST_CLIENT_COUNT.
	ClientCount int
}

// ---------------------------------------------------------------------------
// Encoding

// mayCarryBinary reports whether Node encodes the data of a message of
// type t in msgpack when it holds binary values.
func mayCarryBinary(t ClusterType) bool {
	switch t {
	case ClusterBroadcast, ClusterFetchSocketsResponse, ClusterServerSideEmit, ClusterServerSideEmitResponse, ClusterBroadcastAck:
		return true
	}
	return false
}

func (m *ClusterMessage) hasBinary() bool {
	switch m.Type {
	case ClusterBroadcast, ClusterServerSideEmit:
		return m.Packet != nil && m.Packet.Type.IsBinary()
	case ClusterServerSideEmitResponse, ClusterBroadcastAck:
		return m.Value != nil && m.Value.Type.IsBinary()
	}
	return false
}

// StreamFields returns the fields of the stream entry of m, in the order
// Node writes them: uid, nsp, type, data.
func (m *ClusterMessage) StreamFields() ([]string, error) {
	data, err := m.streamData()
	if err != nil {
		return nil, err
	}
	return []string{"uid", m.UID, "nsp", m.Nsp, "type", strconv.Itoa(int(m.Type)), "data", data}, nil
}

// streamData is the data field: JSON, or base64 msgpack with binary.
func (m *ClusterMessage) streamData() (string, error) {
	if mayCarryBinary(m.Type) && m.hasBinary() {
		w := newMPWriter()
		w.clusterData(m)
		b, err := w.done()
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	var w jsonWriter
	switch m.Type {
	case ClusterBroadcast:
		if m.Packet == nil {
			return "", errors.New("wire: broadcast without a packet")
		}
		if _, _, err := sio.SplitArgs(m.Packet.Data); err != nil {
			return "", fmt.Errorf("wire: packet data: %w", err)
		}
		var pk jsonWriter
		pk.int("type", int64(sio.Event))
		pk.raw("data", m.Packet.Data)
		w.raw("packet", pk.done())
		if m.RequestID != "" {
			w.str("requestId", m.RequestID)
		}
		w.raw("opts", jsonOpts(m.Opts))
	case ClusterSocketsJoin, ClusterSocketsLeave:
		w.raw("opts", jsonOpts(m.Opts))
		w.strs("rooms", nonNil(m.Rooms))
	case ClusterDisconnectSockets:
		w.raw("opts", jsonOpts(m.Opts))
		w.bool("close", m.Close)
	default:
		// Types that normally travel on pub/sub: the JSON form of their
		// msgpack data.
		w := newMPWriter()
		w.clusterData(m)
		b, err := w.done()
		if err != nil {
			return "", err
		}
		out, _, err := decodeToJSON(b)
		if err != nil {
			return "", err
		}
		return string(out), nil
	}
	return string(w.done()), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsonOpts writes {rooms, except, flags} with the flags that are set.
func jsonOpts(o Opts) []byte {
	var w jsonWriter
	w.strs("rooms", nonNil(dedup(o.Rooms)))
	w.strs("except", nonNil(dedup(o.Except)))
	var f jsonWriter
	if o.Flags.Volatile {
		f.bool("volatile", true)
	}
	if o.Flags.Compress != nil {
		f.bool("compress", *o.Flags.Compress)
	}
	if o.Flags.Timeout > 0 {
		f.int("timeout", o.Flags.Timeout.Milliseconds())
	}
	w.raw("flags", f.done())
	return w.done()
}

// EncodeClusterMessage encodes m as a pub/sub payload: the msgpack map
// {type, data, uid, nsp}.
func EncodeClusterMessage(m *ClusterMessage) ([]byte, error) {
	w := newMPWriter()
	w.mapLen(4)
	w.str("type")
	w.int(int64(m.Type))
	w.str("data")
	w.clusterData(m)
	w.str("uid")
	w.str(m.UID)
	w.str("nsp")
	w.str(m.Nsp)
	return w.done()
}

// clusterOpts writes {rooms, except, flags}.
func (w *mpWriter) clusterOpts(o Opts) {
	w.mapLen(3)
	w.str("rooms")
	w.strs(dedup(o.Rooms))
	w.str("except")
	w.strs(dedup(o.Except))
	w.str("flags")
	w.flags(o.Flags)
}

// packetValue returns the first value of the ACK packet p; ok is false
// when it holds none.
func packetValue(p *sio.Packet) (json.RawMessage, bool, error) {
	if p == nil {
		return nil, false, nil
	}
	args, err := sio.SplitAck(p.Data)
	if err != nil {
		return nil, false, err
	}
	if len(args) == 0 {
		return nil, false, nil
	}
	return args[0], true, nil
}

// clusterData writes the data object of m.
func (w *mpWriter) clusterData(m *ClusterMessage) {
	switch m.Type {
	case ClusterBroadcast:
		if m.Packet == nil {
			w.do(errors.New("wire: broadcast without a packet"))
			return
		}
		if _, _, err := sio.SplitArgs(m.Packet.Data); err != nil {
			w.do(fmt.Errorf("wire: packet data: %w", err))
			return
		}
		if m.RequestID != "" {
			w.mapLen(3)
		} else {
			w.mapLen(2)
		}
		w.str("packet")
		w.mapLen(2)
		w.str("type")
		w.int(int64(sio.Event))
		w.str("data")
		w.json(m.Packet.Data, attachmentsOf(m.Packet))
		if m.RequestID != "" {
			w.str("requestId")
			w.str(m.RequestID)
		}
		w.str("opts")
		w.clusterOpts(m.Opts)
	case ClusterSocketsJoin, ClusterSocketsLeave:
		w.mapLen(2)
		w.str("opts")
		w.clusterOpts(m.Opts)
		w.str("rooms")
		w.strs(m.Rooms)
	case ClusterDisconnectSockets:
		w.mapLen(2)
		w.str("opts")
		w.clusterOpts(m.Opts)
		w.str("close")
		w.bool(m.Close)
	case ClusterFetchSockets:
		w.mapLen(2)
		w.str("opts")
		w.clusterOpts(m.Opts)
		w.str("requestId")
		w.str(m.RequestID)
	case ClusterFetchSocketsResponse:
		w.mapLen(2)
		w.str("requestId")
		w.str(m.RequestID)
		w.str("sockets")
		w.arrayLen(len(m.Sockets))
		for _, s := range m.Sockets {
			w.mapLen(4)
			w.str("id")
			w.str(s.ID)
			w.str("handshake")
			w.json(validJSON(s.Handshake, "{}"), nil)
			w.str("rooms")
			w.strs(s.Rooms)
			w.str("data")
			w.json(validJSON(s.Data, "null"), nil)
		}
	case ClusterServerSideEmit:
		if m.Packet == nil {
			w.do(errors.New("wire: server-side emit without a packet"))
			return
		}
		if _, _, err := sio.SplitArgs(m.Packet.Data); err != nil {
			w.do(fmt.Errorf("wire: server-side emit data: %w", err))
			return
		}
		if m.RequestID != "" {
			w.mapLen(2)
			w.str("requestId")
			w.str(m.RequestID)
		} else {
			w.mapLen(1)
		}
		w.str("packet")
		w.json(m.Packet.Data, attachmentsOf(m.Packet))
	case ClusterServerSideEmitResponse, ClusterBroadcastAck:
		v, ok, err := packetValue(m.Value)
		if err != nil {
			w.do(fmt.Errorf("wire: acknowledgement: %w", err))
			return
		}
		if ok {
			w.mapLen(2)
		} else {
			w.mapLen(1)
		}
		w.str("requestId")
		w.str(m.RequestID)
		if ok {
			w.str("packet")
			w.json(v, attachmentsOf(m.Value))
		}
	case ClusterBroadcastClientCount:
		w.mapLen(2)
		w.str("requestId")
		w.str(m.RequestID)
		w.str("clientCount")
		w.int(int64(m.ClientCount))
	default:
		w.do(fmt.Errorf("wire: cannot encode cluster message type %d", m.Type))
	}
}

// ---------------------------------------------------------------------------
// Decoding

// shape tells which keys of a map are read as maps themselves; the values
// of the other keys are read whole (JSON text and attachments).
type shape map[string]shape

var optsShape = shape{"flags": shape{}}

// dataShape is the shape of the data of a message of type t.
func dataShape(t ClusterType) shape {
	switch t {
	case ClusterBroadcast:
		return shape{"packet": shape{}, "opts": optsShape}
	case ClusterSocketsJoin, ClusterSocketsLeave, ClusterDisconnectSockets, ClusterFetchSockets:
		return shape{"opts": optsShape}
	}
	return shape{}
}

func isMapCode(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

// tree reads the next value; a map is split into its keys when sh is not
// nil.
func (rd *reader) tree(sh shape, depth int) (field, error) {
	if sh == nil || depth > maxDepth {
		return rd.field()
	}
	c, err := rd.dec.PeekCode()
	if err != nil {
		return field{}, malformed("%v", err)
	}
	if !isMapCode(c) {
		return rd.field()
	}
	n, err := rd.dec.DecodeMapLen()
	if err != nil || n > rd.r.Len() {
		return field{}, malformed("bad map length")
	}
	obj := make(map[string]field, n)
	for range n {
		k, err := rd.key()
		if err != nil {
			return field{}, err
		}
		v, err := rd.tree(sh[k], depth+1)
		if err != nil {
			return field{}, err
		}
		obj[k] = v
	}
	return field{obj: obj}, nil
}

// jsonTree splits the JSON value raw as tree does.
func jsonTree(raw json.RawMessage, sh shape) (field, error) {
	raw = bytes.TrimSpace(raw)
	if sh == nil || len(raw) == 0 || raw[0] != '{' {
		return field{raw: raw}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return field{}, malformed("invalid JSON: %v", err)
	}
	obj := make(map[string]field, len(m))
	for k, v := range m {
		f, err := jsonTree(v, sh[k])
		if err != nil {
			return field{}, err
		}
		obj[k] = f
	}
	return field{obj: obj}, nil
}

// DecodeStreamEntry decodes the fields of a stream entry. A missing nsp
// or type is an error.
func DecodeStreamEntry(values map[string]any) (*ClusterMessage, error) {
	get := func(k string) (string, bool) {
		v, ok := values[k]
		if !ok {
			return "", false
		}
		switch v := v.(type) {
		case string:
			return v, true
		case []byte:
			return string(v), true
		}
		return "", false
	}
	m := &ClusterMessage{}
	var ok bool
	if m.Nsp, ok = get("nsp"); !ok {
		return nil, malformed("stream entry without nsp")
	}
	m.UID, _ = get("uid")
	ts, _ := get("type")
	t, err := strconv.Atoi(ts)
	if err != nil || t <= 0 || t >= clusterTypeMax {
		return nil, malformed("stream entry type %q", ts)
	}
	m.Type = ClusterType(t)
	ds, ok := get("data")
	if !ok || ds == "" {
		return nil, malformed("stream entry of type %d without data", t)
	}
	var data field
	if ds[0] == '{' {
		data, err = jsonTree(json.RawMessage(ds), dataShape(m.Type))
	} else {
		b, derr := base64.StdEncoding.DecodeString(ds)
		if derr != nil {
			return nil, malformed("stream entry data is neither JSON nor base64")
		}
		data, err = msgpackTree(b, dataShape(m.Type))
	}
	if err != nil {
		return nil, err
	}
	if err := m.setData(data); err != nil {
		return nil, err
	}
	return m, nil
}

// msgpackTree reads the single msgpack value b.
func msgpackTree(b []byte, sh shape) (field, error) {
	rd := newReader(b)
	defer rd.release()
	f, err := rd.tree(sh, 0)
	if err != nil {
		return field{}, err
	}
	if rd.r.Len() != 0 {
		return field{}, malformed("trailing bytes")
	}
	return f, nil
}

// DecodeClusterMessage decodes a pub/sub payload (always msgpack).
func DecodeClusterMessage(b []byte) (*ClusterMessage, error) {
	t, err := peekType(b)
	if err != nil {
		return nil, err
	}
	top, err := msgpackTree(b, shape{"data": dataShape(t)})
	if err != nil {
		return nil, err
	}
	if top.obj == nil {
		return nil, malformed("message is not a map")
	}
	m := &ClusterMessage{Type: t, UID: idString(top.obj["uid"]), Nsp: idString(top.obj["nsp"])}
	if err := m.setData(top.obj["data"]); err != nil {
		return nil, err
	}
	return m, nil
}

// peekType finds the type of the msgpack map b.
func peekType(b []byte) (ClusterType, error) {
	rd := newReader(b)
	defer rd.release()
	c, err := rd.dec.PeekCode()
	if err != nil || !isMapCode(c) {
		return 0, malformed("message is not a map")
	}
	n, err := rd.dec.DecodeMapLen()
	if err != nil || n > rd.r.Len() {
		return 0, malformed("bad map length")
	}
	for range n {
		k, err := rd.key()
		if err != nil {
			return 0, err
		}
		if k != "type" {
			if err := rd.dec.Skip(); err != nil {
				return 0, malformed("%v", err)
			}
			continue
		}
		f, err := rd.field()
		if err != nil {
			return 0, err
		}
		t, ok := intField(f.raw)
		if !ok || t <= 0 || t >= clusterTypeMax {
			return 0, malformed("message type %s", f.raw)
		}
		return ClusterType(t), nil
	}
	return 0, malformed("message without a type")
}

// clusterOpts reads {rooms, except, flags}.
func clusterOpts(f field) (Opts, error) {
	var o Opts
	if f.obj == nil {
		return o, malformed("opts is not an object")
	}
	var err error
	if o.Rooms, err = stringList(f.obj["rooms"].raw); err != nil {
		return o, err
	}
	if o.Except, err = stringList(f.obj["except"].raw); err != nil {
		return o, err
	}
	if fl := f.obj["flags"].obj; fl != nil {
		o.Flags.Volatile = string(fl["volatile"].raw) == "true"
		switch string(fl["compress"].raw) {
		case "true", "false":
			b := string(fl["compress"].raw) == "true"
			o.Flags.Compress = &b
		}
		if ms, err := strconv.ParseFloat(string(fl["timeout"].raw), 64); err == nil && ms > 0 && ms < 1e12 {
			o.Flags.Timeout = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return o, nil
}

// setData interprets the data object of m.Type.
func (m *ClusterMessage) setData(data field) error {
	d := data.obj
	if d == nil {
		return malformed("message data is not an object")
	}
	m.RequestID = idString(d["requestId"])
	var err error
	switch m.Type {
	case ClusterBroadcast:
		pk := d["packet"].obj
		if pk == nil {
			return malformed("broadcast without a packet")
		}
		if m.Packet, err = eventPacket(pk); err != nil {
			return err
		}
		m.Packet.Namespace = m.Nsp
		m.Opts, err = clusterOpts(d["opts"])
	case ClusterSocketsJoin, ClusterSocketsLeave:
		if m.Opts, err = clusterOpts(d["opts"]); err != nil {
			return err
		}
		m.Rooms, err = stringList(d["rooms"].raw)
	case ClusterDisconnectSockets:
		m.Opts, err = clusterOpts(d["opts"])
		m.Close = string(bytes.TrimSpace(d["close"].raw)) == "true"
	case ClusterFetchSockets:
		m.Opts, err = clusterOpts(d["opts"])
	case ClusterFetchSocketsResponse:
		var list []json.RawMessage
		if err := json.Unmarshal(d["sockets"].raw, &list); err != nil {
			return malformed("fetch response without sockets")
		}
		m.Sockets = make([]adapter.SocketInfo, 0, len(list))
		for _, raw := range list {
			info, err := DecodeSocketInfo(raw)
			if err != nil {
				return err
			}
			m.Sockets = append(m.Sockets, info)
		}
	case ClusterServerSideEmit:
		f := d["packet"]
		if _, _, err := sio.SplitArgs(f.raw); err != nil {
			return malformed("server-side emit: %v", err)
		}
		m.Packet = &sio.Packet{Type: sio.Event, Namespace: m.Nsp, Data: f.raw}
		if len(f.atts) > 0 {
			m.Packet.Type, m.Packet.Attachments = sio.BinaryEvent, f.atts
		}
	case ClusterServerSideEmitResponse, ClusterBroadcastAck:
		m.Value = &sio.Packet{Type: sio.Ack, Namespace: m.Nsp, Data: json.RawMessage("[]")}
		if f, ok := d["packet"]; ok {
			m.Value.Data = append(append(append(make([]byte, 0, len(f.raw)+2), '['), f.raw...), ']')
			if len(f.atts) > 0 {
				m.Value.Type, m.Value.Attachments = sio.BinaryAck, f.atts
			}
		}
	case ClusterBroadcastClientCount:
		n, ok := intField(d["clientCount"].raw)
		if !ok || n < 0 {
			return malformed("client count is not a number")
		}
		m.ClientCount = int(n)
	}
	return err
}

// ---------------------------------------------------------------------------
// Sessions

// EncodeSession encodes a session as the streams adapter stores it: the
// standard base64 of the msgpack map {sid, pid, rooms, data}, data being
// the socket's data (JSON, converted to the value JSON.parse gives).
func EncodeSession(s adapter.Session) (string, error) {
	w := newMPWriter()
	w.mapLen(4)
	w.str("sid")
	w.str(s.SID)
	w.str("pid")
	w.str(s.PID)
	w.str("rooms")
	w.strs(s.Rooms)
	w.str("data")
	w.json(validJSON(s.Data, "null"), nil)
	b, err := w.done()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodeSession decodes a stored session. Binary values of the socket's
// data become attachment placeholders in Data.
func DecodeSession(v string) (adapter.Session, error) {
	var s adapter.Session
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return s, malformed("session is not base64")
	}
	f, err := msgpackTree(b, shape{})
	if err != nil {
		return s, err
	}
	if f.obj == nil {
		return s, malformed("session is not a map")
	}
	sid, ok1 := JSString(f.obj["sid"].raw)
	pid, ok2 := JSString(f.obj["pid"].raw)
	if !ok1 || !ok2 || sid == "" {
		return s, malformed("session without sid or pid")
	}
	rooms, err := stringList(f.obj["rooms"].raw)
	if err != nil {
		return s, err
	}
	s = adapter.Session{SID: sid, PID: pid, Rooms: rooms, Data: f.obj["data"].raw}
	if len(s.Data) == 0 {
		s.Data = json.RawMessage("null")
	}
	return s, nil
}
