package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type goldenCase struct {
	name  string
	proto Protocol
	wire  string   // text message
	bins  []string // binary messages that follow
	pkt   Packet
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func atts(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, v := range s {
		out[i] = []byte(v)
	}
	return out
}

const ph0 = `{"_placeholder":true,"num":0}`
const ph1 = `{"_placeholder":true,"num":1}`

// goldenCases decode to pkt and pkt encodes back to exactly wire.
var goldenCases = []goldenCase{
	// Protocol 5.
	{"v5 connect default", V5, `0`, nil, Packet{Type: Connect, Namespace: "/"}},
	{"v5 connect nsp", V5, `0/admin,`, nil, Packet{Type: Connect, Namespace: "/admin"}},
	{"v5 connect auth", V5, `0{"token":"123"}`, nil, Packet{Type: Connect, Namespace: "/", Data: raw(`{"token":"123"}`)}},
	{"v5 connect nsp auth", V5, `0/admin,{"token":"123"}`, nil, Packet{Type: Connect, Namespace: "/admin", Data: raw(`{"token":"123"}`)}},
	{"v5 connect reply", V5, `0{"sid":"wZX3oN0bSVIhsaknAAAI"}`, nil, Packet{Type: Connect, Namespace: "/", Data: raw(`{"sid":"wZX3oN0bSVIhsaknAAAI"}`)}},
	{"v5 connect reply nsp", V5, `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, nil, Packet{Type: Connect, Namespace: "/admin", Data: raw(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
	{"v5 connect query is namespace", V5, `0/admin?x=1,`, nil, Packet{Type: Connect, Namespace: "/admin?x=1"}},
	{"v5 disconnect", V5, `1`, nil, Packet{Type: Disconnect, Namespace: "/"}},
	{"v5 disconnect nsp", V5, `1/admin,`, nil, Packet{Type: Disconnect, Namespace: "/admin"}},
	{"v5 event", V5, `2["foo"]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`["foo"]`)}},
	{"v5 event args", V5, `2["hey","Jude",1,{"a":[true,null]}]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`["hey","Jude",1,{"a":[true,null]}]`)}},
	{"v5 event nsp", V5, `2/admin,["bar"]`, nil, Packet{Type: Event, Namespace: "/admin", Data: raw(`["bar"]`)}},
	{"v5 event ack id", V5, `212["foo"]`, nil, Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: raw(`["foo"]`)}},
	{"v5 event nsp ack id", V5, `2/admin,1["tellme"]`, nil, Packet{Type: Event, Namespace: "/admin", ID: 1, HasID: true, Data: raw(`["tellme"]`)}},
	{"v5 event ack id 0", V5, `20["a"]`, nil, Packet{Type: Event, Namespace: "/", ID: 0, HasID: true, Data: raw(`["a"]`)}},
	{"v5 event max ack id", V5, `218446744073709551615["a"]`, nil, Packet{Type: Event, Namespace: "/", ID: 18446744073709551615, HasID: true, Data: raw(`["a"]`)}},
	{"v5 event numeric name", V5, `2[1,"a",{}]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`[1,"a",{}]`)}},
	{"v5 event reserved-looking", V5, `2["connection"]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`["connection"]`)}},
	{"v5 ack", V5, `312[]`, nil, Packet{Type: Ack, Namespace: "/", ID: 12, HasID: true, Data: raw(`[]`)}},
	{"v5 ack nsp", V5, `3/admin,13["bar"]`, nil, Packet{Type: Ack, Namespace: "/admin", ID: 13, HasID: true, Data: raw(`["bar"]`)}},
	{"v5 ack reserved name ok", V5, `31["disconnect"]`, nil, Packet{Type: Ack, Namespace: "/", ID: 1, HasID: true, Data: raw(`["disconnect"]`)}},
	{"v5 connect error", V5, `4{"message":"Not authorized"}`, nil, Packet{Type: ConnectError, Namespace: "/", Data: raw(`{"message":"Not authorized"}`)}},
	{"v5 connect error invalid nsp", V5, `4/admin,{"message":"Invalid namespace"}`, nil, Packet{Type: ConnectError, Namespace: "/admin", Data: raw(`{"message":"Invalid namespace"}`)}},
	{"v5 connect error data", V5, `4{"message":"x","data":{"code":1}}`, nil, Packet{Type: ConnectError, Namespace: "/", Data: raw(`{"message":"x","data":{"code":1}}`)}},
	{"v5 connect error string", V5, `4"Unauthorized"`, nil, Packet{Type: ConnectError, Namespace: "/", Data: raw(`"Unauthorized"`)}},
	{"v5 binary event", V5, `51-["baz",` + ph0 + `]`, []string{"\x01\x02\x03\x04"},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["baz",` + ph0 + `]`), Attachments: atts("\x01\x02\x03\x04")}},
	{"v5 binary event two", V5, `52-/admin,["baz",` + ph0 + `,` + ph1 + `]`, []string{"\x01\x02", "\x03\x04"},
		Packet{Type: BinaryEvent, Namespace: "/admin", Data: raw(`["baz",` + ph0 + `,` + ph1 + `]`), Attachments: atts("\x01\x02", "\x03\x04")}},
	{"v5 binary event nested", V5, `51-/cool,23["a",{"b":["c",` + ph0 + `]}]`, []string{"abc"},
		Packet{Type: BinaryEvent, Namespace: "/cool", ID: 23, HasID: true, Data: raw(`["a",{"b":["c",` + ph0 + `]}]`), Attachments: atts("abc")}},
	{"v5 binary event empty attachment", V5, `51-["a",` + ph0 + `]`, []string{""},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["a",` + ph0 + `]`), Attachments: atts("")}},
	{"v5 binary event zero attachments", V5, `50-["x"]`, nil, Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["x"]`)}},
	{"v5 binary ack", V5, `61-15["bar",` + ph0 + `]`, []string{"\x01\x02\x03\x04"},
		Packet{Type: BinaryAck, Namespace: "/", ID: 15, HasID: true, Data: raw(`["bar",` + ph0 + `]`), Attachments: atts("\x01\x02\x03\x04")}},
	{"v5 binary ack nsp", V5, `61-/admin,1[` + ph0 + `]`, []string{"\xff"},
		Packet{Type: BinaryAck, Namespace: "/admin", ID: 1, HasID: true, Data: raw(`[` + ph0 + `]`), Attachments: atts("\xff")}},
	{"v5 binary event swapped order", V5, `52-["x",` + ph1 + `,` + ph0 + `]`, []string{"a", "b"},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["x",` + ph1 + `,` + ph0 + `]`), Attachments: atts("a", "b")}},

	// Protocol 4.
	{"v4 connect reply default", V4, `0`, nil, Packet{Type: Connect, Namespace: "/"}},
	{"v4 connect nsp", V4, `0/admin,`, nil, Packet{Type: Connect, Namespace: "/admin"}},
	{"v4 connect query", V4, `0/admin?token=abc&x=1,`, nil, Packet{Type: Connect, Namespace: "/admin", Query: "token=abc&x=1"}},
	{"v4 connect default query", V4, `0/?token=abc,`, nil, Packet{Type: Connect, Namespace: "/", Query: "token=abc"}},
	{"v4 disconnect nsp", V4, `1/admin,`, nil, Packet{Type: Disconnect, Namespace: "/admin"}},
	{"v4 event", V4, `2["foo","bar"]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`["foo","bar"]`)}},
	{"v4 event nsp ack", V4, `2/admin,1["foo"]`, nil, Packet{Type: Event, Namespace: "/admin", ID: 1, HasID: true, Data: raw(`["foo"]`)}},
	{"v4 event non-connect keeps ?", V4, `2/admin?x,["foo"]`, nil, Packet{Type: Event, Namespace: "/admin?x", Data: raw(`["foo"]`)}},
	{"v4 ack", V4, `3/admin,1["bar"]`, nil, Packet{Type: Ack, Namespace: "/admin", ID: 1, HasID: true, Data: raw(`["bar"]`)}},
	{"v4 error string", V4, `4"Not authorized"`, nil, Packet{Type: ConnectError, Namespace: "/", Data: raw(`"Not authorized"`)}},
	{"v4 error invalid nsp", V4, `4/admin,"Invalid namespace"`, nil, Packet{Type: ConnectError, Namespace: "/admin", Data: raw(`"Invalid namespace"`)}},
	{"v4 error object", V4, `4{"message":"Not authorized","code":401}`, nil, Packet{Type: ConnectError, Namespace: "/", Data: raw(`{"message":"Not authorized","code":401}`)}},
	{"v4 error empty", V4, `4`, nil, Packet{Type: ConnectError, Namespace: "/"}},
	{"v4 binary event", V4, `51-["a",` + ph0 + `]`, []string{"abc"},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["a",` + ph0 + `]`), Attachments: atts("abc")}},
	{"v4 binary ack", V4, `61-/back,127["a",` + ph0 + `,{}]`, []string{"xxx"},
		Packet{Type: BinaryAck, Namespace: "/back", ID: 127, HasID: true, Data: raw(`["a",` + ph0 + `,{}]`), Attachments: atts("xxx")}},
}

// decodeOnlyCases are accepted in a non-canonical form; pkt re-encodes to canon.
var decodeOnlyCases = []struct {
	name  string
	proto Protocol
	wire  string
	bins  []string
	pkt   Packet
	canon string
}{
	{"nsp without comma", V5, `1/admin`, nil, Packet{Type: Disconnect, Namespace: "/admin"}, `1/admin,`},
	{"explicit default nsp", V5, `2/,["x"]`, nil, Packet{Type: Event, Namespace: "/", Data: raw(`["x"]`)}, `2["x"]`},
	{"ack id leading zeros", V5, `2007["x"]`, nil, Packet{Type: Event, Namespace: "/", ID: 7, HasID: true, Data: raw(`["x"]`)}, `27["x"]`},
	{"payload whitespace", V5, "21 [ \"x\" , 2 ]\n", nil, Packet{Type: Event, Namespace: "/", ID: 1, HasID: true, Data: raw(`[ "x" , 2 ]`)}, `21[ "x" , 2 ]`},
	{"attachment count leading zero", V5, `501-["x",` + ph0 + `]`, []string{"a"},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["x",` + ph0 + `]`), Attachments: atts("a")}, `51-["x",` + ph0 + `]`},
	{"placeholder key order and spaces", V5, `51-["x",{ "num" : 0 , "_placeholder" : true }]`, []string{"a"},
		Packet{Type: BinaryEvent, Namespace: "/", Data: raw(`["x",{ "num" : 0 , "_placeholder" : true }]`), Attachments: atts("a")}, `51-["x",{ "num" : 0 , "_placeholder" : true }]`},
	{"v4 connect query without comma", V4, `0/admin?a=b`, nil, Packet{Type: Connect, Namespace: "/admin", Query: "a=b"}, `0/admin?a=b,`},
	{"v4 connect empty query", V4, `0/admin?,`, nil, Packet{Type: Connect, Namespace: "/admin"}, `0/admin,`},
	{"v4 connect payload", V4, `0/admin,{"a":1}`, nil, Packet{Type: Connect, Namespace: "/admin", Data: raw(`{"a":1}`)}, `0/admin,{"a":1}`},
}

