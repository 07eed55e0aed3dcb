package wire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// Golden vectors of the cluster protocol: the bytes @msgpack/msgpack 2.8
// (the encoder of @socket.io/redis-streams-adapter 0.3) writes for the
// JavaScript values in the comments.
const (
	// {type:3, data:{packet:{type:2,data:["ping",1.5,-3]}, requestId:"0123456789abcdef", opts:{rooms:["r1"],except:[],flags:{timeout:1000}}}, uid:"a"*16, nsp:"/"}
	goldenClusterAckBroadcast = "84a47479706503a46461746183a67061636b657482a47479706502a46461746193a470696e67cb3ff8000000000000fda9726571756573744964b030313233343536373839616263646566a46f70747383a5726f6f6d7391a27231a665786365707490a5666c61677381a774696d656f7574cd03e8a3756964b061616161616161616161616161616161a36e7370a12f"
	// {type:7, data:{opts:{rooms:[],except:["x"],flags:{}}, requestId:"0123456789abcdef"}, uid:"a"*16, nsp:"/admin"}
	goldenClusterFetch = "84a47479706507a46461746182a46f70747383a5726f6f6d7390a665786365707491a178a5666c61677380a9726571756573744964b030313233343536373839616263646566a3756964b061616161616161616161616161616161a36e7370a62f61646d696e"
	// {type:11, data:{requestId:"0123456789abcdef", clientCount:3}, uid:"b"*16, nsp:"/"}
	goldenClusterCount = "84a4747970650ba46461746182a9726571756573744964b030313233343536373839616263646566ab636c69656e74436f756e7403a3756964b062626262626262626262626262626262a36e7370a12f"
	// {type:12, data:{requestId:"0123456789abcdef", packet:{x:Buffer.from([9,8])}}, uid:"b"*16, nsp:"/"}
	goldenClusterAck = "84a4747970650ca46461746182a9726571756573744964b030313233343536373839616263646566a67061636b657481a178c4020908a3756964b062626262626262626262626262626262a36e7370a12f"
	// {type:9, data:{packet:["hello", 1, {a:[true,null]}]}, uid:"b"*16, nsp:"/"}
	goldenClusterSSE = "84a47479706509a46461746181a67061636b657493a568656c6c6f0181a16192c3c0a3756964b062626262626262626262626262626262a36e7370a12f"
	// {type:8, data:{requestId:"0123456789abcdef", sockets:[{id:"sid1", handshake:{auth:{}}, rooms:["sid1","r"], data:{node:"go"}}]}, uid:"b"*16, nsp:"/"}
	goldenClusterFetchResponse = "84a47479706508a46461746182a9726571756573744964b030313233343536373839616263646566a7736f636b6574739184a26964a473696431a968616e647368616b6581a46175746880a5726f6f6d7392a473696431a172a46461746181a46e6f6465a2676fa3756964b062626262626262626262626262626262a36e7370a12f"
	// base64 of {packet:{type:2,data:["bin",Buffer.from([1,2,3])]}, opts:{rooms:[],except:[],flags:{volatile:true}}}
	goldenStreamBinary = "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgah2b2xhdGlsZcM="
	// base64 of {sid:"s"*20, pid:"p"*20, rooms:["s"*20,"room1"], data:{}}
	goldenSession = "hKNzaWS0c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3OjcGlktHBwcHBwcHBwcHBwcHBwcHBwcHBwpXJvb21zkrRzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc6Vyb29tMaRkYXRhgA=="
)

const (
	uidA  = "aaaaaaaaaaaaaaaa"
	uidB  = "bbbbbbbbbbbbbbbb"
	reqID = "0123456789abcdef"
)

