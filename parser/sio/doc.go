// Package sio encodes and decodes Socket.IO packets, protocol revision 5
// (Socket.IO 3.x/4.x, socket.io-client 3.x/4.x) and revision 4 (Socket.IO
// 1.x/2.x, socket.io-client 2.x), in the format of the default
// socket.io-parser.
//
// It is a pure codec: it does no I/O and starts no goroutine. Decoding never
// panics and does work linear in the input on any input; the only state kept
// between messages is one partially received binary packet whose attachment
// count is bounded by Decoder.MaxAttachments.
//
// # Wire format
//
// Each packet travels as one Engine.IO message (the Engine.IO "4" message
// prefix is not part of what this package reads or writes):
//
//	<type>[<#attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
//	0 CONNECT        0, 0/admin,, 0{"token":"123"} (v5 auth), 0/admin?token=1, (v4 query)
//	1 DISCONNECT     1, 1/admin,
//	2 EVENT          2["foo",1], 2/admin,13["foo"]
//	3 ACK            3/admin,13["bar"]
//	4 CONNECT_ERROR  4{"message":"Not authorized"} (v5); called ERROR in v4: 4"Not authorized"
//	5 BINARY_EVENT   51-["baz",{"_placeholder":true,"num":0}] then one binary message
//	6 BINARY_ACK     61-15["bar",{"_placeholder":true,"num":0}] then one binary message
//
// The namespace is written only when it is not "/", and then ends with ','.
// Binary values are replaced in the JSON by {"_placeholder":true,"num":N} and
// sent as separate binary messages after the text, in order of N.
//
// # Differences between the protocols
//
// Protocol 5: the server answers a CONNECT with a CONNECT carrying the socket
// id, 0{"sid":"..."} or 0/admin,{"sid":"..."}, and refuses with
// CONNECT_ERROR carrying an object, 4{"message":"Invalid namespace"}. The
// client may send an auth object in its CONNECT.
//
// Protocol 4: a CONNECT has no payload; a socket.io-client 2.x appends its
// query to the namespace, 0/admin?token=1, (Decoder puts it in
// Packet.Query). The server's CONNECT reply is a bare 0 (default namespace)
// or 0/admin,. The refusal is an ERROR packet whose payload is a plain string
// or an object, 4/admin,"Invalid namespace" or 4{"message":"..."}.
//
// # Validation
//
// A payload must be valid JSON exactly as json.Valid defines it, including
// its limit of 10000 nested arrays and objects; the check is one
// non-recursive pass, so deeper input is an error whatever its depth.
// Payloads are checked as the reference decoder does: CONNECT carries
// nothing or an object; DISCONNECT nothing; CONNECT_ERROR an object or a
// string; EVENT a non-empty array whose first element is a string that is
// not a reserved name (connect, connect_error, disconnect, disconnecting,
// newListener, removeListener) or a number; ACK an array. Beyond the
// reference, an ACK must carry an ack id and CONNECT, DISCONNECT and
// CONNECT_ERROR must not; numbers in the header must be plain decimal and at
// most 20 digits long; in binary packets every object with a "_placeholder"
// key must be exactly {"_placeholder":true,"num":N}, and each attachment must
// be referenced exactly once.
//
// # Binary data
//
// The Decoder keeps Data as received, placeholders included, and collects the
// attachments in Packet.Attachments. An application layer splits the payload
// with SplitArgs (or Packet.Args) and binds an argument for which
// IsPlaceholder reports N to Attachments[N]; Reconstruct turns a whole
// argument into Go values with the attachments in place. For sending,
// EncodeArgs turns []byte values into placeholders and attachments, and
// AppendPacket writes the text part.
package sio
