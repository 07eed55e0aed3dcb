package eio

// Golden wire vectors. They are the contract with stock clients and also seed
// the fuzz targets.

func txt(t PacketType, s string) Packet { return Packet{Type: t, Data: []byte(s)} }

func bin(t PacketType, b ...byte) Packet {
	if b == nil {
		b = []byte{}
	}
	return Packet{Type: t, Data: b, Binary: true}
}

// textFrameCases are WebSocket text frames.
var textFrameCases = []struct {
	name   string
	frame  string
	packet Packet
}{
	{"open", `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}`, txt(Open, `{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}`)},
	{"close", "1", txt(Close, "")},
	{"ping", "2", txt(Ping, "")},
	{"ping probe", "2probe", txt(Ping, "probe")},
	{"pong probe", "3probe", txt(Pong, "probe")},
	{"message", "4hello", txt(Message, "hello")},
	{"empty message", "4", txt(Message, "")},
	{"upgrade", "5", txt(Upgrade, "")},
	{"noop", "6", txt(Noop, "")},
	{"non-ASCII", "4é€😀", txt(Message, "é€😀")},
	{"socket.io packet", `42["chat","hi"]`, txt(Message, `2["chat","hi"]`)},
}

// base64FrameCases are WebSocket text frames carrying base64 binary packets.
// rev is the revision whose AppendBase64 produces the frame.
var base64FrameCases = []struct {
	name   string
	rev    Revision
	frame  string
	packet Packet
}{
	{"rev4", Rev4, "bAQIDBA==", bin(Message, 1, 2, 3, 4)},
	{"rev4 empty", Rev4, "b", bin(Message)},
	{"rev4 one byte", Rev4, "b/w==", bin(Message, 0xff)},
	{"rev3", Rev3, "b4AQIDBA==", bin(Message, 1, 2, 3, 4)},
	{"rev3 empty", Rev3, "b4", bin(Message)},
	{"rev3 two bytes", Rev3, "b4AAE=", bin(Message, 0, 1)},
}

// binaryFrameCases are WebSocket binary frames.
var binaryFrameCases = []struct {
	name   string
	rev    Revision
	frame  []byte
	packet Packet
	// decodeOnly marks frames that AppendBinary does not produce (it always
	// writes messages).
	decodeOnly bool
}{
	{"rev4", Rev4, []byte{1, 2, 3}, bin(Message, 1, 2, 3), false},
	{"rev4 empty", Rev4, []byte{}, bin(Message), false},
	{"rev4 starts with 4", Rev4, []byte{4, 0xff}, bin(Message, 4, 0xff), false},
	{"rev3", Rev3, []byte{4, 1, 2, 3}, bin(Message, 1, 2, 3), false},
	{"rev3 empty", Rev3, []byte{4}, bin(Message), false},
	{"rev3 ping", Rev3, []byte{2, 'p'}, bin(Ping, 'p'), true},
}

