package socketio

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// badInputServer is a server whose sockets record every event they get
// (none is expected from a bad input) and that has an "/admin" namespace.
type badInputServer struct {
	*testServer
	mu     sync.Mutex
	events []string
}

func newBadInputServer(t *testing.T) *badInputServer {
	ts := &badInputServer{testServer: newTestServer(t, Config{})}
	record := func(s *Socket) {
		s.OnAny(func(ev *Event) {
			ts.mu.Lock()
			ts.events = append(ts.events, s.Namespace().Name()+" "+ev.Name())
			ts.mu.Unlock()
		})
	}
	ts.io.OnConnection(record)
	ts.io.Of("/admin").OnConnection(record)
	return ts
}

func (ts *badInputServer) takeEvents() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ev := ts.events
	ts.events = nil
	return ev
}

// expectRejected opens a session on each transport, connects it to the
// namespaces in nsps, sends the input and checks that the session closes
// with nothing sent and no event delivered.
func expectRejected(t *testing.T, ts *badInputServer, nsps []string, input ...item) {
	t.Helper()
	for _, ws := range []bool{false, true} {
		var c tclient
		if ws {
			c = ts.dialWS("")
		} else {
			c = ts.dialPolling("")
		}
		for _, n := range nsps {
			connect(t, c, n, "")
		}
		if pc, ok := c.(*pollClient); ok {
			// The engine may refuse the body itself (400): the session
			// must be closed either way.
			pc.postItems(input...)
		} else {
			c.sendItems(input...)
		}
		if got := c.expectClosed(); len(got) > 0 {
			t.Fatalf("%v (websocket %v): before the close got %v", input, ws, got)
		}
		if ev := ts.takeEvents(); len(ev) > 0 {
			t.Fatalf("%v (websocket %v): events delivered: %v", input, ws, ev)
		}
	}
}

var mainNsp = []string{"/"}

// BAD-INPUTS row 35
func TestBadInputInvalidPayload(t *testing.T) {
	ts := newBadInputServer(t)
	for _, p := range []string{
		`42[{"toString":"foo"}]`,
		`42[true,"foo"]`,
		`42[null,"bar"]`,
		`42[]`,
		`42{}`,
		`42"str"`,
		`42["some","data"`,
		`442["some","data"`,
		`42`,
		`4`,
		`47`,
		`4x`,
	} {
		expectRejected(t, ts, mainNsp, txt(p))
	}
	expectRejected(t, ts, []string{"/", "/admin"}, txt(`42/admin,{}`))
}

// BAD-INPUTS row 36
func TestBadInputReservedEventNames(t *testing.T) {
	ts := newBadInputServer(t)
	for _, p := range []string{
		`42["connect"]`,
		`42["disconnect","123"]`,
		`42["connect_error"]`,
		`42["disconnecting"]`,
		`42["newListener"]`,
		`42["removeListener"]`,
		`421["connect"]`,
		`42["\u0063onnect"]`,
	} {
		expectRejected(t, ts, mainNsp, txt(p))
	}
	expectRejected(t, ts, mainNsp, txt(`451-["disconnect",{"_placeholder":true,"num":0}]`), bin(1))
}

// BAD-INPUTS row 37
func TestBadInputPlaceholderAbuse(t *testing.T) {
	ts := newBadInputServer(t)
	for _, ph := range []string{
		`{"_placeholder":true,"num":"splice"}`,
		`{"_placeholder":true,"num":10}`,
		`{"_placeholder":true,"num":1}`,
		`{"_placeholder":true,"num":-1}`,
		`{"_placeholder":true,"num":1.5}`,
		`{"_placeholder":true,"num":"0"}`,
		`{"_placeholder":true}`,
		`{"_placeholder":"yes","num":0}`,
		`{"_placeholder":true,"num":0,"extra":1}`,
	} {
		expectRejected(t, ts, mainNsp, txt(`451-["hello",`+ph+`]`), bin(1, 2))
	}
	// A declared attachment that no placeholder references.
	expectRejected(t, ts, mainNsp, txt(`451-["hello","no placeholder"]`), bin(1))
}

// BAD-INPUTS row 38
func TestBadInputAttachmentHeaders(t *testing.T) {
	ts := newBadInputServer(t)
	for _, p := range []string{`45`, `451`, `45a-`, `451.23-`, `45-1-`, `445`, `45-["x"]`, `46`, `461-`} {
		expectRejected(t, ts, mainNsp, txt(p))
	}
}

// BAD-INPUTS row 39
func TestBadInputTooManyAttachments(t *testing.T) {
	ts := newBadInputServer(t)
	phs := make([]string, 11)
	for i := range phs {
		phs[i] = fmt.Sprintf(`{"_placeholder":true,"num":%d}`, i)
	}
	// Closed at the header, before any attachment is sent or buffered.
	expectRejected(t, ts, mainNsp, txt(`4511-["x",`+strings.Join(phs, ",")+`]`))
	expectRejected(t, ts, mainNsp, txt(`45999999999-["x",{"_placeholder":true,"num":0}]`))
	expectRejected(t, ts, mainNsp, txt(`4611-0[`+strings.Join(phs, ",")+`]`))

	// MaxAttachments is configurable.
	ts2 := newTestServer(t, Config{MaxAttachments: 2})
	c, _ := connected(t, ts2, pollDial, nil)
	c.send(`453-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`)
	expectClosedOnly(t, c)
}

