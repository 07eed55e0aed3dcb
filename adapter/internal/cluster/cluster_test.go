package cluster

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/parser/sio"
)

var errTestClosed = errors.New("test: adapter closed")

// published records what a Core's Publish got.
type published struct {
	mu   sync.Mutex
	msgs []string
	err  error
}

func (p *published) publish(_ context.Context, channel string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, channel+" "+string(payload))
	return p.err
}

func (p *published) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func newCore(t *testing.T, servers int, pub *published) *Core[string, int] {
	t.Helper()
	if pub == nil {
		pub = &published{}
	}
	c := New[string, int](Config{
		Prefix:          "test",
		ErrClosed:       errTestClosed,
		Timeout:         time.Second,
		Log:             slog.New(slog.DiscardHandler),
		Publish:         pub.publish,
		ServerCount:     func(context.Context) (int, error) { return servers, nil },
		WaitForHandlers: true,
	})
	t.Cleanup(func() { c.Close(func() {}) })
	return c
}

func TestAskCompletesOnCountedResponses(t *testing.T) {
	c := newCore(t, 3, nil)
	req := &Request[int]{Type: 1, Want: 3, Got: 1}
	err := c.Ask(context.Background(), "r1", req, func(context.Context) error {
		go func() {
			c.Update("r1", func(req *Request[int]) bool { return false }) // not counted
			for range 2 {
				c.Update("r1", func(req *Request[int]) bool {
					req.Got++
					req.Responses = append(req.Responses, []byte(`1`))
					return true
				})
			}
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.Got != 3 || len(c.Responses(req)) != 2 {
		t.Errorf("got %d responses (%d kept)", req.Got, len(req.Responses))
	}
	if c.Own("r1") {
		t.Error("the request is still registered after Ask")
	}
}

func TestAskTimeout(t *testing.T) {
	c := newCore(t, 3, nil)
	ctx, cancel := c.OpContext(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := &Request[int]{Want: 3, Got: 1}
	err := c.Ask(ctx, "r1", req, func(context.Context) error { return nil })
	if !errors.Is(err, adapter.ErrTimeout) || !strings.HasSuffix(err.Error(), ": 1 of 3 responses") {
		t.Fatalf("err %v", err)
	}
	err = c.Error("fetchSockets", err)
	if err.Error() != "test: fetchSockets: adapter: operation has timed out: 1 of 3 responses" {
		t.Errorf("wrapped: %v", err)
	}
}

func TestError(t *testing.T) {
	c := newCore(t, 1, nil)
	redisErr := errors.New("connection refused")
	err := c.Error("op", redisErr)
	if !errors.Is(err, adapter.ErrTimeout) || !errors.Is(err, redisErr) || err.Error() != "test: op: adapter: operation has timed out: connection refused" {
		t.Errorf("Redis error: %v", err)
	}
	if err := c.Error("op", errTestClosed); errors.Is(err, adapter.ErrTimeout) || !errors.Is(err, errTestClosed) {
		t.Errorf("closed: %v", err)
	}
	if err := c.Error("op", context.Canceled); errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("canceled: %v", err)
	}
}

func TestCloseFailsRequests(t *testing.T) {
	c := newCore(t, 2, nil)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- c.Ask(context.Background(), "r1", &Request[int]{Want: 1}, func(context.Context) error {
			close(started)
			return nil
		})
	}()
	<-started
	detached := false
	c.Close(func() { detached = true })
	if err := <-done; err != errTestClosed {
		t.Errorf("Ask: %v", err)
	}
	if !detached || !c.Closed() {
		t.Error("Close did not detach")
	}
	if _, err := c.Start(context.Background(), "r2", &Request[int]{}, func(context.Context) error { return nil }); err != errTestClosed {
		t.Errorf("Start after Close: %v", err)
	}
	c.Close(func() { t.Error("second Close detached again") })
}

func TestCollect(t *testing.T) {
	c := newCore(t, 1, nil)
	err := c.Collect(context.Background(), "op", 0, func(context.Context, int) error {
		t.Error("asked while alone")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c = newCore(t, 4, nil)
	err = c.Collect(context.Background(), "op", 0, func(_ context.Context, n int) error {
		if n != 4 {
			t.Errorf("%d servers", n)
		}
		return errors.New("no")
	})
	if err == nil || err.Error() != "test: op: adapter: operation has timed out: no" {
		t.Errorf("err %v", err)
	}
}

type silentNS struct{}

func (silentNS) Name() string                                                          { return "/" }
func (silentNS) Send([]string, *sio.Packet, adapter.Flags)                             {}
func (silentNS) Disconnect([]string, bool)                                             {}
func (silentNS) Socket(string) (adapter.SocketInfo, bool)                              { return adapter.SocketInfo{}, false }
func (silentNS) SendWithAck([]string, *sio.Packet, adapter.Flags, adapter.AckFunc) int { return 0 }

func TestBroadcastWithAck(t *testing.T) {
	c := newCore(t, 2, nil)
	mem := adapter.NewMemory(silentNS{}).(*adapter.Memory)
	p := &sio.Packet{Type: sio.Event, Namespace: "/", Data: []byte(`["x"]`)}
	var counts []int
	onCount := func(n int) { counts = append(counts, n) }
	fail := errors.New("publish failed")
	err := c.BroadcastWithAck(context.Background(), "a1", mem, p, adapter.Options{}, onCount, nil,
		func(context.Context) error { return fail })
	if err != fail || c.AcksOf("a1") != nil {
		t.Fatalf("failed publish: %v, routes %v", err, c.AcksOf("a1"))
	}
	opts := adapter.Options{Flags: adapter.Flags{Timeout: 50 * time.Millisecond}}
	if err := c.BroadcastWithAck(context.Background(), "a2", mem, p, opts, onCount, nil,
		func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	acks := c.AcksOf("a2")
	if acks == nil || !c.Own("a2") {
		t.Fatal("no routes")
	}
	acks.Count(3)
	acks.Ack(p) // no onAck: ignored
	if len(counts) != 3 || counts[2] != 3 {
		t.Errorf("counts %v", counts)
	}
	deadline := time.Now().Add(time.Second)
	for c.AcksOf("a2") != nil {
		if time.Now().After(deadline) {
			t.Fatal("routes kept after the timeout")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRespond(t *testing.T) {
	pub := &published{err: errors.New("down")}
	c := newCore(t, 1, pub)
	c.Respond("ch", []byte("x"))
	c.Close(func() {})
	c.Respond("ch", []byte("y"))
	if got := pub.got(); len(got) != 1 || got[0] != "ch x" {
		t.Errorf("published %q", got)
	}
}

func TestDispatch(t *testing.T) {
	c := newCore(t, 1, nil)
	var mu sync.Mutex
	var got []string
	c.OnEvent(func(e string) {
		if e == "boom" {
			panic(e)
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	block := make(chan struct{})
	c.OnEvent(func(e string) {
		if e == "wait" {
			<-block
		}
	})
	for _, e := range []string{"a", "boom", "b", "wait", "c"} {
		c.Dispatch(e)
	}
	deadline := time.Now().Add(time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d events", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// "wait" is being handled: Close waits for it, and "c" is dropped.
	closed := make(chan struct{})
	go func() {
		c.Close(func() {})
		close(closed)
	}()
	for !c.Closed() {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close did not wait for the handler under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
	<-closed
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "a,b,wait" {
		t.Errorf("handled %q", got)
	}
}

func TestReply(t *testing.T) {
	errNone, errSent := errors.New("none"), errors.New("sent")
	var r Reply[int]
	if r.Wanted() || r.Send(1, errNone, errSent) != errNone {
		t.Error("reply without a request")
	}
	var got []int
	var r2 Reply[int]
	r2.Expect(func(v int) { got = append(got, v) })
	if !r2.Wanted() || r2.Send(1, errNone, errSent) != nil || r2.Send(2, errNone, errSent) != errSent {
		t.Error("second reply")
	}
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("sent %v", got)
	}
}