// payloadCases are HTTP long-polling bodies.
var payloadCases = []struct {
	name string
	rev  Revision
	// supportsBinary is the encoder input (revision 3 only).
	supportsBinary bool
	// binaryBody is true for the revision 3 binary format.
	binaryBody bool
	packets    []Packet
	wire       string
	// decodeOnly: wire decodes to packets, but AppendPayload writes another
	// (canonical) form. encodeOnly: AppendPayload writes wire, which is not a
	// valid POST body.
	decodeOnly, encodeOnly bool
}{
	// Revision 4.
	{name: "rev4 message", rev: Rev4, packets: []Packet{txt(Message, "hello")}, wire: "4hello"},
	{name: "rev4 spec example", rev: Rev4, packets: []Packet{txt(Message, "hello"), txt(Ping, ""), txt(Message, "world")}, wire: "4hello\x1e2\x1e4world"},
	{name: "rev4 spec binary", rev: Rev4, packets: []Packet{txt(Message, "hello"), bin(Message, 1, 2, 3, 4)}, wire: "4hello\x1ebAQIDBA=="},
	{name: "rev4 all types", rev: Rev4, packets: []Packet{txt(Open, `{"sid":"x"}`), txt(Close, ""), txt(Ping, "probe"), txt(Pong, "probe"), txt(Message, ""), txt(Upgrade, ""), txt(Noop, "")}, wire: "0{\"sid\":\"x\"}\x1e1\x1e2probe\x1e3probe\x1e4\x1e5\x1e6"},
	{name: "rev4 non-ASCII", rev: Rev4, packets: []Packet{txt(Message, "é"), txt(Message, "€"), txt(Message, "😀")}, wire: "4é\x1e4€\x1e4😀"},
	{name: "rev4 binary only", rev: Rev4, packets: []Packet{bin(Message, 0xff, 0xfe)}, wire: "b//4="},
	{name: "rev4 empty binary", rev: Rev4, packets: []Packet{bin(Message), txt(Message, "x")}, wire: "b\x1e4x"},
	{name: "rev4 empty messages", rev: Rev4, packets: []Packet{txt(Message, ""), txt(Message, "")}, wire: "4\x1e4"},
	{name: "rev4 supportsBinary ignored", rev: Rev4, supportsBinary: true, packets: []Packet{bin(Message, 1)}, wire: "bAQ=="},
	{name: "rev4 empty list", rev: Rev4, packets: []Packet{}, wire: "", encodeOnly: true},

	// Revision 3, string format.
	{name: "rev3 message", rev: Rev3, packets: []Packet{txt(Message, "hello")}, wire: "6:4hello"},
	{name: "rev3 spec hello world", rev: Rev3, packets: []Packet{txt(Message, "hello world"), txt(Message, "hi")}, wire: "12:4hello world3:4hi"},
	{name: "rev3 spec euro", rev: Rev3, packets: []Packet{txt(Message, "hello"), txt(Message, "€")}, wire: "6:4hello2:4€"},
	{name: "rev3 spec base64", rev: Rev3, packets: []Packet{txt(Message, "€"), bin(Message, 1, 2, 3, 4)}, wire: "2:4€10:b4AQIDBA=="},
	{name: "rev3 e acute", rev: Rev3, packets: []Packet{txt(Message, "é")}, wire: "2:4é"},
	{name: "rev3 emoji", rev: Rev3, packets: []Packet{txt(Message, "😀")}, wire: "3:4😀"},
	{name: "rev3 mixed text", rev: Rev3, packets: []Packet{txt(Message, "aé€😀z")}, wire: "7:4aé€😀z"},
	{name: "rev3 all types", rev: Rev3, packets: []Packet{txt(Open, `{"sid":"x"}`), txt(Close, ""), txt(Ping, "probe"), txt(Pong, "probe"), txt(Message, ""), txt(Upgrade, ""), txt(Noop, "")}, wire: "12:0{\"sid\":\"x\"}1:16:2probe6:3probe1:41:51:6"},
	{name: "rev3 empty binary", rev: Rev3, packets: []Packet{bin(Message)}, wire: "2:b4"},
	{name: "rev3 binary ping", rev: Rev3, packets: []Packet{bin(Ping, 1, 2, 3)}, wire: "6:b2AQID"},
	{name: "rev3 no binary with supportsBinary", rev: Rev3, supportsBinary: true, packets: []Packet{txt(Message, "hello"), txt(Message, "€")}, wire: "6:4hello2:4€"},
	{name: "rev3 colon in data", rev: Rev3, packets: []Packet{txt(Message, "1:2"), txt(Message, "::")}, wire: "4:41:23:4::"},
	{name: "rev3 record separator in data", rev: Rev3, packets: []Packet{txt(Message, "a\x1eb")}, wire: "4:4a\x1eb"},
	{name: "rev3 long packet", rev: Rev3, packets: []Packet{txt(Message, "0123456789")}, wire: "11:40123456789"},
	{name: "rev3 leading zeros", rev: Rev3, packets: []Packet{txt(Message, "hello")}, wire: "006:4hello", decodeOnly: true},
	{name: "rev3 empty list", rev: Rev3, packets: []Packet{}, wire: "0:", encodeOnly: true},

	// Revision 3, binary format.
	{name: "rev3 binary spec", rev: Rev3, supportsBinary: true, binaryBody: true, packets: []Packet{txt(Message, "€"), bin(Message, 1, 2, 3, 4)}, wire: "\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04"},
	{name: "rev3 binary emoji", rev: Rev3, supportsBinary: true, binaryBody: true, packets: []Packet{bin(Message, 9), txt(Message, "😀é")}, wire: "\x01\x02\xff\x04\x09\x00\x07\xff4😀é"},
	{name: "rev3 binary two digit length", rev: Rev3, supportsBinary: true, binaryBody: true, packets: []Packet{bin(Message, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), txt(Ping, "probe")}, wire: "\x01\x01\x01\xff\x04\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x00\x06\xff2probe"},
	{name: "rev3 binary empty", rev: Rev3, supportsBinary: true, binaryBody: true, packets: []Packet{bin(Message), txt(Message, "")}, wire: "\x01\x01\xff\x04\x00\x01\xff4"},
	{name: "rev3 binary ping", rev: Rev3, supportsBinary: true, binaryBody: true, packets: []Packet{bin(Ping, 0xff)}, wire: "\x01\x02\xff\x02\xff"},
	{name: "rev3 binary with base64 text part", rev: Rev3, binaryBody: true, packets: []Packet{bin(Message, 1, 2, 3)}, wire: "\x00\x06\xffb4AQID", decodeOnly: true},
	{name: "rev3 binary leading zero", rev: Rev3, binaryBody: true, packets: []Packet{txt(Message, "x")}, wire: "\x00\x00\x02\xff4x", decodeOnly: true},
}

