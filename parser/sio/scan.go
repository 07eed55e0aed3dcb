package sio

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The helpers in this file walk JSON text in a single forward pass. Unless
// stated otherwise they expect text that validJSON (valid.go) accepted,
// which also bounds nesting to encoding/json's limit, yet they still check
// bounds so that they cannot panic or loop on anything.

// isSpace reports whether c is JSON whitespace. Most bytes that follow a
// token are above ' ', so one comparison settles them.
func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// skipString returns the index just past the string literal starting at b[i]
// (which must be '"'), or -1 if it is not terminated.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	return -1
}

// skipScalar returns the index just past the number or literal starting at b[i].
func skipScalar(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ',', ']', '}', ':', ' ', '\t', '\n', '\r', '"', '[', '{':
			return i
		}
		i++
	}
	return i
}

// unquoteShort returns the value of the JSON string literal lit when it can
// be one of at most maxLen ASCII characters; ok is false otherwise. It is
// used to compare against fixed ASCII names (event names, placeholder keys)
// with bounded work whatever the length of lit, and without allocating
// unless lit contains escapes.
func unquoteShort(lit []byte, maxLen int) ([]byte, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return nil, false
	}
	inner := lit[1 : len(lit)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		if len(inner) > maxLen {
			return nil, false
		}
		return inner, true
	}
	// An escaped ASCII character takes at most 6 bytes (\u00XX).
	if len(inner) > 6*maxLen {
		return nil, false
	}
	var s string
	if json.Unmarshal(lit, &s) != nil || len(s) > maxLen {
		return nil, false
	}
	return []byte(s), true
}

// isReservedLiteral reports whether the JSON string literal lit names a
// reserved event.
func isReservedLiteral(lit []byte) (string, bool) {
	s, ok := unquoteShort(lit, len("removeListener"))
	if !ok {
		return "", false
	}
	for _, r := range reservedEvents {
		if string(s) == r {
			return r, true
		}
	}
	return "", false
}

const (
	keyOther = iota
	keyPlaceholder
	keyNum
)

func classifyKey(lit []byte) int {
	s, ok := unquoteShort(lit, len("_placeholder"))
	if !ok {
		return keyOther
	}
	switch string(s) {
	case "_placeholder":
		return keyPlaceholder
	case "num":
		return keyNum
	}
	return keyOther
}

// maxNumDigits bounds the digits of a placeholder index.
const maxNumDigits = 9