func packetsEqual(a, b *Packet) bool {
	if a.Type != b.Type || a.Namespace != b.Namespace || a.ID != b.ID || a.HasID != b.HasID ||
		!bytes.Equal(a.Data, b.Data) || (a.Data == nil) != (b.Data == nil) || a.Query != b.Query ||
		len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

// decodeAll feeds a text message and its binary messages and returns the
// completed packet (nil if it did not complete).
func decodeAll(d *Decoder, wire string, bins [][]byte) (*Packet, error) {
	p, done, err := d.DecodeText([]byte(wire))
	if err != nil {
		return nil, err
	}
	for i, b := range bins {
		if done {
			return nil, fmt.Errorf("complete before binary %d", i)
		}
		p, done, err = d.DecodeBinary(b)
		if err != nil {
			return nil, err
		}
	}
	if !done {
		return nil, fmt.Errorf("incomplete: %d attachments awaited", d.Awaiting())
	}
	return p, nil
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Protocol: tc.proto}
			got, err := decodeAll(&d, tc.wire, atts(tc.bins...))
			if err != nil {
				t.Fatalf("decode %q: %v", tc.wire, err)
			}
			if !packetsEqual(got, &tc.pkt) {
				t.Fatalf("decode %q:\n got %+v\nwant %+v", tc.wire, *got, tc.pkt)
			}
			if d.Awaiting() != 0 {
				t.Fatalf("decoder still awaiting")
			}
			enc := AppendPacket(nil, tc.proto, &tc.pkt)
			if string(enc) != tc.wire {
				t.Fatalf("encode: got %q want %q", enc, tc.wire)
			}
		})
	}
}

