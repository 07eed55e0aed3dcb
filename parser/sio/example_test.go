package sio_test

import (
	"fmt"

	"github.com/go-sio/sio/parser/sio"
)

func Example() {
	// Receiving: one decoder per connection.
	var dec sio.Decoder // protocol 5, at most 10 attachments
	_, done, err := dec.DecodeText([]byte(`51-/chat,7["upload","a.bin",{"_placeholder":true,"num":0}]`))
	fmt.Println(done, err, dec.Awaiting())
	pkt, done, err := dec.DecodeBinary([]byte{1, 2, 3})
	fmt.Println(done, err, pkt.Type, pkt.Namespace, pkt.ID)

	event, args, _ := pkt.Args()
	fmt.Println(event, string(args[0]))
	if n, ok := sio.IsPlaceholder(args[1]); ok {
		fmt.Println("binary argument:", pkt.Attachments[n])
	}

	// Replying: build the ACK payload, then the text message; the
	// attachments follow as binary messages.
	data, attachments, _ := sio.EncodeArgs("", []any{"stored", []byte{9, 9}})
	reply := sio.Packet{Type: sio.Ack, Namespace: pkt.Namespace, ID: pkt.ID, HasID: true, Data: data, Attachments: attachments}
	fmt.Println(string(sio.AppendPacket(nil, sio.V5, &reply)), attachments)

	// Protocol 4 (socket.io-client 2.x): the query travels in the namespace.
	v4 := sio.Decoder{Protocol: sio.V4}
	conn, _, _ := v4.DecodeText([]byte(`0/chat?token=abc,`))
	fmt.Printf("%s %q %q\n", conn.Type, conn.Namespace, conn.Query)
	fmt.Println(string(sio.AppendPacket(nil, sio.V4, &sio.Packet{Type: sio.ConnectError, Namespace: "/chat", Data: []byte(`"Not authorized"`)})))

	// Output:
	// false <nil> 1
	// true <nil> BINARY_EVENT /chat 7
	// upload "a.bin"
	// binary argument: [1 2 3]
	// 61-/chat,7["stored",{"_placeholder":true,"num":0}] [[9 9]]
	// CONNECT "/chat" "token=abc"
	// 4/chat,"Not authorized"
}
