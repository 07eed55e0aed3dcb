package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

// Golden vectors: the bytes notepack.io 3.0.1 (the parser of
// @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1) writes for
// the JavaScript values given in the comments.
const (
	// ["aB3x_Z", {type:2, data:["hello","world"], nsp:"/"}, {rooms:["room1"], except:[], flags:{}}]
	goldenAdapterRoom = "93a6614233785f5a83a47479706502a46461746192a568656c6c6fa5776f726c64a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"
	// ["emitter", {type:2, data:["bin", Buffer.from([1,2,3])], nsp:"/"}, {rooms:[], flags:{volatile:true}, except:["r2"]}]
	goldenEmitterBin = "93a7656d697474657283a47479706502a46461746192a362696ec403010203a36e7370a12f83a5726f6f6d7390a5666c61677381a8766f6c6174696c65c3a665786365707491a27232"
	// data: goldenNumbersJSON, nsp "/admin", {rooms:["a","b"], except:["c"], flags:{volatile:true, compress:false, timeout:1500}}
	goldenNumbers     = "93a6614233785f5a83a47479706502a464617461dc0022a16e00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffcb3ff8000000000000cbbfd0000000000000cb3e7ad7f29abcaf48cb40fe240c9fbe76c9cf001fffffffffffffd3ffe0000000000001c0c3c282a16201a161920102d92d6120737472696e672074686174206973206c6f6e676572207468616e207468697274792d6f6e65206279746573a9c3a9e282acf09f9880a0a571225c0a01a36e7370a62f61646d696e83a5726f6f6d7392a161a162a665786365707491a163a5666c61677383a8766f6c6174696c65c3a8636f6d7072657373c2a774696d656f7574cd05dc"
	goldenNumbersJSON = `["n",0,1,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,1.5,-0.25,1e-7,123456.789,9007199254740991,-9007199254740991,null,true,false,{"b":1,"a":[1,2]},"a string that is longer than thirty-one bytes","é€😀","","q\"\\\n\u0001"]`
	// {uid:"aB3x_Z", requestId:"Qw9-kP", type:7, packet:{type:2, data:["ping"], nsp:"/"}, opts:{rooms:[], except:[], flags:{timeout:1000}}}
	goldenBroadcastRequest = "85a3756964a6614233785f5aa9726571756573744964a65177392d6b50a47479706507a67061636b657483a47479706502a46461746191a470696e67a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd03e8"
	// {type:9, requestId:"Qw9-kP", packet:"pong"}
	goldenAck = "83a47479706509a9726571756573744964a65177392d6b50a67061636b6574a4706f6e67"
	// {type:9, requestId:"Qw9-kP", packet:{x:Buffer.from([9,8]), y:[Buffer.from([7])]}}
	goldenAckBin = "83a47479706509a9726571756573744964a65177392d6b50a67061636b657482a178c4020908a17991c40107"
	// {type:9, requestId:"Qw9-kP", packet:undefined}
	goldenAckNone = "82a47479706509a9726571756573744964a65177392d6b50"
	// ["u", {type:2, data:["d", new Date(Date.UTC(2000,5,13)), new Date(Date.UTC(2024,0,2,3,4,5,678))], nsp:"/"}, {rooms:[], except:[], flags:{}}]
	goldenDate = "93a17583a47479706502a46461746193a164d6ff39457980d7ffa1a5d60065937d25a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"
	// ["u", {type:2, data:["x"], nsp:"/"}, {rooms:[123], except:[4.5], flags:{}}]
	goldenNumericRooms = "93a17583a47479706502a46461746191a178a36e7370a12f83a5726f6f6d73917ba665786365707491cb4012000000000000a5666c61677380"
	// ["u", {type:2, data:["ev", {deep:{bin:Buffer.from("hi"), list:[1, Buffer.from([0]), "s"]}}], nsp:"/"}, {rooms:[], except:[], flags:{}}]
	goldenNested = "93a17583a47479706502a46461746192a2657681a46465657082a362696ec4026869a46c6973749301c40100a173a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eq(t *testing.T, what string, got []byte, wantHex string) {
	t.Helper()
	if g := hex.EncodeToString(got); g != wantHex {
		t.Errorf("%s:\n got %s\nwant %s", what, g, wantHex)
	}
}

