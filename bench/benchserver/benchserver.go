// Package benchserver is the Go side of the benchmark contract that
// cmd/sio-bench drives. bench/node-server.mjs implements the same contract
// on the Node.js reference server:
//
//	echo        (arg)          acks arg back
//	bcast       (arg)          emits "bcast" arg to every connected socket
//	join        (room)         joins room, then acks
//	bcast-room  (room, arg)    emits "bcast" arg to the sockets in room
//	gc          ()             forces a garbage collection, then acks with
//	                           {"goroutines": n, "heap": bytes}
//
// Arguments that are only forwarded stay raw JSON (json.RawMessage): they
// are neither decoded nor re-encoded.
package benchserver

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/go-sio/sio/socketio"
)

// GCStats is the acknowledgement of the gc event.
type GCStats struct {
	Goroutines int    `json:"goroutines"`
	Heap       uint64 `json:"heap"` // bytes in in-use heap spans
}

// New returns a Socket.IO server for cfg with the contract's handlers on
// the main namespace.
func New(cfg socketio.Config) (*socketio.Server, error) {
	srv, err := socketio.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(ev *socketio.Event) error {
			var v json.RawMessage
			if err := ev.Bind(&v); err != nil {
				return err
			}
			return ev.Ack(v)
		})
		s.On("bcast", func(ev *socketio.Event) error {
			var v json.RawMessage
			if err := ev.Bind(&v); err != nil {
				return err
			}
			return srv.Emit("bcast", v)
		})
		s.On("join", func(ev *socketio.Event) error {
			var room string
			if err := ev.Bind(&room); err != nil {
				return err
			}
			s.Join(room)
			return ev.Ack()
		})
		s.On("bcast-room", func(ev *socketio.Event) error {
			var room string
			var v json.RawMessage
			if err := ev.Bind(&room, &v); err != nil {
				return err
			}
			return srv.To(room).Emit("bcast", v)
		})
		s.On("gc", func(ev *socketio.Event) error {
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ev.Ack(GCStats{Goroutines: runtime.NumGoroutine(), Heap: ms.HeapInuse})
		})
	})
	return srv, nil
}

// RaiseOpenFileLimit sets the soft RLIMIT_NOFILE to the hard limit. It
// calls Setrlimit even when the Go runtime has already raised the limit
// at start-up: that also makes child processes (the servers a benchmark
// starts) inherit the raised limit instead of the original one.
func RaiseOpenFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
