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