// BAD-INPUTS row 40
func TestBadInputZeroAttachmentsThenBinary(t *testing.T) {
	transports(t, func(t *testing.T, dial func(*testServer) tclient) {
		ts := newTestServer(t, Config{})
		got := make(chan string, 4)
		c, _ := connected(t, ts, dial, func(s *Socket) {
			s.OnAny(func(ev *Event) { got <- ev.Name() })
		})
		items := []item{txt(`450-["x"]`)}
		for range 100 {
			items = append(items, bin(0, 1, 2, 3))
		}
		c.sendItems(items...)
		if name := recv(t, got); name != "x" {
			t.Fatalf("event %q", name)
		}
		expectClosedOnly(t, c)
		if len(got) != 0 {
			t.Fatalf("more events: %d", len(got))
		}
	})
}

// BAD-INPUTS row 41
func TestBadInputStrayFrames(t *testing.T) {
	ts := newBadInputServer(t)
	expectRejected(t, ts, mainNsp, bin(1, 2, 3))
	expectRejected(t, ts, mainNsp, txt(`451-["a",{"_placeholder":true,"num":0}]`), txt(`42["b"]`))
	expectRejected(t, ts, mainNsp, txt(`452-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), bin(1), txt(`42["b"]`))
	// Before any CONNECT.
	expectRejected(t, ts, nil, bin(1))
}

// BAD-INPUTS row 42
func TestBadInputHugeNumbers(t *testing.T) {
	ts := newBadInputServer(t)
	expectRejected(t, ts, mainNsp, txt(`4299999999999999999999["x"]`))
	expectRejected(t, ts, mainNsp, txt(`4218446744073709551616["x"]`))
	expectRejected(t, ts, mainNsp, txt(`42`+strings.Repeat("9", 100_000)+`["x"]`))
	expectRejected(t, ts, mainNsp, txt(`45`+strings.Repeat("9", 100_000)+`-["x"]`))
	expectRejected(t, ts, mainNsp, txt(`43`+strings.Repeat("1", 100_000)+`[]`))
}

// BAD-INPUTS row 44
func TestBadInputEventBeforeConnect(t *testing.T) {
	ts := newBadInputServer(t)
	expectRejected(t, ts, nil, txt(`42["some event"]`))
	expectRejected(t, ts, nil, txt(`421["some event"]`))
	expectRejected(t, ts, nil, txt(`431[]`))
	expectRejected(t, ts, nil, txt(`41`))
	// An event for a namespace the session has not joined.
	expectRejected(t, ts, mainNsp, txt(`42/admin,["some event"]`))
}

// BAD-INPUTS row 45
func TestBadInputDuplicateConnectAndClientConnectError(t *testing.T) {
	ts := newBadInputServer(t)
	expectRejected(t, ts, mainNsp, txt(`40`))
	expectRejected(t, ts, []string{"/admin"}, txt(`40/admin,{"token":1}`))
	expectRejected(t, ts, nil, txt(`44["handle me please"]`))
	expectRejected(t, ts, nil, txt(`44{"message":"handle me please"}`))
	expectRejected(t, ts, mainNsp, txt(`44{"message":"handle me please"}`))
	expectRejected(t, ts, mainNsp, txt(`44"handle me please"`))
}

// BAD-INPUTS row 47
func TestBadInputInvalidAuthPayload(t *testing.T) {
	ts := newBadInputServer(t)
	for _, p := range []string{`40"string"`, `40[]`, `40/admin,"invalid"`, `40/admin,[]`, `401`, `4012{}`, `40{`, `40null`} {
		expectRejected(t, ts, nil, txt(p))
	}
	expectRejected(t, ts, []string{"/admin"}, txt(`41/admin,{}`))
	expectRejected(t, ts, mainNsp, txt(`41"bye"`))
}

// BAD-INPUTS row 49
func TestBadInputDeepNesting(t *testing.T) {
	ts := newBadInputServer(t)
	const depth = 100_000
	deep := `42["e",` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `]`
	expectRejected(t, ts, mainNsp, txt(deep))
	deepObj := `42["e",` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `]`
	expectRejected(t, ts, mainNsp, txt(deepObj))
	deepAck := `431` + strings.Repeat("[", depth) + strings.Repeat("]", depth)
	expectRejected(t, ts, mainNsp, txt(deepAck))

	// Moderate nesting is ordinary data and binds.
	ts2 := newTestServer(t, Config{})
	got := make(chan int, 1)
	c, _ := connected(t, ts2, pollDial, func(s *Socket) {
		s.On("e", func(ev *Event) error {
			var v any
			if err := ev.Bind(&v); err != nil {
				return err
			}
			n := 0
			for a, ok := v.([]any); ok && len(a) > 0; a, ok = a[0].([]any) {
				n++
			}
			got <- n
			return nil
		})
	})
	c.send(`42["e",` + strings.Repeat("[", 500) + "1" + strings.Repeat("]", 500) + `]`)
	if n := recv(t, got); n != 500 {
		t.Fatalf("depth %d", n)
	}
}