func TestDecodeNonCanonical(t *testing.T) {
	for _, tc := range decodeOnlyCases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Protocol: tc.proto}
			got, err := decodeAll(&d, tc.wire, atts(tc.bins...))
			if err != nil {
				t.Fatalf("decode %q: %v", tc.wire, err)
			}
			if !packetsEqual(got, &tc.pkt) {
				t.Fatalf("decode %q:\n got %+v\nwant %+v", tc.wire, *got, tc.pkt)
			}
			if enc := AppendPacket(nil, tc.proto, got); string(enc) != tc.canon {
				t.Fatalf("re-encode: got %q want %q", enc, tc.canon)
			}
		})
	}
}

func TestEncodePromotesBinary(t *testing.T) {
	p := &Packet{Type: Event, Namespace: "/x", Data: raw(`["a",` + ph0 + `]`), Attachments: atts("1")}
	if got := string(AppendPacket(nil, V5, p)); got != `51-/x,["a",`+ph0+`]` {
		t.Fatalf("got %q", got)
	}
	p = &Packet{Type: Ack, ID: 3, HasID: true, Data: raw(`[` + ph0 + `]`), Attachments: atts("1")}
	if got := string(AppendPacket([]byte("4"), V5, p)); got != `461-3[`+ph0+`]` {
		t.Fatalf("got %q", got)
	}
	// Empty namespace is the default one; V5 ignores Query.
	p = &Packet{Type: Connect, Query: "a=b"}
	if got := string(AppendPacket(nil, V5, p)); got != `0` {
		t.Fatalf("got %q", got)
	}
	if got := string(AppendPacket(nil, V4, p)); got != `0/?a=b,` {
		t.Fatalf("got %q", got)
	}
}

