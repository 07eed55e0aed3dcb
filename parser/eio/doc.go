// Package eio implements the wire encodings of the Engine.IO protocol,
// revisions 3 (Engine.IO 3.x, Socket.IO 1.x/2.x clients) and 4 (Engine.IO 4.x
// and later, Socket.IO 3.x and later clients).
//
// The package is a set of pure codecs: it does no I/O, starts no goroutines
// and keeps no state. Decoders never panic and report malformed input with an
// error wrapping ErrInvalidPacket or ErrInvalidPayload. Encoders follow the
// append convention (they append to a caller-supplied buffer); decoders return
// sub-slices of their input where they can, as documented on each function.
//
// # Packets
//
// A packet has a type (open 0, close 1, ping 2, pong 3, message 4, upgrade 5,
// noop 6) and optional data, text or binary. In text form a packet is the type
// as an ASCII digit followed by the data: "4hello", "2probe", "6".
//
// # WebSocket frames
//
// Each packet travels in its own frame. Text packets are text frames in text
// form in both revisions. Binary packets are binary frames: in revision 4 the
// frame is the raw data (always a message); in revision 3 it is the type as a
// byte value followed by the data (0x04 then the data for a message). Clients
// that cannot use binary frames send binary packets as base64 text frames:
// "b<base64>" in revision 4, "b4<base64>" in revision 3.
//
// # HTTP long-polling, revision 4
//
// A payload is a series of packets in text form separated by the byte 0x1e
// (record separator). Binary packets are "b" followed by the standard,
// padded base64 encoding of the data:
//
//	4hello\x1e2\x1ebAQIDBA==
//
// POST bodies are always text; an application/octet-stream body is rejected.
//
// # HTTP long-polling, revision 3
//
// The string format prefixes each packet with its length and a colon. The
// length is the number of UTF-16 code units of the packet, i.e. the length of
// the JavaScript string, while the bytes are UTF-8; "€" is one unit and three
// bytes, an emoji two units and four bytes. Binary packets are
// "b<type digit><base64>":
//
//	6:4hello2:4€10:b4AQIDBA==
//
// The binary format, used when the client supports binary data (no b64 query
// parameter) and some packet is binary, has Content-Type
// application/octet-stream. Each packet is a marker byte (0 for text, 1 for
// binary), its length in bytes as decimal digits written as the byte values
// 0 to 9, the byte 0xFF, then the packet: the text form in UTF-8 for text
// packets, the type byte and the data for binary packets:
//
//	00 04 ff 34 e2 82 ac  01 05 ff 04 01 02 03 04
//
// is the text message "€" followed by the binary message 01 02 03 04.
//
// # JSONP
//
// Revision 3 clients without XHR use JSONP polling (the j query parameter).
// The server answers with a script calling ___eio[<j>] with the string payload
// as a JavaScript string literal (AppendJSONP), and the client posts a form
// whose field d holds the payload with its newlines escaped
// (DecodeJSONPBody).
package eio