// jsonpCases wrap a string payload in a JSONP response.
var jsonpCases = []struct {
	name, index, payload, want string
}{
	{"simple", "0", "6:4hello", `___eio[0]("6:4hello");`},
	{"index digits only", "1a2</script>", "1:6", `___eio[12]("1:6");`},
	{"empty index", "", "1:6", `___eio[]("1:6");`},
	{"quotes and backslash", "3", `12:42["a","\\"]`, `___eio[3]("12:42[\"a\",\"\\\\\"]");`},
	{"control characters", "0", "\b\f\n\r\t\x00\x1e\x1f\x7f", `___eio[0]("\b\f\n\r\t\u0000\u001e\u001f` + "\x7f" + `");`},
	{"line separators", "0", "3:4\u2028\u2029", `___eio[0]("3:4\u2028\u2029");`},
	{"non-ASCII", "0", "2:4€3:4😀", `___eio[0]("2:4€3:4😀");`},
	{"script tag", "0", "</script>", `___eio[0]("</script>");`},
	{"invalid UTF-8", "0", "a\xffb", "___eio[0](\"a\ufffdb\");"},
}

// jsonpBodyCases are JSONP POST bodies.
var jsonpBodyCases = []struct {
	name, body, payload string
}{
	{"simple", "d=6%3A4hello", "6:4hello"},
	{"unescaped colon", "d=6:4hello", "6:4hello"},
	{"plus is space", "d=12%3A4hello+world", "12:4hello world"},
	{"percent plus", "d=3%3A4a%2B", "3:4a+"},
	{"other fields", "x=1&d=2%3A4x&y", "2:4x"},
	{"encoded key", "%64=2%3A4x", "2:4x"},
	{"newline", `d=4%3A4a%5Cnb`, "4:4a\nb"},
	{"escaped newline", `d=5%3A4a%5C%5Cnb`, `5:4a\nb`},
	{"escaped backslash then n", `d=6%3A4a%5C%5C%5Cnb`, `6:4a\\nb`},
	{"non-ASCII", "d=2%3A4%E2%82%AC", "2:4€"},
	{"raw non-ASCII", "d=2:4€", "2:4€"},
	{"lower-case hex", "d=2%3a4%e2%82%ac", "2:4€"},
	{"rev4 separator", "d=4a%1E4b", "4a\x1e4b"},
}

// badBodies are the project's list of malformed POST bodies; each must be
// rejected by every revision and body kind.
var badBodies = []string{
	"",
	"abc",
	"4hello\x1e",
	"7",
	"9",
	"x",
	"b!!!!",
	"bA===",
}
