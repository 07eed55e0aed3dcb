package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type point struct {
	X   int    `json:"x"`
	Y   int    `json:"y"`
	Tag string `json:"tag,omitempty"`
}

func TestEncodeArgs(t *testing.T) {
	tests := []struct {
		name  string
		event string
		args  []any
		want  string
		atts  []string
	}{
		{"no args", "hello", nil, `["hello"]`, nil},
		{"ack no args", "", nil, `[]`, nil},
		{"ack args", "", []any{"ok", 1}, `["ok",1]`, nil},
		{"strings", "msg", []any{"a", "", "q\"b\\s/<&>"}, `["msg","a","","q\"b\\s/<&>"]`, nil},
		{"control and unicode", "e", []any{"\n\r\t\b\f\x01\x1f é ☃ \u2028\u2029 \xff"},
			`["e","\n\r\t\b\f\u0001\u001f é ☃ \u2028\u2029 \ufffd"]`, nil},
		{"event escaped", "a\"b", nil, `["a\"b"]`, nil},
		{"numbers", "n", []any{1, int8(-2), int16(3), int32(-4), int64(5), uint(6), uint8(7), uint16(8), uint32(9), uint64(math.MaxUint64)},
			`["n",1,-2,3,-4,5,6,7,8,9,18446744073709551615]`, nil},
		{"floats", "f", []any{1.5, 0.0, -0.25, 1e21, 1e-7, 123456789.0, float32(0.1), 1e20},
			`["f",1.5,0,-0.25,1e+21,1e-7,123456789,0.1,100000000000000000000]`, nil},
		{"bool nil", "b", []any{true, false, nil}, `["b",true,false,null]`, nil},
		{"json.Number", "n", []any{json.Number("12.5e3"), json.Number("")}, `["n",12.5e3,0]`, nil},
		{"raw", "r", []any{json.RawMessage(`{"a": [1, 2]}`), json.RawMessage(` "x" `), json.RawMessage(nil)},
			`["r",{"a": [1, 2]},"x",null]`, nil},
		{"struct", "s", []any{point{X: 1, Y: 2}, &point{X: 3, Y: 4, Tag: "<t>"}},
			`["s",{"x":1,"y":2},{"x":3,"y":4,"tag":"<t>"}]`, nil},
		{"string slice", "s", []any{[]string{"a", "b"}, []string(nil)}, `["s",["a","b"],null]`, nil},
		{"map sorted", "m", []any{map[string]any{"b": 1, "a": "x", "c": nil}}, `["m",{"a":"x","b":1,"c":null}]`, nil},
		{"bytes", "upload", []any{[]byte{1, 2, 3}}, `["upload",` + ph0 + `]`, []string{"\x01\x02\x03"}},
		{"bytes ack", "", []any{[]byte("x"), "y"}, `[` + ph0 + `,"y"]`, []string{"x"}},
		{"nested bytes in order", "n", []any{
			[]byte("first"),
			map[string]any{"z": []byte("third"), "a": []any{"s", []byte("second")}},
			[][]byte{[]byte("fourth"), []byte("fifth")},
		}, `["n",` + ph0 + `,{"a":["s",` + ph1 + `],"z":{"_placeholder":true,"num":2}},[{"_placeholder":true,"num":3},{"_placeholder":true,"num":4}]]`,
			[]string{"first", "second", "third", "fourth", "fifth"}},
		{"empty bytes", "e", []any{[]byte{}, []byte(nil)}, `["e",` + ph0 + `,` + ph1 + `]`, []string{"", ""}},
		{"struct bytes base64", "s", []any{struct {
			B []byte `json:"b"`
		}{[]byte("hi")}}, `["s",{"b":"aGk="}]`, nil},
		{"nil any slice and map", "x", []any{[]any(nil), map[string]any(nil), []any{}}, `["x",null,null,[]]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, att, err := EncodeArgs(tc.event, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Fatalf("got  %s\nwant %s", data, tc.want)
			}
			if !json.Valid(data) {
				t.Fatalf("invalid JSON %s", data)
			}
			if len(att) != len(tc.atts) {
				t.Fatalf("attachments %q want %q", att, tc.atts)
			}
			for i := range att {
				if string(att[i]) != tc.atts[i] {
					t.Fatalf("attachment %d %q want %q", i, att[i], tc.atts[i])
				}
			}
			// What EncodeArgs builds, the decoder accepts.
			typ := Event
			p := &Packet{Type: typ, Data: data, Attachments: att}
			if tc.event == "" {
				p.Type, p.HasID, p.ID = Ack, true, 9
			}
			wire := AppendPacket(nil, V5, p)
			var d Decoder
			got, err := decodeAll(&d, string(wire), att)
			if err != nil {
				t.Fatalf("decode %s: %v", wire, err)
			}
			if !bytes.Equal(got.Data, data) {
				t.Fatalf("round trip %s", got.Data)
			}
		})
	}
}

func TestEncodeArgsErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	deep := []any{}
	for range 2000 {
		deep = []any{deep}
	}
	for name, args := range map[string][]any{
		"nan":        {math.NaN()},
		"inf":        {math.Inf(1)},
		"float32inf": {float32(math.Inf(-1))},
		"raw":        {json.RawMessage(`{"a":`)},
		"number":     {json.Number("1x")},
		"cyclic":     {cyclic},
		"deep":       {deep},
		"chan":       {make(chan int)},
		"nested nan": {map[string]any{"a": []any{math.NaN()}}},
	} {
		if _, _, err := EncodeArgs("e", args); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		data  string
		event string
		args  []string
	}{
		{`["foo"]`, "foo", nil},
		{`["foo",1,"two",{"a":[1,"]"]},[],null,true]`, "foo", []string{`1`, `"two"`, `{"a":[1,"]"]}`, `[]`, `null`, `true`}},
		{` [ "a\"b" , { "x" : "}" } , 2 ] `, `a"b`, []string{`{ "x" : "}" }`, `2`}},
		{`["\u00e9v\n"]`, "év\n", nil},
		{`[1,"a"]`, "1", []string{`"a"`}},
		{`[-0,"a"]`, "0", []string{`"a"`}},
		{`[1.50]`, "1.5", nil},
		{`[1e21]`, "1e+21", nil},
		{`[1.5e-7]`, "1.5e-7", nil},
		{`[1E400]`, "Infinity", nil},
		{`[100]`, "100", nil},
		{`["a",` + ph0 + `]`, "a", []string{ph0}},
	}
	for _, tc := range tests {
		ev, args, err := SplitArgs(json.RawMessage(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.data, err)
		}
		if ev != tc.event || len(args) != len(tc.args) {
			t.Fatalf("%s: got %q %q", tc.data, ev, args)
		}
		for i := range args {
			if string(args[i]) != tc.args[i] {
				t.Fatalf("%s: arg %d %s want %s", tc.data, i, args[i], tc.args[i])
			}
		}
	}
	for _, bad := range []string{``, `[]`, `{}`, `"a"`, `[true]`, `[null]`, `[{}]`, `["a"`, `["a"]x`, `[[1]]`,
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000)} {
		if _, _, err := SplitArgs(json.RawMessage(bad)); !errors.Is(err, ErrInvalidPayload) {
			t.Fatalf("%.40s: got %v", bad, err)
		}
	}
}