func TestClusterEncodeGolden(t *testing.T) {
	cases := []struct {
		name string
		m    *ClusterMessage
		want string
	}{
		{"broadcast with acks", &ClusterMessage{Type: ClusterBroadcast, UID: uidA, Nsp: "/", RequestID: reqID,
			Packet: event(`["ping",1.5,-3]`), Opts: Opts{Rooms: []string{"r1"}, Flags: Flags{Timeout: time.Second}}}, goldenClusterAckBroadcast},
		{"fetch", &ClusterMessage{Type: ClusterFetchSockets, UID: uidA, Nsp: "/admin", RequestID: reqID,
			Opts: Opts{Except: []string{"x"}}}, goldenClusterFetch},
		{"client count", &ClusterMessage{Type: ClusterBroadcastClientCount, UID: uidB, Nsp: "/", RequestID: reqID, ClientCount: 3}, goldenClusterCount},
		{"ack", &ClusterMessage{Type: ClusterBroadcastAck, UID: uidB, Nsp: "/", RequestID: reqID,
			Value: &sio.Packet{Type: sio.BinaryAck, Data: json.RawMessage(`[{"x":{"_placeholder":true,"num":0}}]`), Attachments: [][]byte{{9, 8}}}}, goldenClusterAck},
		{"server-side emit", &ClusterMessage{Type: ClusterServerSideEmit, UID: uidB, Nsp: "/",
			Packet: event(`["hello", 1, {"a": [true, null]}]`)}, goldenClusterSSE},
		{"fetch response", &ClusterMessage{Type: ClusterFetchSocketsResponse, UID: uidB, Nsp: "/", RequestID: reqID,
			Sockets: []adapter.SocketInfo{{ID: "sid1", Handshake: json.RawMessage(`{"auth":{}}`), Rooms: []string{"sid1", "r"}, Data: json.RawMessage(`{"node":"go"}`)}}},
			goldenClusterFetchResponse},
	}
	for _, tc := range cases {
		b, err := EncodeClusterMessage(tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		eq(t, tc.name, b, tc.want)
		back, err := DecodeClusterMessage(b)
		if err != nil {
			t.Fatalf("%s: decoding: %v", tc.name, err)
		}
		if back.Type != tc.m.Type || back.UID != tc.m.UID || back.Nsp != tc.m.Nsp || back.RequestID != tc.m.RequestID {
			t.Errorf("%s: decoded %+v", tc.name, back)
		}
	}
}

func TestClusterDecodeGolden(t *testing.T) {
	m, err := DecodeClusterMessage(unhex(t, goldenClusterAckBroadcast))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != ClusterBroadcast || m.RequestID != reqID || string(m.Packet.Data) != `["ping",1.5,-3]` ||
		!reflect.DeepEqual(m.Opts.Rooms, []string{"r1"}) || m.Opts.Flags.Timeout != time.Second {
		t.Errorf("ack broadcast %+v %+v", m, m.Packet)
	}
	m, err = DecodeClusterMessage(unhex(t, goldenClusterAck))
	if err != nil {
		t.Fatal(err)
	}
	if m.Value.Type != sio.BinaryAck || string(m.Value.Data) != `[{"x":{"_placeholder":true,"num":0}}]` ||
		!reflect.DeepEqual(m.Value.Attachments, [][]byte{{9, 8}}) {
		t.Errorf("ack %+v", m.Value)
	}
	m, err = DecodeClusterMessage(unhex(t, goldenClusterFetchResponse))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sockets) != 1 || m.Sockets[0].ID != "sid1" || string(m.Sockets[0].Data) != `{"node":"go"}` ||
		!reflect.DeepEqual(m.Sockets[0].Rooms, []string{"sid1", "r"}) || string(m.Sockets[0].Handshake) != `{"auth":{}}` {
		t.Errorf("fetch response %+v", m.Sockets)
	}
	m, err = DecodeClusterMessage(unhex(t, goldenClusterCount))
	if err != nil || m.ClientCount != 3 {
		t.Errorf("count %+v %v", m, err)
	}
}