// parseIndex parses a placeholder index: a plain non-negative decimal
// integer without sign, fraction, exponent or leading zeros.
func parseIndex(tok []byte) (int, bool) {
	if len(tok) == 0 || len(tok) > maxNumDigits || (tok[0] == '0' && len(tok) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range tok {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// minPlaceholderLen is the length of the shortest placeholder text,
// {"_placeholder":true,"num":0}; a payload of n bytes cannot reference more
// than n/minPlaceholderLen attachments.
const minPlaceholderLen = len(`{"_placeholder":true,"num":0}`)

// phFrame is the state of one open object or array while validating placeholders.
type phFrame struct {
	obj       bool
	expectKey bool
	key       int
	hasPH     bool
	phTrue    bool
	hasNum    bool
	numOK     bool
	other     bool
	dup       bool
	num       int
}

// value records a value for the current key of an object frame.
func (f *phFrame) value(isTrue bool, tok []byte) {
	switch f.key {
	case keyPlaceholder:
		f.dup = f.dup || f.hasPH
		f.hasPH, f.phTrue = true, isTrue
	case keyNum:
		f.dup = f.dup || f.hasNum
		f.hasNum = true
		f.num, f.numOK = parseIndex(tok)
	default:
		f.other = true
	}
}

// checkPlaceholders validates every placeholder in the valid JSON text b
// against n attachments. Any object with a "_placeholder" key must be exactly
// {"_placeholder":true,"num":N} (keys in any order, no other or repeated
// key) with N a plain integer in [0,n), and each attachment must be
// referenced exactly once. It does not recurse.
func checkPlaceholders(b []byte, n int) error {
	used := make([]bool, n)
	stack := make([]phFrame, 0, 8)
	top := func() *phFrame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	valueAt := func(isTrue bool, tok []byte) {
		if f := top(); f != nil && f.obj {
			f.value(isTrue, tok)
		}
	}
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case ',':
			if f := top(); f != nil && f.obj {
				f.expectKey = true
			}
			i++
		case '{', '[':
			valueAt(false, nil)
			stack = append(stack, phFrame{obj: c == '{', expectKey: c == '{'})
			i++
		case '}', ']':
			if len(stack) == 0 {
				return fmt.Errorf("%w: unbalanced JSON", ErrInvalidPayload)
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			i++
			if !f.hasPH {
				continue
			}
			if !f.phTrue || !f.hasNum || f.other || f.dup {
				return fmt.Errorf("%w: malformed placeholder", ErrIllegalAttachments)
			}
			if !f.numOK || f.num >= n {
				return fmt.Errorf("%w: placeholder index out of range [0,%d)", ErrIllegalAttachments, n)
			}
			if used[f.num] {
				return fmt.Errorf("%w: attachment %d referenced twice", ErrIllegalAttachments, f.num)
			}
			used[f.num] = true
		case '"':
			end := skipString(b, i)
			if end < 0 {
				return fmt.Errorf("%w: unterminated string", ErrInvalidPayload)
			}
			if f := top(); f != nil && f.obj && f.expectKey {
				f.key = classifyKey(b[i:end])
				f.expectKey = false
			} else {
				valueAt(false, nil)
			}
			i = end
		default:
			end := skipScalar(b, i)
			if end == i {
				return fmt.Errorf("%w: unexpected %q", ErrInvalidPayload, c)
			}
			tok := b[i:end]
			valueAt(string(tok) == "true", tok)
			i = end
		}
	}
	for k, u := range used {
		if !u {
			return fmt.Errorf("%w: attachment %d is not referenced", ErrIllegalAttachments, k)
		}
	}
	return nil
}

// IsPlaceholder reports whether raw is a binary placeholder,
// {"_placeholder":true,"num":N} (keys in any order, optional whitespace, no
// other key), and returns N. It only inspects the object's own fields and
// stops at the first thing that does not fit, so it is cheap on large
// non-placeholder values.
//
// A placeholder only stands for an attachment in a BINARY_EVENT or
// BINARY_ACK packet; the Decoder guarantees that in such a packet every
// placeholder has N < len(Attachments), and that every object carrying a
// "_placeholder" key is a well-formed placeholder.
func IsPlaceholder(raw json.RawMessage) (num int, ok bool) {
	b := trimSpace(raw)
	if len(b) < minPlaceholderLen || b[0] != '{' {
		return 0, false
	}
	var hasPH, hasNum bool
	i := 1
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		// Keys of interest are short; do not scan a long key to its end.
		end := -1
		for j := i + 1; j < len(b) && j <= i+2+6*len("_placeholder"); j++ {
			if b[j] == '\\' {
				j++
			} else if b[j] == '"' {
				end = j + 1
				break
			}
		}
		if end < 0 {
			return 0, false
		}
		key := classifyKey(b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipSpace(b, i+1)
		switch key {
		case keyPlaceholder:
			if hasPH || !bytes.HasPrefix(b[i:], []byte("true")) {
				return 0, false
			}
			hasPH = true
			i += 4
		case keyNum:
			if hasNum {
				return 0, false
			}
			j := i
			for j < len(b) && j-i <= maxNumDigits && isDigit(b[j]) {
				j++
			}
			n, good := parseIndex(b[i:j])
			if !good {
				return 0, false
			}
			hasNum, num, i = true, n, j
		default:
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return 0, false
		}
		i++
	}
	if skipSpace(b, i) != len(b) || !hasPH || !hasNum {
		return 0, false
	}
	return num, true
}