func TestSplitAckAndArgs(t *testing.T) {
	args, err := SplitAck(json.RawMessage(`["foo",1]`))
	if err != nil || len(args) != 2 || string(args[0]) != `"foo"` {
		t.Fatalf("got %q %v", args, err)
	}
	args, err = SplitAck(json.RawMessage(`[]`))
	if err != nil || len(args) != 0 {
		t.Fatalf("got %q %v", args, err)
	}
	if _, err := SplitAck(json.RawMessage(`{}`)); err == nil {
		t.Fatal("object accepted")
	}

	p := &Packet{Type: Ack, Data: raw(`["foo",1]`)}
	ev, args, err := p.Args()
	if err != nil || ev != "" || len(args) != 2 {
		t.Fatalf("ack: %q %q %v", ev, args, err)
	}
	p = &Packet{Type: BinaryEvent, Data: raw(`["up",` + ph0 + `]`)}
	ev, args, err = p.Args()
	if err != nil || ev != "up" || len(args) != 1 {
		t.Fatalf("event: %q %q %v", ev, args, err)
	}
	if n, ok := IsPlaceholder(args[0]); !ok || n != 0 {
		t.Fatalf("placeholder %d %v", n, ok)
	}
	if _, _, err := (&Packet{Type: Connect}).Args(); err == nil {
		t.Fatal("connect has args")
	}
}

