package eio

import "unicode/utf8"

// Revision 3 string payloads count lengths in UTF-16 code units (JavaScript
// string length) while the bytes on the wire are UTF-8. The helpers below
// convert between the two.

// utf16Len returns the number of UTF-16 code units of data as it is written by
// appendUTF8: each invalid byte counts as one U+FFFD. valid reports whether
// data was valid UTF-8 to begin with.
func utf16Len(data []byte) (n int, valid bool) {
	valid = true
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			valid = false
		}
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n, valid
}

// appendUTF8 appends data to dst, replacing each byte that is not part of a
// valid UTF-8 sequence with U+FFFD. If valid is true data is known to be valid
// and is copied as is.
func appendUTF8(dst, data []byte, valid bool) []byte {
	if valid {
		return append(dst, data...)
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, data[i:i+size]...)
		}
		i += size
	}
	return dst
}

// utf8Len returns the number of bytes appendUTF8 writes for data.
func utf8Len(data []byte, valid bool) int {
	if valid {
		return len(data)
	}
	n := 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			n += 3 // U+FFFD
		} else {
			n += size
		}
		i += size
	}
	return n
}

// skipUTF16 returns the byte length of the prefix of p that holds exactly n
// UTF-16 code units. ok is false if p is too short, is not valid UTF-8 within
// that prefix, or if the n-th unit would fall inside a surrogate pair.
func skipUTF16(p []byte, n int) (size int, ok bool) {
	i, units := 0, 0
	for units < n {
		if i >= len(p) {
			return 0, false
		}
		c := p[i]
		if c < utf8.RuneSelf {
			i++
			units++
			continue
		}
		r, sz := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && sz == 1 {
			return 0, false
		}
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
		i += sz
	}
	if units != n {
		return 0, false
	}
	return i, true
}
