package eio

import (
	"strings"
	"testing"
)

// benchPackets is a typical long-polling batch: Socket.IO events, a ping and
// a few binary attachments.
func benchPackets() []Packet {
	var ps []Packet
	for i := range 64 {
		switch i % 8 {
		case 3:
			ps = append(ps, bin(Message, []byte(strings.Repeat("\x01\x02\x03\x04", 64))...))
		case 5:
			ps = append(ps, txt(Pong, ""))
		default:
			ps = append(ps, txt(Message, `2["chat message",{"user":"alice","text":"héllo wörld, ça va? €"}]`))
		}
	}
	return ps
}

func BenchmarkDecodePayload(b *testing.B) {
	ps := benchPackets()
	for _, m := range payloadModes {
		body, binaryBody := AppendPayload(nil, m.rev, ps, m.binaryBody)
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			fn := func(Packet) error { return nil }
			for b.Loop() {
				if err := DecodePayload(m.rev, body, binaryBody, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	ps := benchPackets()
	for _, m := range payloadModes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			buf, _ := AppendPayload(nil, m.rev, ps, m.binaryBody)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf, _ = AppendPayload(buf[:0], m.rev, ps, m.binaryBody)
			}
		})
	}
}

func BenchmarkDecodeText(b *testing.B) {
	frames := map[string][]byte{
		"message": []byte(`42["chat message",{"user":"alice","text":"hello world"}]`),
		"base64":  AppendBase64(nil, Rev4, []byte(strings.Repeat("\x01\x02\x03\x04", 64))),
	}
	for name, frame := range frames {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := DecodeText(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