type errCase struct {
	name  string
	proto Protocol
	wire  string
	bins  []string
	want  error
}

func errCases() []errCase {
	many := strings.Repeat("1", 1_000_000)
	return []errCase{
		{"empty", V5, ``, nil, ErrInvalidPacket},
		{"unknown type", V5, `999`, nil, ErrInvalidPacket},
		{"type 7", V5, `7["x"]`, nil, ErrInvalidPacket},
		{"non digit type", V5, `a`, nil, ErrInvalidPacket},
		{"event toString object", V5, `2[{"toString":"foo"}]`, nil, ErrInvalidPayload},
		{"event bool name", V5, `2[true,"foo"]`, nil, ErrInvalidPayload},
		{"event null name", V5, `2[null,"bar"]`, nil, ErrInvalidPayload},
		{"event nested array name", V5, `2[["a"]]`, nil, ErrInvalidPayload},
		{"event empty array", V5, `2[]`, nil, ErrInvalidPayload},
		{"event empty array spaces", V5, `2[ ]`, nil, ErrInvalidPayload},
		{"event object", V5, `2{}`, nil, ErrInvalidPayload},
		{"event nsp object", V5, `2/admin,{}`, nil, ErrInvalidPayload},
		{"event nsp string", V5, `2/admin,"invalid`, nil, ErrInvalidPayload},
		{"event string", V5, `2"foo"`, nil, ErrInvalidPayload},
		{"event no payload", V5, `2`, nil, ErrInvalidPayload},
		{"event nsp no payload", V5, `2/admin,`, nil, ErrInvalidPayload},
		{"event id no payload", V5, `2/admin,5`, nil, ErrInvalidPayload},
		// Type 4 with ack id 2: ids are not allowed on CONNECT_ERROR.
		{"truncated", V5, `42["some","data"`, nil, ErrInvalidPacket},
		{"truncated v4", V4, `42["some","data"`, nil, ErrInvalidPacket},
		{"truncated reference", V5, `442["some","data"`, nil, ErrInvalidPacket},
		{"truncated no id", V5, `4["some","data"`, nil, ErrInvalidPayload},
		{"truncated event", V5, `2["some","data"`, nil, ErrInvalidPayload},
		{"trailing garbage", V5, `2["a"]x`, nil, ErrInvalidPayload},
		{"two values", V5, `2["a"]["b"]`, nil, ErrInvalidPayload},
		{"reserved connect", V5, `2["connect"]`, nil, ErrReservedEvent},
		{"reserved disconnect", V5, `2["disconnect","123"]`, nil, ErrReservedEvent},
		{"reserved connect_error", V5, `2["connect_error"]`, nil, ErrReservedEvent},
		{"reserved disconnecting", V5, `2["disconnecting"]`, nil, ErrReservedEvent},
		{"reserved newListener", V5, `2["newListener"]`, nil, ErrReservedEvent},
		{"reserved removeListener", V5, `2["removeListener"]`, nil, ErrReservedEvent},
		{"reserved escaped", V5, `2["\u0063onnect"]`, nil, ErrReservedEvent},
		{"reserved nsp ack", V5, `2/admin,4["disconnect"]`, nil, ErrReservedEvent},
		{"reserved binary", V5, `51-["connect",` + ph0 + `]`, nil, ErrReservedEvent},
		{"reserved v4", V4, `2["disconnect"]`, nil, ErrReservedEvent},
		{"ack object", V5, `31{}`, nil, ErrInvalidPayload},
		{"ack no id", V5, `3["a"]`, nil, ErrInvalidPacket},
		{"ack no payload", V5, `31`, nil, ErrInvalidPayload},
		{"binary ack no id", V5, `61-[` + ph0 + `]`, nil, ErrInvalidPacket},

		{"placeholder num string", V5, `51-["hello",{"_placeholder":true,"num":"splice"}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num out of range", V5, `51-["hello",{"_placeholder":true,"num":1}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num 10", V5, `51-["hello",{"_placeholder":true,"num":10}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num -1", V5, `51-["hello",{"_placeholder":true,"num":-1}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num 1.5", V5, `52-["hello",{"_placeholder":true,"num":1.5},` + ph0 + `]`, []string{"a", "b"}, ErrIllegalAttachments},
		{"placeholder num 0.0", V5, `51-["hello",{"_placeholder":true,"num":0.0}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num 1e0", V5, `52-["hello",{"_placeholder":true,"num":1e0},` + ph0 + `]`, []string{"a", "b"}, ErrIllegalAttachments},
		{"placeholder num quoted 0", V5, `51-["hello",{"_placeholder":true,"num":"0"}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num null", V5, `51-["hello",{"_placeholder":true,"num":null}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder num leading zero", V5, `51-["hello",{"_placeholder":true,"num":00}]`, []string{"world"}, ErrInvalidPayload},
		{"placeholder missing num", V5, `51-["hello",{"_placeholder":true}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder false", V5, `51-["hello",{"_placeholder":false,"num":0}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder string true", V5, `51-["hello",{"_placeholder":"true","num":0}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder extra key", V5, `51-["hello",{"_placeholder":true,"num":0,"x":1}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder dup key", V5, `51-["hello",{"_placeholder":true,"num":0,"num":0}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder escaped key dup", V5, `51-["hello",{"_placeholder":true,"num":0,"\u005fplaceholder":true}]`, []string{"world"}, ErrIllegalAttachments},
		{"placeholder used twice", V5, `52-["hello",` + ph0 + `,` + ph0 + `]`, []string{"a", "b"}, ErrIllegalAttachments},
		{"attachment not referenced", V5, `52-["hello",` + ph0 + `,"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]`, []string{"a", "b"}, ErrIllegalAttachments},
		{"no placeholder", V5, `51-["hello","xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]`, []string{"a"}, ErrIllegalAttachments},
		{"placeholder in zero attachments", V5, `50-["hello",` + ph0 + `]`, nil, ErrIllegalAttachments},
		{"placeholder nested bad", V5, `51-["a",{"b":[{"_placeholder":true,"num":3}]},` + ph0 + `]`, []string{"a"}, ErrIllegalAttachments},
		{"count over payload", V5, `59-["a",` + ph0 + `]`, nil, ErrIllegalAttachments},

		{"attachments bare", V5, `5`, nil, ErrIllegalAttachments},
		{"attachments no dash", V5, `51`, nil, ErrIllegalAttachments},
		{"attachments alpha", V5, `5a-`, nil, ErrIllegalAttachments},
		{"attachments decimal", V5, `51.23-`, nil, ErrIllegalAttachments},
		{"attachments negative", V5, `5-1-`, nil, ErrIllegalAttachments},
		{"attachments empty", V5, `5-["a"]`, nil, ErrIllegalAttachments},
		{"attachments no dash payload", V5, `545["a"]`, nil, ErrIllegalAttachments},
		{"attachments plus", V5, `5+1-["a"]`, nil, ErrIllegalAttachments},
		{"attachments 10^6 digits", V5, `5` + many + `-["a"]`, nil, ErrIllegalAttachments},
		{"too many", V5, `511-["x"]`, nil, ErrTooManyAttachments},
		{"too many huge", V5, `5999999999-["x"]`, nil, ErrTooManyAttachments},
		{"too many 20 digits", V5, `599999999999999999999-["x"]`, nil, ErrTooManyAttachments},
		{"too many ack", V5, `611-1["x"]`, nil, ErrTooManyAttachments},

		{"ack id overflow", V5, `2429999999999999999999["x"]`, nil, ErrInvalidPacket},
		{"ack id just over uint64", V5, `218446744073709551616["x"]`, nil, ErrInvalidPacket},
		{"ack id 10^6 digits", V5, `2` + many + `["x"]`, nil, ErrInvalidPacket},
		{"ack id 10^6 digits no payload", V5, `2` + many, nil, ErrInvalidPacket},
		{"invalid ack id", V5, `2abc["x",1]`, nil, ErrInvalidPayload},
		{"ack id then garbage", V5, `21a["x"]`, nil, ErrInvalidPayload},

		{"connect string", V5, `0"string"`, nil, ErrInvalidPayload},
		{"connect array", V5, `0[]`, nil, ErrInvalidPayload},
		{"connect nsp string", V5, `0/admin,"invalid"`, nil, ErrInvalidPayload},
		{"connect null", V5, `0null`, nil, ErrInvalidPayload},
		{"connect with id", V5, `01{}`, nil, ErrInvalidPacket},
		{"connect whitespace only", V5, `0 `, nil, ErrInvalidPayload},
		{"v4 connect array", V4, `0[]`, nil, ErrInvalidPayload},
		{"disconnect payload", V5, `1/admin,{}`, nil, ErrInvalidPayload},
		{"disconnect payload v4", V4, `1/admin,{}`, nil, ErrInvalidPayload},
		{"disconnect id", V5, `1/admin,1`, nil, ErrInvalidPacket},
		{"connect error array", V5, `4[]`, nil, ErrInvalidPayload},
		{"connect error number", V5, `4/a,"x"1`, nil, ErrInvalidPayload},
		{"connect error empty v5", V5, `4`, nil, ErrInvalidPayload},
		{"connect error null", V4, `4null`, nil, ErrInvalidPayload},
		{"v4 error array", V4, `4["x"]`, nil, ErrInvalidPayload},

		{"deep arrays", V5, `2["a",` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]`, nil, ErrInvalidPayload},
		{"deep objects", V5, `2["a",` + strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat("}", 100_000) + `]`, nil, ErrInvalidPayload},
		{"deep unclosed", V5, `2["a",` + strings.Repeat("[", 1_000_000), nil, ErrInvalidPayload},
		{"deep binary", V5, `51-["a",` + ph0 + `,` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]`, nil, ErrInvalidPayload},
		{"deep connect", V5, `0` + strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat("}", 100_000), nil, ErrInvalidPayload},
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range errCases() {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Protocol: tc.proto}
			start := time.Now()
			p, err := decodeAll(&d, tc.wire, atts(tc.bins...))
			if err == nil {
				t.Fatalf("decode %.80q: no error, got %+v", tc.wire, *p)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode %.80q: error %v, want %v", tc.wire, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "sio: ") {
				t.Fatalf("error %q lacks prefix", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("took %v", el)
			}
			if d.Awaiting() != 0 {
				t.Fatalf("decoder kept state after error")
			}
		})
	}
}

func TestReservedIsInvalidPayload(t *testing.T) {
	var d Decoder
	_, _, err := d.DecodeText([]byte(`2["connect"]`))
	if !errors.Is(err, ErrInvalidPayload) || !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("got %v", err)
	}
}

func TestTooManyAttachmentsCustomLimit(t *testing.T) {
	d := Decoder{MaxAttachments: 2}
	_, _, err := d.DecodeText([]byte(`53-["hello",` + ph0 + `,` + ph1 + `,{"_placeholder":true,"num":2}]`))
	if !errors.Is(err, ErrTooManyAttachments) {
		t.Fatalf("got %v", err)
	}
	d = Decoder{MaxAttachments: 1 << 62}
	_, _, err = d.DecodeText([]byte(`599999999999999999999-["x"]`))
	if !errors.Is(err, ErrTooManyAttachments) {
		t.Fatalf("got %v", err)
	}
	// A huge limit does not make the decoder trust a huge count.
	_, _, err = d.DecodeText([]byte(`5999999999-["x"]`))
	if !errors.Is(err, ErrIllegalAttachments) {
		t.Fatalf("got %v", err)
	}
	d = Decoder{MaxAttachments: 11}
	if _, done, err := d.DecodeText([]byte(`511-["x"` + strings.Repeat(",{\"_placeholder\":true,\"num\":0}", 1) + `]`)); err == nil || done {
		t.Fatalf("expected error (10 attachments unreferenced), got done=%v err=%v", done, err)
	}
}

func TestZeroAttachmentsThenBinary(t *testing.T) {
	var d Decoder
	p, done, err := d.DecodeText([]byte(`50-["x"]`))
	if err != nil || !done || p.Type != BinaryEvent {
		t.Fatalf("got %v %v %v", p, done, err)
	}
	if _, _, err := d.DecodeBinary([]byte("a")); !errors.Is(err, ErrUnexpectedBinary) {
		t.Fatalf("got %v", err)
	}
}

func TestBinaryWhenNoneAwaited(t *testing.T) {
	var d Decoder
	if _, _, err := d.DecodeBinary([]byte("world")); !errors.Is(err, ErrUnexpectedBinary) {
		t.Fatalf("got %v", err)
	}
	if _, done, err := d.DecodeText([]byte(`2["a"]`)); err != nil || !done {
		t.Fatalf("after: %v %v", done, err)
	}
	if _, _, err := d.DecodeBinary([]byte("world")); !errors.Is(err, ErrUnexpectedBinary) {
		t.Fatalf("got %v", err)
	}
}

func TestTextWhileReconstructing(t *testing.T) {
	var d Decoder
	if _, done, err := d.DecodeText([]byte(`51-["a",` + ph0 + `]`)); err != nil || done {
		t.Fatalf("got %v %v", done, err)
	}
	if d.Awaiting() != 1 {
		t.Fatalf("awaiting %d", d.Awaiting())
	}
	if _, _, err := d.DecodeText([]byte(`2["b"]`)); !errors.Is(err, ErrUnexpectedText) {
		t.Fatalf("got %v", err)
	}
	// The decoder dropped the partial packet and works again.
	if p, done, err := d.DecodeText([]byte(`2["b"]`)); err != nil || !done || string(p.Data) != `["b"]` {
		t.Fatalf("got %v %v %v", p, done, err)
	}
}

func TestResetResumes(t *testing.T) {
	var d Decoder
	if _, done, err := d.DecodeText([]byte(`52-["hello",` + ph0 + `,` + ph1 + `]`)); err != nil || done {
		t.Fatal(done, err)
	}
	if _, done, err := d.DecodeBinary([]byte("a")); err != nil || done {
		t.Fatal(done, err)
	}
	d.Reset()
	if p, done, err := d.DecodeText([]byte(`2["hello"]`)); err != nil || !done || p.Type != Event {
		t.Fatal(p, done, err)
	}
}

func TestDecodedPacketDoesNotAlias(t *testing.T) {
	var d Decoder
	text := []byte(`51-/nsp,["a",` + ph0 + `]`)
	bin := []byte("xyz")
	if _, _, err := d.DecodeText(text); err != nil {
		t.Fatal(err)
	}
	p, done, err := d.DecodeBinary(bin)
	if err != nil || !done {
		t.Fatal(done, err)
	}
	for i := range text {
		text[i] = 'X'
	}
	bin[0] = 'Q'
	if string(p.Data) != `["a",`+ph0+`]` || p.Namespace != "/nsp" || string(p.Attachments[0]) != "xyz" {
		t.Fatalf("aliased: %+v", p)
	}
}

func TestDecodePacket(t *testing.T) {
	p, err := DecodePacket(V4, []byte(`0/a?b=c,`))
	if err != nil || p.Namespace != "/a" || p.Query != "b=c" {
		t.Fatalf("got %+v %v", p, err)
	}
	if _, err := DecodePacket(V5, []byte(`51-["a",`+ph0+`]`)); !errors.Is(err, ErrIllegalAttachments) {
		t.Fatalf("got %v", err)
	}
	if p, err := DecodePacket(V5, []byte(`50-["a"]`)); err != nil || p.Type != BinaryEvent {
		t.Fatalf("got %v %v", p, err)
	}
}

func TestPacketTypeString(t *testing.T) {
	if ConnectError.String() != "CONNECT_ERROR" || BinaryAck.String() != "BINARY_ACK" || PacketType(9).String() != "PacketType(9)" {
		t.Fatal("names")
	}
}

// With Retain the packet's data and attachments are the caller's buffers;
// the golden cases decode to the same packets either way.
func TestDecoderRetainAliases(t *testing.T) {
	d := Decoder{Retain: true}
	text := []byte(`51-/nsp,["a",` + ph0 + `]`)
	bin := []byte("xyz")
	if _, _, err := d.DecodeText(text); err != nil {
		t.Fatal(err)
	}
	p, done, err := d.DecodeBinary(bin)
	if err != nil || !done {
		t.Fatal(done, err)
	}
	if &p.Data[0] != &text[len(`51-/nsp,`)] || &p.Attachments[0][0] != &bin[0] {
		t.Fatalf("copied rather than retained: %+v", p)
	}
	for _, c := range goldenCases {
		d := Decoder{Protocol: c.proto, Retain: true}
		var got *Packet
		p, done, err := d.DecodeText([]byte(c.wire))
		for _, b := range c.bins {
			if err != nil || done {
				break
			}
			p, done, err = d.DecodeBinary([]byte(b))
		}
		if err != nil || !done {
			t.Fatalf("%s: %v %v", c.name, done, err)
		}
		got = p
		want := c.pkt
		if !packetsEqual(got, &want) {
			t.Fatalf("%s: got %+v, want %+v", c.name, got, want)
		}
	}
}