func TestIsPlaceholder(t *testing.T) {
	good := map[string]int{
		ph0:                                     0,
		ph1:                                     1,
		`{"_placeholder":true,"num":123456789}`: 123456789,
		` { "num" : 7 , "_placeholder" : true } `:   7,
		"{\n\"_placeholder\":\ttrue,\r\"num\":3}":   3,
		`{"\u005fplaceholder":true,"n\u0075m":2}`:   2,
		`{"\u005F\u0070laceholder":true,"num":0}`:   0,
		`{"_placeholder":true,"num":0            }`: 0,
	}
	for in, want := range good {
		if n, ok := IsPlaceholder(json.RawMessage(in)); !ok || n != want {
			t.Errorf("%s: got %d %v", in, n, ok)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"x"`, `{}`,
		`{"_placeholder":true}`,
		`{"num":0}`,
		`{"_placeholder":false,"num":0}`,
		`{"_placeholder":"true","num":0}`,
		`{"_placeholder":1,"num":0}`,
		`{"_placeholder":true,"num":"0"}`,
		`{"_placeholder":true,"num":-1}`,
		`{"_placeholder":true,"num":1.5}`,
		`{"_placeholder":true,"num":1e0}`,
		`{"_placeholder":true,"num":01}`,
		`{"_placeholder":true,"num":1234567890}`,
		`{"_placeholder":true,"num":0,"x":1}`,
		`{"x":1,"_placeholder":true,"num":0}`,
		`{"_placeholder":true,"num":0,"num":0}`,
		`{"_placeholder":true,"_placeholder":true,"num":0}`,
		`{"_placeholder":truex,"num":0}`,
		`{"_placeholder":true,"num":0}x`,
		`{"_placeholder":true,"num":0`,
		`{"_placeholder":true,"num":0,}`,
		`{"_placeholder":true "num":0}`,
		`{"_placeholder" true,"num":0}`,
		`{"_placeholder":true,"num":}`,
		`{"_placeholder\":true,"num":0}`,
		`{"` + strings.Repeat("a", 1000) + `":true,"num":0}`,
	}
	for _, in := range bad {
		if n, ok := IsPlaceholder(json.RawMessage(in)); ok {
			t.Errorf("%.60s: accepted as %d", in, n)
		}
	}
}

func TestReconstruct(t *testing.T) {
	a := atts("zero", "one")
	v, err := Reconstruct(raw(`{"f":[`+ph1+`,{"g":`+ph0+`}],"n":1}`), a)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"f": []any{[]byte("one"), map[string]any{"g": []byte("zero")}}, "n": 1.0}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	if v, err := Reconstruct(raw(ph0), a); err != nil || string(v.([]byte)) != "zero" {
		t.Fatalf("top level: %v %v", v, err)
	}
	// Without attachments placeholders stay data.
	if v, err := Reconstruct(raw(ph0), nil); err != nil || v.(map[string]any)["num"] != 0.0 {
		t.Fatalf("nil attachments: %v %v", v, err)
	}
	for _, bad := range []string{
		`{"_placeholder":true,"num":2}`,
		`{"_placeholder":true,"num":-1}`,
		`{"_placeholder":true,"num":0.5}`,
		`{"_placeholder":true,"num":"0"}`,
		`{"_placeholder":false,"num":0}`,
		`{"_placeholder":true,"num":0,"x":1}`,
		`[{"_placeholder":true}]`,
	} {
		if _, err := Reconstruct(raw(bad), a); !errors.Is(err, ErrIllegalAttachments) {
			t.Errorf("%s: got %v", bad, err)
		}
	}
	if _, err := Reconstruct(raw(`[`), a); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("got %v", err)
	}
}

// TestDecodedPlaceholdersBind checks the contract the socket layer relies on:
// in a decoded binary packet, every top-level placeholder argument indexes
// Attachments and Reconstruct succeeds on every argument.
func TestDecodedPlaceholdersBind(t *testing.T) {
	for _, tc := range goldenCases {
		if !tc.pkt.Type.IsBinary() {
			continue
		}
		d := Decoder{Protocol: tc.proto}
		p, err := decodeAll(&d, tc.wire, atts(tc.bins...))
		if err != nil {
			t.Fatal(err)
		}
		checkBinding(t, p)
	}
}

func checkBinding(t testing.TB, p *Packet) {
	t.Helper()
	_, args, err := p.Args()
	if err != nil {
		t.Fatalf("%s: args: %v", p.Data, err)
	}
	for _, a := range args {
		if n, ok := IsPlaceholder(a); ok && n >= len(p.Attachments) {
			t.Fatalf("%s: placeholder %d out of %d", p.Data, n, len(p.Attachments))
		}
		if _, err := Reconstruct(a, p.Attachments); err != nil {
			t.Fatalf("%s: reconstruct %s: %v", p.Data, a, err)
		}
	}
}

// SplitArgsTo fills the caller's array when it is large enough and gives
// what SplitArgs gives; AppendArgs appends to what the buffer holds.
func TestSplitArgsToAndAppendArgs(t *testing.T) {
	var arr [4]json.RawMessage
	for _, payload := range []string{`["ev"]`, `["ev",1,{"a":[2]},"x"]`, `["ev",1,2,3,4,5]`, ` [ "e\u0076" , null ] `} {
		name, args, err := SplitArgsTo(arr[:0], json.RawMessage(payload))
		wantName, wantArgs, wantErr := SplitArgs(json.RawMessage(payload))
		if err != nil || wantErr != nil || name != wantName || !reflect.DeepEqual(args, wantArgs) {
			t.Fatalf("%s: %q %q %v, want %q %q %v", payload, name, args, err, wantName, wantArgs, wantErr)
		}
		if len(args) > 0 && len(args) <= 3 && &args[0] != &arr[1] {
			t.Fatalf("%s: arguments not in the caller's array", payload)
		}
	}
	if _, _, err := SplitArgsTo(arr[:0], json.RawMessage(`{"a":1}`)); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("object payload: %v", err)
	}
	b, atts, err := AppendArgs([]byte("prefix:"), "ev", []any{1, []byte{7}, point{X: 1}})
	if err != nil || string(b) != `prefix:["ev",1,{"_placeholder":true,"num":0},{"x":1,"y":0}]` || len(atts) != 1 {
		t.Fatalf("AppendArgs: %q %v %v", b, atts, err)
	}
	msg := json.RawMessage(`["ev",{"seq":1},"x"]`)
	if allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = SplitArgsTo(arr[:0], msg)
	}); allocs > 1 { // the event name's string
		t.Fatalf("SplitArgsTo: %v allocations", allocs)
	}
}
