package eio

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// Payload fuzz modes: the revision and body kind of a fuzzed body.
const (
	modeRev4 = iota
	modeRev3String
	modeRev3Binary
	modeRev4Binary // always invalid
	numModes
)

func modeOf(rev Revision, binaryBody bool) byte {
	switch {
	case rev == Rev4 && binaryBody:
		return modeRev4Binary
	case rev == Rev4:
		return modeRev4
	case binaryBody:
		return modeRev3Binary
	}
	return modeRev3String
}

func FuzzDecodeText(f *testing.F) {
	for _, tc := range textFrameCases {
		f.Add([]byte(tc.frame))
	}
	for _, tc := range base64FrameCases {
		f.Add([]byte(tc.frame))
	}
	for _, b := range badBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := DecodeText(frame)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			return
		}
		if !p.Type.Valid() {
			t.Fatalf("invalid type %d", p.Type)
		}
		var enc []byte
		switch {
		case !p.Binary:
			enc = AppendText(nil, p.Type, p.Data)
			if !bytes.Equal(enc, frame) {
				t.Fatalf("re-encoded %q as %q", frame, enc)
			}
		case p.Type == Message:
			enc = AppendBase64(nil, Rev4, p.Data)
		default:
			enc = b64.AppendEncode([]byte{'b', '0' + byte(p.Type)}, p.Data)
		}
		q, err := DecodeText(enc)
		if err != nil || !packetsEqual([]Packet{p}, []Packet{q}) {
			t.Fatalf("%q -> %s -> %q -> %s, %v", frame, fmtPackets([]Packet{p}), enc, fmtPackets([]Packet{q}), err)
		}
	})
}

func FuzzDecodeBinary(f *testing.F) {
	for _, tc := range binaryFrameCases {
		f.Add(byte(tc.rev), tc.frame)
	}
	f.Add(byte(Rev3), []byte{})
	f.Add(byte(Rev3), []byte{9, 1})
	f.Add(byte(5), []byte{4})
	f.Fuzz(func(t *testing.T, r byte, frame []byte) {
		rev := Revision(r)
		p, err := DecodeBinary(rev, frame)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			if rev == Rev4 {
				t.Fatalf("revision 4 binary frame rejected: %v", err)
			}
			return
		}
		if !rev.Valid() || !p.Binary || !p.Type.Valid() {
			t.Fatalf("rev %d: unexpected packet %s", rev, fmtPackets([]Packet{p}))
		}
		var enc []byte
		if rev == Rev3 {
			enc = append([]byte{byte(p.Type)}, p.Data...)
			if p.Type == Message {
				if alt := AppendBinary(nil, rev, p.Data); !bytes.Equal(alt, enc) {
					t.Fatalf("AppendBinary = %x, want %x", alt, enc)
				}
			}
		} else {
			enc = AppendBinary(nil, rev, p.Data)
		}
		if !bytes.Equal(enc, frame) {
			t.Fatalf("re-encoded %x as %x", frame, enc)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, tc := range payloadCases {
		if !tc.encodeOnly {
			f.Add(modeOf(tc.rev, tc.binaryBody), []byte(tc.wire))
		}
	}
	for _, b := range badBodies {
		for m := range byte(numModes) {
			f.Add(m, []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, mode byte, body []byte) {
		mode %= numModes
		rev, binaryBody := Rev4, false
		switch mode {
		case modeRev3String:
			rev = Rev3
		case modeRev3Binary:
			rev, binaryBody = Rev3, true
		case modeRev4Binary:
			binaryBody = true
		}
		ps, err := collect(rev, body, binaryBody)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if mode == modeRev4Binary {
			t.Fatal("binary body accepted in revision 4")
		}
		if len(ps) == 0 {
			t.Fatal("valid payload without packets")
		}
		for _, p := range ps {
			if !p.Type.Valid() {
				t.Fatalf("invalid type in %s", fmtPackets(ps))
			}
			if rev == Rev3 && !p.Binary && !utf8.Valid(p.Data) {
				t.Fatalf("revision 3 text is not UTF-8: %s", fmtPackets(ps))
			}
		}
		// Re-encode with every encoder setting and decode again.
		for _, sb := range []bool{false, true} {
			enc, encBinary := AppendPayload(nil, rev, ps, sb)
			if rev == Rev4 && !bytes.Equal(enc, body) {
				t.Fatalf("revision 4 payload %q re-encoded as %q", body, enc)
			}
			qs, err := collect(rev, enc, encBinary)
			if err != nil || !packetsEqual(ps, qs) {
				t.Fatalf("%q -> %s -> %q -> %s, %v", body, fmtPackets(ps), enc, fmtPackets(qs), err)
			}
		}
	})
}

func FuzzDecodeJSONPBody(f *testing.F) {
	for _, tc := range jsonpBodyCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range jsonpCases {
		f.Add(appendJSONPBody(nil, []byte(tc.payload)))
	}
	f.Add([]byte("d=1&d=2"))
	f.Add([]byte("d=%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		// The response wrapper must always produce a script whose argument
		// is the payload, for any valid UTF-8 payload.
		script := AppendJSONP(nil, "1", body)
		if utf8.Valid(body) {
			if got := jsonpArgument(t, script); got != string(body) {
				t.Fatalf("JSONP argument %q, want %q", got, body)
			}
		}
		payload, err := DecodeJSONPBody(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if len(payload) == 0 {
			t.Fatal("empty payload accepted")
		}
		if !jsonpLossless(payload) {
			return
		}
		again, err := DecodeJSONPBody(appendJSONPBody(nil, payload))
		if err != nil || !bytes.Equal(again, payload) {
			t.Fatalf("%q -> %q -> %q, %v", body, payload, again, err)
		}
	})
}
