package sio

import (
	"encoding/json"
	"testing"
)

var benchEvent = []byte(`2/chat,12["message",{"user":"alice","text":"hello world","ts":1700000000000},"extra"]`)

func BenchmarkDecodeEvent(b *testing.B) {
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		p, done, err := d.DecodeText(benchEvent)
		if err != nil || !done || p.ID != 12 {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEventSplitArgs(b *testing.B) {
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := d.DecodeText(benchEvent)
		if err != nil {
			b.Fatal(err)
		}
		if ev, args, err := p.Args(); err != nil || ev != "message" || len(args) != 2 {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	msg := json.RawMessage(`{"user":"alice","text":"hello world","ts":1700000000000}`)
	args := []any{msg, "extra", 42}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		data, att, err := EncodeArgs("message", args)
		if err != nil {
			b.Fatal(err)
		}
		p := Packet{Type: Event, Namespace: "/chat", ID: 12, HasID: true, Data: data, Attachments: att}
		buf = AppendPacket(buf[:0], V5, &p)
	}
}

func BenchmarkBinaryEvent2(b *testing.B) {
	a1 := make([]byte, 1024)
	a2 := make([]byte, 4096)
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	var d Decoder
	for b.Loop() {
		data, att, err := EncodeArgs("upload", []any{"name.bin", a1, a2})
		if err != nil {
			b.Fatal(err)
		}
		p := Packet{Type: Event, Data: data, Attachments: att}
		buf = AppendPacket(buf[:0], V5, &p)
		if _, done, err := d.DecodeText(buf); err != nil || done {
			b.Fatal(err)
		}
		if _, done, err := d.DecodeBinary(att[0]); err != nil || done {
			b.Fatal(err)
		}
		if q, done, err := d.DecodeBinary(att[1]); err != nil || !done || len(q.Attachments) != 2 {
			b.Fatal(err)
		}
	}
}

// echoArg is the argument of the load harness's echo scenario.
const echoArg = `{"seq":1,"data":"0123456789abcdef0123456789abcdef"}`

// BenchmarkDecodeEchoEvent decodes an event with an ack id and one small
// object argument and splits its arguments, as the server does for each
// incoming event.
func BenchmarkDecodeEchoEvent(b *testing.B) {
	wire := []byte(`21["echo",` + echoArg + `]`)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		p, _, err := d.DecodeText(wire)
		if err != nil {
			b.Fatal(err)
		}
		if ev, args, err := p.Args(); err != nil || ev != "echo" || len(args) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAck decodes a client's acknowledgement and splits its
// arguments.
func BenchmarkDecodeAck(b *testing.B) {
	wire := []byte(`3/chat,7[` + echoArg + `,"ok",true]`)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		p, _, err := d.DecodeText(wire)
		if err != nil {
			b.Fatal(err)
		}
		if ev, args, err := p.Args(); err != nil || ev != "" || len(args) != 3 {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeArgsRawMessage encodes an acknowledgement that sends back
// a raw JSON argument, as the echo handler does.
func BenchmarkEncodeArgsRawMessage(b *testing.B) {
	args := []any{json.RawMessage(echoArg)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodeArgs("", args); err != nil {
			b.Fatal(err)
		}
	}
}

// largeDoc is a few kilobytes of mixed JSON: nested objects and arrays,
// escapes, non-ASCII text and numbers of every form.
var largeDoc = func() json.RawMessage {
	var sb []byte
	sb = append(sb, `[`...)
	for i := 0; i < 40; i++ {
		if i > 0 {
			sb = append(sb, ',')
		}
		sb = append(sb, `{"id":12345,"name":"user \"quoted\" \u00e9t\u00e9","tags":["a","b\n","c\\"],`+
			`"score":-12.5e-3,"ok":true,"none":null,"text":"héllo wörld – ünïcode ✓ and a longer run of plain ascii text",`+
			`"nested":{"x":[1,2,3,[4,[5]]],"y":{"z":false}}}`...)
	}
	sb = append(sb, ']')
	return sb
}()

// BenchmarkEncodeArgsLargeRawMessage encodes an event whose argument is a
// few kilobytes of raw JSON.
func BenchmarkEncodeArgsLargeRawMessage(b *testing.B) {
	args := []any{largeDoc}
	b.ReportAllocs()
	b.SetBytes(int64(len(largeDoc)))
	for b.Loop() {
		if _, _, err := EncodeArgs("data", args); err != nil {
			b.Fatal(err)
		}
	}
}