func event(data string, atts ...[]byte) *sio.Packet {
	p := &sio.Packet{Type: sio.Event, Namespace: "/", Data: json.RawMessage(data)}
	if len(atts) > 0 {
		p.Type, p.Attachments = sio.BinaryEvent, atts
	}
	return p
}

func TestEncodeBroadcastGolden(t *testing.T) {
	b, err := EncodeBroadcast("aB3x_Z", "/", event(`["hello","world"]`), Opts{Rooms: []string{"room1"}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "adapter room broadcast", b, goldenAdapterRoom)

	b, err = EncodeBroadcast(EmitterUID, "/", event(`["bin",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3}),
		Opts{Except: []string{"r2"}, Flags: Flags{Volatile: true}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "emitter binary broadcast", b, goldenEmitterBin)

	f := false
	b, err = EncodeBroadcast("aB3x_Z", "/admin", event(goldenNumbersJSON),
		Opts{Rooms: []string{"a", "b"}, Except: []string{"c", "c"}, Flags: Flags{Volatile: true, Compress: &f, Timeout: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "numbers", b, goldenNumbers)

	b, err = EncodeBroadcast("u", "/", event(`["ev",{"deep":{"bin":{"_placeholder":true,"num":0},"list":[1,{"_placeholder":true,"num":1},"s"]}}]`,
		[]byte("hi"), []byte{0}), Opts{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "nested binary", b, goldenNested)
}

func TestEncodeIntegerValuedFloats(t *testing.T) {
	// JSON.parse gives one number type: 1.0 and 1e3 are integers for
	// notepack.io.
	b, err := EncodeBroadcast("u", "/", event(`["x",1.0,1e3,-2.0e0,0.5]`), Opts{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeBroadcast(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Packet.Data); got != `["x",1,1000,-2,0.5]` {
		t.Errorf("data %s", got)
	}
	if !bytes.Contains(b, unhex(t, "01cd03e8fecb3fe0000000000000")) {
		t.Errorf("unexpected encoding %x", b)
	}
}

func TestDecodeBroadcastGolden(t *testing.T) {
	m, err := DecodeBroadcast(unhex(t, goldenAdapterRoom))
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "aB3x_Z" || m.Packet.Namespace != "/" || m.Packet.Type != sio.Event ||
		string(m.Packet.Data) != `["hello","world"]` || !reflect.DeepEqual(m.Opts.Rooms, []string{"room1"}) ||
		len(m.Opts.Except) != 0 || m.Opts.Flags != (Flags{}) {
		t.Errorf("decoded %+v %+v", m, m.Packet)
	}
	a := m.Opts.Adapter()
	if !a.Flags.Compress || a.Flags.Volatile {
		t.Errorf("adapter flags %+v", a.Flags)
	}

	m, err = DecodeBroadcast(unhex(t, goldenEmitterBin))
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != EmitterUID || m.Packet.Type != sio.BinaryEvent || string(m.Packet.Data) != `["bin",{"_placeholder":true,"num":0}]` ||
		!reflect.DeepEqual(m.Packet.Attachments, [][]byte{{1, 2, 3}}) || !m.Opts.Flags.Volatile ||
		!reflect.DeepEqual(m.Opts.Except, []string{"r2"}) {
		t.Errorf("decoded %+v %+v", m, m.Packet)
	}

	m, err = DecodeBroadcast(unhex(t, goldenNumbers))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Packet.Data) != goldenNumbersJSON || m.Packet.Namespace != "/admin" {
		t.Errorf("numbers: %s", m.Packet.Data)
	}
	if m.Opts.Flags.Compress == nil || *m.Opts.Flags.Compress || m.Opts.Flags.Timeout != 1500*time.Millisecond || !m.Opts.Flags.Volatile {
		t.Errorf("flags %+v", m.Opts.Flags)
	}
	if a := m.Opts.Adapter(); a.Flags.Compress {
		t.Errorf("compress:false lost")
	}

	m, err = DecodeBroadcast(unhex(t, goldenDate))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Packet.Data); got != `["d","2000-06-13T00:00:00.000Z","2024-01-02T03:04:05.678Z"]` {
		t.Errorf("dates: %s", got)
	}

	m, err = DecodeBroadcast(unhex(t, goldenNumericRooms))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Opts.Rooms, []string{"123"}) || !reflect.DeepEqual(m.Opts.Except, []string{"4.5"}) {
		t.Errorf("numeric rooms %q %q", m.Opts.Rooms, m.Opts.Except)
	}

	m, err = DecodeBroadcast(unhex(t, goldenNested))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Packet.Data); got != `["ev",{"deep":{"bin":{"_placeholder":true,"num":0},"list":[1,{"_placeholder":true,"num":1},"s"]}}]` ||
		!reflect.DeepEqual(m.Packet.Attachments, [][]byte{[]byte("hi"), {0}}) {
		t.Errorf("nested %s %q", got, m.Packet.Attachments)
	}
}

func TestDecodeBroadcastMissingNsp(t *testing.T) {
	// ["u", {type:2, data:["x"]}, {rooms:[], except:[]}]
	b := unhex(t, "93a17582a47479706502a46461746191a17882a5726f6f6d7390a665786365707490")
	m, err := DecodeBroadcast(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Packet.Namespace != "/" {
		t.Errorf("nsp %q", m.Packet.Namespace)
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, h := range []string{
		"",             // empty
		"c0",           // nil
		"92a175c0",     // two elements
		"93a175c0c0",   // nil packet
		"93a1758180c0", // bad packet / opts
		"93a17583a47479706501a46461746191a178a36e7370a12f80",       // type 1
		"93a17583a47479706502a46461746190a36e7370a12f80",           // empty data
		"93a17583a47479706502a46461746191a178a36e7370a12f80ff",     // trailing byte
		"93a17583a47479706502a46461746191a178a36e7370a12fa3616263", // opts not a map
		"93a17583a47479706502a464617461dd7fffffff",                 // huge array, truncated
		"93a17583a47479706502a464617461c7ff05",                     // truncated ext
	} {
		b, _ := hex.DecodeString(h)
		if _, err := DecodeBroadcast(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v", h, err)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, 5000)
	if _, err := DecodeBroadcast(append([]byte{0x93, 0xa1, 'u', 0x83, 0xa4, 't', 'y', 'p', 'e', 2, 0xa4, 'd', 'a', 't', 'a'}, deep...)); err == nil {
		t.Error("deep nesting accepted")
	}
	for _, s := range []string{"", "{", "[1]", `{"type":"x"}`, "\x85", `{"type":5}`, `{"type":7,"uid":"a"}`, `{"type":6,"data":{}}`} {
		if _, err := DecodeRequest([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("request %q: err %v", s, err)
		}
	}
}

func TestRequestGolden(t *testing.T) {
	b, err := EncodeRequest(&Request{Type: BroadcastWithAck, UID: "aB3x_Z", RequestID: "Qw9-kP",
		Packet: event(`["ping"]`), Opts: &Opts{Flags: Flags{Timeout: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "broadcast request", b, goldenBroadcastRequest)
	r, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != BroadcastWithAck || r.UID != "aB3x_Z" || r.RequestID != "Qw9-kP" || string(r.Packet.Data) != `["ping"]` ||
		r.Opts.Flags.Timeout != time.Second {
		t.Errorf("decoded %+v", r)
	}

	for _, c := range []struct {
		r    Request
		want string
	}{
		{Request{Type: RemoteJoin, UID: "aB3x_Z", Opts: &Opts{Rooms: []string{"room1"}}, Rooms: []string{"room2", "room3"}},
			`{"uid":"aB3x_Z","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2","room3"]}`},
		{Request{Type: RemoteFetch, UID: "aB3x_Z", RequestID: "Qw9-kP", Opts: &Opts{}},
			`{"uid":"aB3x_Z","requestId":"Qw9-kP","type":5,"opts":{"rooms":[],"except":[]}}`},
		{Request{Type: ServerSideEmit, UID: EmitterUID, Data: json.RawMessage(`["hello","world"]`)},
			`{"uid":"emitter","type":6,"data":["hello","world"]}`},
		{Request{Type: RemoteDisconnect, Opts: &Opts{Except: []string{"x"}}, Close: true},
			`{"type":4,"opts":{"rooms":[],"except":["x"]},"close":true}`},
		{Request{Type: AllRooms, UID: "u", RequestID: "r"}, `{"uid":"u","requestId":"r","type":1}`},
	} {
		b, err := EncodeRequest(&c.r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got  %s\nwant %s", b, c.want)
		}
		r, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if r.Type != c.r.Type || r.UID != c.r.UID || r.RequestID != c.r.RequestID || r.Close != c.r.Close {
			t.Errorf("%s decoded as %+v", b, r)
		}
	}

	// Legacy and numeric forms a JS node may send.
	r, err = DecodeRequest([]byte(`{"uid":"x","requestId":"y","type":2,"sid":"abc","room":42}`))
	if err != nil || r.Opts != nil || r.SID != "abc" || r.Room != "42" {
		t.Errorf("legacy join %+v %v", r, err)
	}
}

func TestResponses(t *testing.T) {
	b, err := EncodeBroadcastAck("Qw9-kP", &sio.Packet{Type: sio.Ack, Data: json.RawMessage(`["pong","ignored"]`)})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "ack", b, goldenAck)
	b, err = EncodeBroadcastAck("Qw9-kP", &sio.Packet{Type: sio.BinaryAck,
		Data:        json.RawMessage(`[{"x":{"_placeholder":true,"num":0},"y":[{"_placeholder":true,"num":1}]}]`),
		Attachments: [][]byte{{9, 8}, {7}}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "binary ack", b, goldenAckBin)
	b, err = EncodeBroadcastAck("Qw9-kP", &sio.Packet{Type: sio.Ack, Data: json.RawMessage(`[]`)})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "empty ack", b, goldenAckNone)

	r, err := DecodeResponse(unhex(t, goldenAckBin))
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != BroadcastAck || r.RequestID != "Qw9-kP" || r.Ack.Type != sio.BinaryAck ||
		string(r.Ack.Data) != `[{"x":{"_placeholder":true,"num":0},"y":[{"_placeholder":true,"num":1}]}]` ||
		!reflect.DeepEqual(r.Ack.Attachments, [][]byte{{9, 8}, {7}}) {
		t.Errorf("ack %+v %+v", r, r.Ack)
	}
	r, err = DecodeResponse(unhex(t, goldenAckNone))
	if err != nil || string(r.Ack.Data) != "[]" {
		t.Errorf("empty ack %+v %v", r, err)
	}

	if got := string(EncodeClientCount("Qw9-kP", 2)); got != `{"type":8,"requestId":"Qw9-kP","clientCount":2}` {
		t.Errorf("client count %s", got)
	}
	r, err = DecodeResponse(EncodeClientCount("Qw9-kP", 2))
	if err != nil || r.Type != BroadcastClientCount || r.ClientCount != 2 {
		t.Errorf("client count %+v %v", r, err)
	}

	infos := []adapter.SocketInfo{{ID: "s1", Handshake: json.RawMessage(`{"auth":{}}`), Rooms: []string{"s1", "r"}, Data: json.RawMessage(`{"a":1}`)}, {ID: "s2"}}
	b = EncodeFetchResponse("q", infos)
	want := `{"requestId":"q","sockets":[{"id":"s1","handshake":{"auth":{}},"rooms":["s1","r"],"data":{"a":1}},{"id":"s2","handshake":{},"rooms":[],"data":null}]}`
	if string(b) != want {
		t.Errorf("fetch response %s", b)
	}
	r, err = DecodeResponse(b)
	if err != nil || !r.HasSockets || len(r.Sockets) != 2 {
		t.Fatalf("fetch response %+v %v", r, err)
	}
	info, err := DecodeSocketInfo(r.Sockets[0])
	if err != nil || info.ID != "s1" || !reflect.DeepEqual(info.Rooms, []string{"s1", "r"}) || string(info.Data) != `{"a":1}` {
		t.Errorf("socket %+v %v", info, err)
	}
	if got := string(EncodeServerSideAck("q", json.RawMessage(`"ok"`))); got != `{"type":6,"requestId":"q","data":"ok"}` {
		t.Errorf("server-side ack %s", got)
	}
}

func TestChannels(t *testing.T) {
	c := NewChannels("", "/")
	if c.Broadcast != "socket.io#/#" || c.Request != "socket.io-request#/#" || c.Response != "socket.io-response#/#" ||
		c.Pattern() != "socket.io#/#*" || c.SpecificResponse("aB3x_Z") != "socket.io-response#/#aB3x_Z#" ||
		c.ForRooms([]string{"room1"}) != "socket.io#/#room1#" || c.ForRooms([]string{"a", "b"}) != "socket.io#/#" ||
		c.ForRooms(nil) != "socket.io#/#" {
		t.Errorf("channels %+v", c)
	}
	for ch, want := range map[string]string{"socket.io#/#": "", "socket.io#/#room1#": "room1", "socket.io#/#a#b#": "a#b"} {
		if room, ok := c.RoomOf(ch); !ok || room != want {
			t.Errorf("%s: %q %v", ch, room, ok)
		}
	}
	if _, ok := c.RoomOf("socket.io#/admin#"); ok {
		t.Error("other namespace accepted")
	}
}

func TestJSNumbers(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 1: "1", -1.5: "-1.5", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-7: "1e-7", 0.000001: "0.000001", 123456.789: "123456.789", 2.5e-10: "2.5e-10"} {
		if got := string(AppendJSNumber(nil, f)); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, h := range []string{goldenAdapterRoom, goldenEmitterBin, goldenNumbers, goldenBroadcastRequest, goldenAckBin, goldenDate, goldenNested} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeBroadcast(b); err == nil && bytes.Count(m.Packet.Data, []byte("_placeholder")) == len(m.Packet.Attachments) {
			// What decodes re-encodes, and decodes to the same packet.
			out, err := EncodeBroadcast(m.UID, m.Packet.Namespace, m.Packet, m.Opts)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			m2, err := DecodeBroadcast(out)
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if !bytes.Equal(m.Packet.Data, m2.Packet.Data) || len(m.Packet.Attachments) != len(m2.Packet.Attachments) {
				t.Fatalf("round trip: %s != %s", m.Packet.Data, m2.Packet.Data)
			}
		}
		_, _ = DecodeRequest(b)
		_, _ = DecodeResponse(b)
	})
}

func BenchmarkEncodeBroadcast(b *testing.B) {
	p := event(`["chat",{"user":"alice","text":"hello, world","ts":1712345678901,"tags":["a","b"]}]`)
	o := Opts{Rooms: []string{"room1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeBroadcast("aB3x_Z", "/", p, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBroadcast(b *testing.B) {
	msg, _ := EncodeBroadcast("aB3x_Z", "/", event(`["chat",{"user":"alice","text":"hello, world","ts":1712345678901,"tags":["a","b"]}]`), Opts{Rooms: []string{"room1"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBroadcast(msg); err != nil {
			b.Fatal(err)
		}
	}
}
