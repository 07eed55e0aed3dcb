package sio

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// This file holds the JSON validator of the package. It accepts exactly
// what json.Valid accepts:
//
//   - RFC 8259 values with optional space, tab, LF and CR around tokens;
//   - strings whose raw bytes are anything from 0x20 up, invalid UTF-8
//     included (encoding/json accepts it and decodes it as U+FFFD), and
//     whose escapes are \" \\ \/ \b \f \n \r \t or \u with four hex digits
//     (lone surrogates included);
//   - numbers -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?;
//   - at most maxDepth arrays and objects open at once.
//
// It walks the input once, without recursion: nesting costs one bit per
// open container, so deep input is rejected with an error whatever its
// depth, never with a stack overflow.

// maxDepth is the nesting limit of encoding/json: at most this many arrays
// and objects may be open at once.
const maxDepth = 10000

// validJSON reports whether b is one JSON value with optional surrounding
// whitespace; it agrees with json.Valid on every input.
func validJSON(b []byte) bool {
	i := scanValue(b, skipSpace(b, 0), 0)
	return i >= 0 && skipSpace(b, i) == len(b)
}

// containerStack records, for each open container, whether it is an object.
// The first 64 levels need no allocation.
type containerStack struct {
	n    int      // open containers
	low  uint64   // bit k: level k is an object, for k < 64
	high []uint64 // levels from 64 on
}

func (s *containerStack) push(obj bool) {
	k := s.n
	s.n++
	var v uint64
	if obj {
		v = 1
	}
	if k < 64 {
		s.low = s.low&^(1<<k) | v<<k
		return
	}
	k -= 64
	w := k >> 6
	if w == len(s.high) {
		s.high = append(s.high, 0)
	}
	s.high[w] = s.high[w]&^(1<<(k&63)) | v<<(k&63)
}

// topIsObject reports whether the innermost open container is an object.
// It must not be called with no container open.
func (s *containerStack) topIsObject() bool {
	k := s.n - 1
	if k < 64 {
		return s.low>>k&1 != 0
	}
	k -= 64
	return s.high[k>>6]>>(k&63)&1 != 0
}

// scanValue validates the JSON value that starts at b[i] (whitespace before
// it already skipped), with open arrays and objects already open around it,
// and returns the index just past the value, or -1 if b does not hold a
// valid value there. What follows the value is not looked at.
func scanValue(b []byte, i, open int) int {
	var st containerStack
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '"':
			i = scanString(b, i)
		case '{', '[':
			// encoding/json counts an empty container against the limit too.
			if open+st.n >= maxDepth {
				return -1
			}
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return -1
			}
			if c == '{' {
				if b[i] == '}' {
					i++
					break
				}
				st.push(true)
				i = scanKey(b, i)
			} else {
				if b[i] == ']' {
					i++
					break
				}
				st.push(false)
			}
			if i < 0 {
				return -1
			}
			continue
		case 't':
			if len(b)-i < 4 || string(b[i:i+4]) != "true" {
				return -1
			}
			i += 4
		case 'f':
			if len(b)-i < 5 || string(b[i:i+5]) != "false" {
				return -1
			}
			i += 5
		case 'n':
			if len(b)-i < 4 || string(b[i:i+4]) != "null" {
				return -1
			}
			i += 4
		default:
			i = scanNumber(b, i)
		}
		if i < 0 {
			return -1
		}
		// A value ended at i: close containers until one expects another value.
		for {
			if st.n == 0 {
				return i
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			obj := st.topIsObject()
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if obj {
					if i = scanKey(b, i); i < 0 {
						return -1
					}
				}
				break
			}
			if obj && c != '}' || !obj && c != ']' {
				return -1
			}
			st.n--
			i++
		}
	}
}

// scanKey validates an object key and its colon starting at b[i] and
// returns the index of the value that follows (whitespace skipped), or -1.
func scanKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stringStops returns a word with the high bit of each byte of w set where
// that byte is '"', '\\' or below 0x20. A bit above the lowest set one may
// be spurious, but the lowest set bit always marks a byte that stops a
// string scan.
func stringStops(w uint64) uint64 {
	q := w ^ ('"' * lsb)
	s := w ^ ('\\' * lsb)
	return ((q-lsb)&^q | (s-lsb)&^s | (w-0x20*lsb)&^w) & msb
}

// scanString validates the string literal starting at b[i] (a '"') and
// returns the index just past its closing quote, or -1.
func scanString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		if len(b)-j >= 8 {
			m := stringStops(binary.LittleEndian.Uint64(b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c == '\\':
			if j = scanEscape(b, j); j < 0 {
				return -1
			}
		case c < 0x20:
			return -1
		default:
			j++
		}
	}
	return -1
}

// scanEscape validates the escape sequence starting at b[j] (a '\\') and
// returns the index just past it, or -1.
func scanEscape(b []byte, j int) int {
	if j+1 >= len(b) {
		return -1
	}
	switch b[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return j + 2
	case 'u':
		if len(b)-j < 6 {
			return -1
		}
		for _, h := range b[j+2 : j+6] {
			if !isHex(h) {
				return -1
			}
		}
		return j + 6
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber validates the number starting at b[i] and returns the index
// just past it, or -1.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return -1
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == start {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == start {
			return -1
		}
	}
	return i
}

// scanArray validates b, which must start with '[' and have no whitespace
// around it, as a JSON array, in one pass. It returns the first element
// (nil for an empty array) and, when out is not nil, appends every element
// to *out; elements are sub-slices of b with their capacity clipped. ok is
// false if b is not a valid array.
func scanArray(b []byte, out *[]json.RawMessage) (first []byte, ok bool) {
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return nil, i+1 == len(b)
	}
	for {
		end := scanValue(b, i, 1)
		if end < 0 {
			return nil, false
		}
		if first == nil {
			first = b[i:end:end]
		}
		if out != nil {
			*out = append(*out, b[i:end:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ']':
			return first, i+1 == len(b)
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, false
		}
	}
}
