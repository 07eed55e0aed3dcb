package sio

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// validSeeds are inputs on which a validator can go wrong: escapes,
// surrogates, invalid UTF-8, number edge cases, literals, whitespace,
// nesting at and past the limit, a byte order mark and trailing garbage.
var validSeeds = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `nulll`, `tru`, `True`, `fals`, `falsey`,
	`0`, `-0`, `-`, `+1`, `01`, `-01`, `00`, `1.`, `.1`, `1.0`, `1e`, `1e+`, `1e-`, `1E5`,
	`1e05`, `-0.0e-0`, `1.5e+300`, `1x`, `123456789012345678901234567890`, `1 2`, `0x10`,
	`-Infinity`, `NaN`, `1_000`,
	`""`, `"`, `"abc`, `"a\"b"`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\a"`, `"\'"`, `"\x41"`,
	`"\u"`, `"\u12"`, `"\u123"`, `"\u1234"`, `"\u12G4"`, `"\uD800"`, `"\udc00\ud800"`,
	`"\ud83d\ude00"`, `"\uFFFF"`, `"\`, `"\\\"`, "\"\x00\"", "\"\x1f\"", "\"\x7f\"",
	"\"\t\"", "\"\n\"", "\"\xff\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xed\xa0\x80\"",
	"\"\xf4\x90\x80\x80\"", "\"\xef\xbf\xbe\"", "\"0123456789abcdef\x1f\"",
	"\"0123456789abcdef\\n0123456789\"", "\"01234567\"", "\"0123456\"", "\"012345678\"",
	"\xef\xbb\xbf{}", "\xef\xbb\xbf", "{}\xef\xbb\xbf",
	`[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[[]]`, `[[]`, `[]]`, `[}`, `{]`,
	`{}`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{a:1}`, `{1:1}`,
	`{"a":1}`, `{"a" : 1 , "b" : [ ] }`, `{"a":{"b":{"c":[{"d":null}]}}}`, `{"":""}`,
	`{"a":1}}`, `{"a":1}x`, `[1]x`, `"a"x`, `1 x`, `[] []`,
	" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n", "\f1", "[\f]", "\v1", "1\x00", "\x00",
	"\u00a01", "[\u00a0]",
	`["_placeholder",{"_placeholder":true,"num":0}]`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat("[", maxDepth-1) + "{}" + strings.Repeat("]", maxDepth-1),
	strings.Repeat("[", maxDepth) + "{}" + strings.Repeat("]", maxDepth),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
	strings.Repeat(`[{"a":`, maxDepth/2) + "1" + strings.Repeat("}]", maxDepth/2),
	strings.Repeat(`[{"a":`, 70) + "[1]" + strings.Repeat("}]", 69) + "]}",
	strings.Repeat(`[{"a":`, 70) + "[1]" + strings.Repeat("}]", 70),
	strings.Repeat("[", 100000),
	strings.Repeat("[", 65) + strings.Repeat("]", 64) + "}",
	strings.Repeat("[", 129) + "{}" + strings.Repeat("]", 129),
}

func TestValidJSON(t *testing.T) {
	for _, s := range validSeeds {
		b := []byte(s)
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid = %v", s, got, want)
		}
	}
}

// TestValidJSONPrefixes checks every prefix and every one-byte change of
// some valid documents.
func TestValidJSONPrefixes(t *testing.T) {
	docs := []string{
		`{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{"c":{}},"d":[]}`,
		`["echo",{"seq":1,"data":"0123456789abcdef0123456789abcdef"}]`,
		string(largeDoc[:400]) + "}]",
	}
	subst := []byte{0, '\t', ' ', '"', ',', '-', '.', '0', '1', ':', 'E', '[', '\\', ']', 'e', 'u', '{', '}', 0x7f, 0xff}
	for _, d := range docs {
		for n := 0; n <= len(d); n++ {
			b := []byte(d[:n])
			if got, want := validJSON(b), json.Valid(b); got != want {
				t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
			}
		}
		for i := 0; i < len(d); i++ {
			for _, c := range subst {
				b := []byte(d)
				b[i] = c
				if got, want := validJSON(b), json.Valid(b); got != want {
					t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
				}
			}
		}
	}
}

// checkScanArray checks scanArray on b against json.Valid and, for valid
// arrays, against the elements encoding/json finds.
func checkScanArray(t *testing.T, b []byte) {
	t.Helper()
	trimmed := trimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return
	}
	var elems []json.RawMessage
	first, ok := scanArray(trimmed, &elems)
	if first2, ok2 := scanArray(trimmed, nil); ok2 != ok || string(first2) != string(first) {
		t.Fatalf("scanArray(%q) without elements: %q %v, with: %q %v", b, first2, ok2, first, ok)
	}
	if want := json.Valid(b); ok != want {
		t.Fatalf("scanArray(%q) ok = %v, json.Valid = %v", b, ok, want)
	}
	if !ok {
		return
	}
	var want []json.RawMessage
	if err := json.Unmarshal(trimmed, &want); err != nil {
		t.Fatalf("unmarshal %q: %v", b, err)
	}
	if len(elems) > 0 && string(first) != string(elems[0]) || len(elems) == 0 && first != nil {
		t.Fatalf("scanArray(%q): first %q, elements %q", b, first, elems)
	}
	if len(elems) != len(want) {
		t.Fatalf("scanArray(%q): %d elements, want %d", b, len(elems), len(want))
	}
	for i := range elems {
		if string(elems[i]) != string(want[i]) || cap(elems[i]) != len(elems[i]) {
			t.Fatalf("scanArray(%q)[%d] = %q, want %q", b, i, elems[i], want[i])
		}
	}
}

func TestScanArray(t *testing.T) {
	for _, s := range validSeeds {
		checkScanArray(t, []byte(s))
	}
	for _, s := range []string{`[ 1 , "a" , {"b":[2]} , [ ] ]`, `["a"]`, `[ ]`, `[[1],[2]]`, "[1]\n", `[1]]`} {
		checkScanArray(t, []byte(s))
	}
}

// FuzzValidJSON compares validJSON with json.Valid, and scanArray with
// json.Valid and json.Unmarshal, on arbitrary input. They must agree on
// every input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Add([]byte(largeDoc))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
		checkScanArray(t, b)
	})
}

func BenchmarkValid(b *testing.B) {
	docs := []struct {
		name string
		doc  []byte
	}{
		{"echo", []byte(`["echo",` + echoArg + `]`)},
		{"large", largeDoc},
	}
	for _, d := range docs {
		b.Run(d.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(d.doc)))
			for b.Loop() {
				if !json.Valid(d.doc) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(d.name+"/validJSON", func(b *testing.B) {
			b.SetBytes(int64(len(d.doc)))
			for b.Loop() {
				if !validJSON(d.doc) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// TestValidJSONDeepMixed builds nested arrays and objects well past the 64
// levels the container stack keeps in one word, then swaps each closing
// bracket for the other kind and drops it, comparing with json.Valid.
func TestValidJSONDeepMixed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, depth := range []int{1, 63, 64, 65, 127, 128, 129, 300} {
		var open, closing []byte
		for range depth {
			if rng.IntN(2) == 0 {
				open = append(open, `[0,`...)
				closing = append(closing, ']')
			} else {
				open = append(open, `{"k":1,"v":`...)
				closing = append(closing, '}')
			}
		}
		slices.Reverse(closing)
		doc := append(append(open, "null"...), closing...)
		if !validJSON(doc) || !json.Valid(doc) {
			t.Fatalf("depth %d: valid document rejected", depth)
		}
		for k := len(open) + 4; k < len(doc); k++ {
			for _, b := range [][]byte{
				slices.Concat(doc[:k], []byte{doc[k] ^ (']' ^ '}')}, doc[k+1:]),
				slices.Concat(doc[:k], doc[k+1:]),
			} {
				if got, want := validJSON(b), json.Valid(b); got != want {
					t.Fatalf("depth %d, byte %d: validJSON = %v, json.Valid = %v", depth, k, got, want)
				}
			}
		}
	}
}