func TestStreamFields(t *testing.T) {
	m := &ClusterMessage{Type: ClusterBroadcast, UID: uidA, Nsp: "/", Packet: event(`["hello"]`), Opts: Opts{Rooms: []string{"room1"}}}
	f, err := m.StreamFields()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"uid", uidA, "nsp", "/", "type", "3", "data",
		`{"packet":{"type":2,"data":["hello"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}}`}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("fields\n got %q\nwant %q", f, want)
	}

	// Binary data goes in base64 msgpack.
	m = &ClusterMessage{Type: ClusterBroadcast, UID: uidA, Nsp: "/", Packet: event(`["bin",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3}),
		Opts: Opts{Flags: Flags{Volatile: true}}}
	if f, err = m.StreamFields(); err != nil {
		t.Fatal(err)
	}
	if f[7] != goldenStreamBinary {
		t.Errorf("binary data %s, want %s", f[7], goldenStreamBinary)
	}

	f2 := false
	for _, tc := range []struct {
		m    *ClusterMessage
		data string
	}{
		{&ClusterMessage{Type: ClusterSocketsJoin, Rooms: []string{"a"}, Opts: Opts{Rooms: []string{"r"}}},
			`{"opts":{"rooms":["r"],"except":[],"flags":{}},"rooms":["a"]}`},
		{&ClusterMessage{Type: ClusterSocketsLeave, Opts: Opts{Except: []string{"e", "e"}}},
			`{"opts":{"rooms":[],"except":["e"],"flags":{}},"rooms":[]}`},
		{&ClusterMessage{Type: ClusterDisconnectSockets, Close: true, Opts: Opts{Flags: Flags{Compress: &f2}}},
			`{"opts":{"rooms":[],"except":[],"flags":{"compress":false}},"close":true}`},
	} {
		f, err := tc.m.StreamFields()
		if err != nil {
			t.Fatal(err)
		}
		if f[7] != tc.data {
			t.Errorf("type %d data %s, want %s", tc.m.Type, f[7], tc.data)
		}
	}
}

func TestDecodeStreamEntry(t *testing.T) {
	m, err := DecodeStreamEntry(map[string]any{"uid": uidA, "nsp": "/chat", "type": "3",
		"data": `{"packet":{"type":2,"data":["hello",{"a":1}]},"opts":{"rooms":["room1",7],"except":[],"flags":{"volatile":true}}}`})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != ClusterBroadcast || m.UID != uidA || m.Nsp != "/chat" || m.Packet.Namespace != "/chat" ||
		string(m.Packet.Data) != `["hello",{"a":1}]` || !reflect.DeepEqual(m.Opts.Rooms, []string{"room1", "7"}) ||
		!m.Opts.Flags.Volatile || m.RequestID != "" {
		t.Errorf("decoded %+v %+v", m, m.Packet)
	}

	m, err = DecodeStreamEntry(map[string]any{"uid": uidA, "nsp": "/", "type": "3", "data": goldenStreamBinary})
	if err != nil {
		t.Fatal(err)
	}
	if m.Packet.Type != sio.BinaryEvent || string(m.Packet.Data) != `["bin",{"_placeholder":true,"num":0}]` ||
		!reflect.DeepEqual(m.Packet.Attachments, [][]byte{{1, 2, 3}}) || !m.Opts.Flags.Volatile {
		t.Errorf("binary %+v", m.Packet)
	}

	m, err = DecodeStreamEntry(map[string]any{"uid": uidA, "nsp": "/", "type": "6", "data": `{"opts":{"rooms":[],"except":["x"],"flags":{}},"close":true}`})
	if err != nil || m.Type != ClusterDisconnectSockets || !m.Close || !reflect.DeepEqual(m.Opts.Except, []string{"x"}) {
		t.Errorf("disconnect %+v %v", m, err)
	}

	for name, bad := range map[string]map[string]any{
		"no nsp":        {"uid": uidA, "type": "3", "data": "{}"},
		"no type":       {"uid": uidA, "nsp": "/", "data": "{}"},
		"bad type":      {"uid": uidA, "nsp": "/", "type": "x", "data": "{}"},
		"no data":       {"uid": uidA, "nsp": "/", "type": "3"},
		"bad json":      {"uid": uidA, "nsp": "/", "type": "3", "data": "{nope"},
		"bad base64":    {"uid": uidA, "nsp": "/", "type": "3", "data": "!!"},
		"bad msgpack":   {"uid": uidA, "nsp": "/", "type": "3", "data": base64.StdEncoding.EncodeToString([]byte{0xc1})},
		"no packet":     {"uid": uidA, "nsp": "/", "type": "3", "data": `{"opts":{"rooms":[],"except":[]}}`},
		"no opts":       {"uid": uidA, "nsp": "/", "type": "4", "data": `{"rooms":["a"]}`},
		"bad rooms":     {"uid": uidA, "nsp": "/", "type": "4", "data": `{"opts":{"rooms":[{}],"except":[]},"rooms":[]}`},
		"not an object": {"uid": uidA, "nsp": "/", "type": "3", "data": base64.StdEncoding.EncodeToString([]byte{0x01})},
		"packet data":   {"uid": uidA, "nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":{}},"opts":{"rooms":[],"except":[]}}`},
	} {
		if _, err := DecodeStreamEntry(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestDecodeClusterMessageMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":      {},
		"not a map":  {0x91, 0x01},
		"no type":    unhex(t, "81a3756964a161"),
		"bad type":   unhex(t, "81a474797065a178"),
		"truncated":  unhex(t, goldenClusterFetch)[:20],
		"huge map":   {0xdf, 0xff, 0xff, 0xff, 0xff},
		"bad data":   unhex(t, "82a47479706503a46461746101"),
		"no packet":  unhex(t, "82a47479706509a46461746180"),
		"bad count":  unhex(t, "82a4747970650ba46461746181ab636c69656e74436f756e74a178"),
		"trailing":   append(unhex(t, goldenClusterCount), 0x00),
		"deep value": append(append([]byte{0x82, 0xa4, 't', 'y', 'p', 'e', 0x09, 0xa4, 'd', 'a', 't', 'a', 0x81, 0xa6, 'p', 'a', 'c', 'k', 'e', 't'}, deepArray(2000)...), 0xc0),
	} {
		if _, err := DecodeClusterMessage(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func deepArray(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = 0x91
	}
	return out
}

func TestSessionGolden(t *testing.T) {
	s := adapter.Session{SID: "ssssssssssssssssssss", PID: "pppppppppppppppppppp",
		Rooms: []string{"ssssssssssssssssssss", "room1"}, Data: json.RawMessage(`{}`)}
	v, err := EncodeSession(s)
	if err != nil {
		t.Fatal(err)
	}
	if v != goldenSession {
		t.Errorf("session %s, want %s", v, goldenSession)
	}
	back, err := DecodeSession(goldenSession)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("decoded %+v", back)
	}

	s.Data = json.RawMessage(`{"user":{"name":"é","age":42,"score":1.5,"tags":["a",null,true]}}`)
	v, err = EncodeSession(s)
	if err != nil {
		t.Fatal(err)
	}
	if back, err = DecodeSession(v); err != nil || string(back.Data) != string(s.Data) {
		t.Errorf("data %s %v", back.Data, err)
	}
	s.Data = nil
	v, _ = EncodeSession(s)
	if back, err = DecodeSession(v); err != nil || string(back.Data) != "null" {
		t.Errorf("nil data %s %v", back.Data, err)
	}
	for _, bad := range []string{"!", base64.StdEncoding.EncodeToString([]byte{0x01}), base64.StdEncoding.EncodeToString(unhex(t, "81a3736964a161"))} {
		if _, err := DecodeSession(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
