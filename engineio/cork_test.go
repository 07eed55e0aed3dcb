package engineio

import (
	"testing"
	"time"
)

// Corked sends wait for Uncork and then leave in order; Flush writes while
// corked; nested corks need every Uncork.
func TestCorkHoldsWebSocketWrites(t *testing.T) {
	e := newEnv(t, testConfig())
	c, sid := e.openWS(4)
	defer c.close()
	s := e.h.session(sid)

	s.Cork()
	s.Cork()
	for _, m := range []string{"a", "b", "c"} {
		if err := s.SendText([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := c.readFrameErr(100 * time.Millisecond); err == nil {
		t.Fatalf("frame %v written while corked", f)
	}
	s.Uncork()
	if f, err := c.readFrameErr(100 * time.Millisecond); err == nil {
		t.Fatalf("frame %v written with one Cork left", f)
	}
	s.Uncork()
	c.expectText("4a")
	c.expectText("4b")
	c.expectText("4c")

	s.Cork()
	_ = s.SendText([]byte("d"))
	s.Flush()
	c.expectText("4d")
	_ = s.SendText([]byte("e"))
	if f, err := c.readFrameErr(100 * time.Millisecond); err == nil {
		t.Fatalf("frame %v written while corked after Flush", f)
	}
	s.Uncork()
	c.expectText("4e")
}

// A corked session still writes once corkLimit packets are queued, so a
// long handler cannot grow the queue without bound.
func TestCorkLimit(t *testing.T) {
	e := newEnv(t, testConfig())
	c, sid := e.openWS(4)
	defer c.close()
	s := e.h.session(sid)
	s.Cork()
	defer s.Uncork()
	for i := 0; i < corkLimit; i++ {
		_ = s.SendText([]byte("x"))
	}
	for i := 0; i < corkLimit; i++ {
		c.expectText("4x")
	}
}
