package eio_test

import (
	"fmt"

	"github.com/go-sio/sio/parser/eio"
)

func ExampleAppendPayload() {
	packets := []eio.Packet{
		{Type: eio.Message, Data: []byte("€")},
		{Type: eio.Message, Data: []byte{1, 2, 3, 4}, Binary: true},
	}

	body, binary := eio.AppendPayload(nil, eio.Rev4, packets, true)
	fmt.Printf("rev4: %q binary=%v\n", body, binary)

	body, binary = eio.AppendPayload(nil, eio.Rev3, packets, false)
	fmt.Printf("rev3 b64: %q binary=%v\n", body, binary)

	body, binary = eio.AppendPayload(nil, eio.Rev3, packets, true)
	fmt.Printf("rev3: % x binary=%v\n", body, binary)

	// Output:
	// rev4: "4€\x1ebAQIDBA==" binary=false
	// rev3 b64: "2:4€10:b4AQIDBA==" binary=false
	// rev3: 00 04 ff 34 e2 82 ac 01 05 ff 04 01 02 03 04 binary=true
}

func ExampleDecodePayload() {
	body := []byte("4hello\x1e2probe\x1ebAQI=")
	err := eio.DecodePayload(eio.Rev4, body, false, func(p eio.Packet) error {
		fmt.Printf("%s %q binary=%v\n", p.Type, p.Data, p.Binary)
		return nil
	})
	fmt.Println(err)

	// Output:
	// message "hello" binary=false
	// ping "probe" binary=false
	// message "\x01\x02" binary=true
	// <nil>
}
