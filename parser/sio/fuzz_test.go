package sio

import (
	"encoding/json"
	"testing"
)

func fuzzProto(b byte) Protocol {
	if b&1 == 0 {
		return V4
	}
	return V5
}

func protoByte(p Protocol) byte {
	if p == V4 {
		return 0
	}
	return 1
}

func addTextSeeds(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(protoByte(tc.proto), []byte(tc.wire))
	}
	for _, tc := range decodeOnlyCases {
		f.Add(protoByte(tc.proto), []byte(tc.wire))
	}
	for _, tc := range errCases() {
		if len(tc.wire) < 4096 {
			f.Add(protoByte(tc.proto), []byte(tc.wire))
		}
	}
}

// checkRoundTrip re-encodes a decoded packet and decodes it again.
func checkRoundTrip(t *testing.T, proto Protocol, p *Packet) {
	t.Helper()
	wire := AppendPacket(nil, proto, p)
	d := Decoder{Protocol: proto}
	got, err := decodeAll(&d, string(wire), p.Attachments)
	if err != nil {
		t.Fatalf("re-decode of %q: %v", wire, err)
	}
	if !packetsEqual(got, p) {
		t.Fatalf("round trip of %q:\n got %+v\nwant %+v", wire, *got, *p)
	}
	// The payload helpers must not fail on what the decoder accepted.
	switch p.Type {
	case Event, BinaryEvent, Ack, BinaryAck:
		checkBinding(t, p)
	}
	if p.Data != nil && !json.Valid(p.Data) {
		t.Fatalf("invalid Data %q", p.Data)
	}
}

func FuzzDecodeText(f *testing.F) {
	addTextSeeds(f)
	f.Fuzz(func(t *testing.T, pb byte, data []byte) {
		proto := fuzzProto(pb)
		d := Decoder{Protocol: proto}
		p, done, err := d.DecodeText(data)
		if err != nil {
			if p != nil || done || d.Awaiting() != 0 {
				t.Fatalf("error with state: %v %v %d", p, done, d.Awaiting())
			}
			return
		}
		if !done {
			if d.Awaiting() <= 0 || d.Awaiting() > DefaultMaxAttachments {
				t.Fatalf("awaiting %d", d.Awaiting())
			}
			return
		}
		checkRoundTrip(t, proto, p)
		if _, ok := IsPlaceholder(p.Data); ok && p.Type != ConnectError && p.Type != Connect {
			t.Fatalf("payload is a placeholder: %q", p.Data)
		}
	})
}

func FuzzDecodeWithAttachments(f *testing.F) {
	for _, tc := range goldenCases {
		var bin []byte
		if len(tc.bins) > 0 {
			bin = []byte(tc.bins[0])
		}
		f.Add(protoByte(tc.proto), []byte(tc.wire), uint8(len(tc.bins)), bin)
	}
	for _, tc := range errCases() {
		if len(tc.wire) < 4096 {
			f.Add(protoByte(tc.proto), []byte(tc.wire), uint8(len(tc.bins)), []byte("world"))
		}
	}
	f.Add(byte(1), []byte(`51-["a",`+ph0+`]`), uint8(2), []byte("x"))
	f.Add(byte(1), []byte(`50-["a"]`), uint8(1), []byte("x"))
	f.Fuzz(func(t *testing.T, pb byte, text []byte, nbins uint8, bin []byte) {
		proto := fuzzProto(pb)
		d := Decoder{Protocol: proto}
		p, done, err := d.DecodeText(text)
		n := int(nbins % 16)
		for i := 0; i < n && err == nil; i++ {
			if done {
				// Anything after a complete packet is unexpected binary.
				if _, _, e := d.DecodeBinary(bin); e == nil {
					t.Fatal("binary accepted after complete packet")
				}
				break
			}
			// Vary the attachments so their order is checked.
			att := append([]byte{byte(i)}, bin...)
			p, done, err = d.DecodeBinary(att)
		}
		if err != nil || !done {
			return
		}
		if d.Awaiting() != 0 {
			t.Fatalf("complete but awaiting %d", d.Awaiting())
		}
		checkRoundTrip(t, proto, p)
	})
}
