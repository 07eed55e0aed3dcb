package socketio

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"testing"
)

// maskedFrames returns text frames of pkts as a client sends them (masked,
// FIN set, payloads under 126 bytes), one after the other.
func maskedFrames(pkts ...string) []byte {
	var b []byte
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, p := range pkts {
		b = append(b, 0x81, 0x80|byte(len(p)))
		b = append(b, key[:]...)
		for i := 0; i < len(p); i++ {
			b = append(b, p[i]^key[i&3])
		}
	}
	return b
}

// BenchmarkEchoAck measures what the server spends on one acknowledged
// event over a WebSocket on loopback: read, decode, handler, ack, write.
// The client writes pre-encoded frames and reads into a fixed buffer, so
// the allocations per op are the server's. Four acks are kept in flight,
// as in the echo scenario of cmd/sio-bench.
func BenchmarkEchoAck(b *testing.B) {
	const payload = `{"seq":1,"data":"0123456789abcdef0123456789abcdef"}`
	const inFlight = 4
	ts := newTestServer(b, Config{})
	ts.io.OnConnection(func(s *Socket) {
		s.On("echo", func(ev *Event) error {
			var v json.RawMessage
			if err := ev.Bind(&v); err != nil {
				return err
			}
			return ev.Ack(v)
		})
	})
	c, err := dialRawWS(ts.hs.Listener.Addr().String(), ts.io.Engine().Config().Path+"?EIO=4&transport=websocket", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.conn.Close()
	ack := "431[" + payload + "]"
	var out, want []byte
	for range inFlight {
		out = append(out, maskedFrames(`421["echo",`+payload+`]`)...)
		want = append(want, 0x81, byte(len(ack)))
		want = append(want, ack...)
	}
	in := make([]byte, len(want))
	round := func() {
		if _, err := c.conn.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.br, in); err != nil {
			b.Fatal(err)
		}
	}
	round()
	if !bytes.Equal(in, want) {
		b.Fatalf("acks %q, want %q", in, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += inFlight {
		round()
	}
}

// BenchmarkBroadcast measures one Server.Emit to 100 WebSocket clients on
// loopback, each client reading its frame before the next emit (an op is
// 100 deliveries). Clients read into fixed buffers: the allocations are
// the server's.
func BenchmarkBroadcast(b *testing.B) {
	const clients = 100
	ts := newTestServer(b, Config{})
	addr, path := ts.hs.Listener.Addr().String(), ts.io.Engine().Config().Path+"?EIO=4&transport=websocket"
	payload := json.RawMessage(`{"t":1732170000000000000,"seq":12345}`)
	frame := append([]byte{0x81, 0}, `42["bcast",`+string(payload)+`]`...)
	frame[1] = byte(len(frame) - 2)
	var wg sync.WaitGroup
	conns := make([]*rawWS, clients)
	for i := range conns {
		c, err := dialRawWS(addr, path, 0)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	start := make([]chan struct{}, clients)
	bad := make(chan []byte, clients)
	for i, c := range conns {
		start[i] = make(chan struct{}, 1)
		go func() {
			buf := make([]byte, len(frame))
			for range start[i] {
				if _, err := io.ReadFull(c.br, buf); err != nil {
					wg.Done()
					return
				}
				if !bytes.Equal(buf, frame) {
					select {
					case bad <- bytes.Clone(buf):
					default:
					}
				}
				wg.Done()
			}
		}()
	}
	defer func() {
		for i, c := range conns {
			close(start[i])
			c.conn.Close()
		}
	}()
	round := func() {
		wg.Add(clients)
		for i := range start {
			start[i] <- struct{}{}
		}
		if err := ts.io.Emit("bcast", payload); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		select {
		case got := <-bad:
			b.Fatalf("client got %q, want %q", got, frame)
		default:
		}
	}
	round()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*clients), "ns/delivery")
}
