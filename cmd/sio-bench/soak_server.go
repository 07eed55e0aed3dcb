package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sio/sio/socketio"
)

// The server side of the soak: a Socket.IO server whose events carry
// sequence numbers, so that the clients can tell a lost, duplicated or
// reordered delivery from a correct one. The soak starts it as a child
// process (this binary with $SIO_SOAK_SERVE set), so that its goroutines
// and heap are the server's alone.
//
// Streams, each numbered from 1 by the server:
//
//	"g" {"g":n}        to every socket (server ticker, or a client's "global")
//	"r" {"r":i,"n":n}  to the sockets in room i (server ticker, or "shout")
//	"d" {"i":i}        to one socket, i = 0..n-1 (the client's "burst")
//	"hello" {"g":n}    to a new socket: the global number at its connection
//
// Events from clients (all acknowledged):
//
//	echo (v)      acks v
//	join (i)      joins room i, acks {"n":n}: the last number room i had
//	leave (i)     leaves room i, acks {"n":n}
//	shout (i)     broadcasts the next number of room i
//	global ()     broadcasts the next global number
//	burst (n)     emits "d" 0..n-1 to the socket, then acks {"n":n}
//	bye ()        acks {"g":n,"r0":n0,...}: every stream's last number
//
// A join, a leave, a hello and a bye take the stream's lock while they
// read the number and queue their reply, as a broadcast does while it
// numbers and queues its event: every event of a stream numbered after
// the reply is queued after it, every event numbered before it ahead of
// it. The client checks its streams against these replies.
//
// Outside the Socket.IO path, the same listener serves
//
//	/soak/stats?gc=1   JSON soakStats (gc=1: after a forced collection)
//	/soak/load?on=0|1  starts or stops the server's broadcast tickers
//	/debug/pprof/      net/http/pprof, to see what is left after a run

// soakServeEnv makes main run the soak server instead of the benchmark.
const soakServeEnv = "SIO_SOAK_SERVE"

// soakStats is what /soak/stats reports.
type soakStats struct {
	Goroutines  int    `json:"goroutines"`
	HeapAlloc   uint64 `json:"heapAlloc"` // live heap bytes (after a GC when asked)
	HeapInuse   uint64 `json:"heapInuse"`
	Sessions    int    `json:"sessions"`    // Engine.IO sessions
	Sockets     int    `json:"sockets"`     // sockets of the main namespace
	Rooms       int    `json:"rooms"`       // rooms of the main namespace, socket-id rooms included
	Connections int64  `json:"connections"` // connection handlers run
	Disconnects int64  `json:"disconnects"` // disconnect handlers run
	Errors      int64  `json:"errors"`      // errors given to Config.OnError, but for replies to gone clients
	Global      int64  `json:"global"`      // global events numbered
	RoomEvents  int64  `json:"roomEvents"`  // room events numbered
}

type soakRoom struct {
	name string
	mu   sync.Mutex
	seq  int64
}

type soakServer struct {
	io    *socketio.Server
	rooms []*soakRoom
	load  atomic.Bool
	leak  bool // test hook: every connection leaves a goroutine behind

	gmu  sync.Mutex
	gseq int64

	connections atomic.Int64
	disconnects atomic.Int64
	errors      atomic.Int64
	roomEvents  atomic.Int64
	leaked      chan struct{} // never closed: what leaked goroutines wait on
}

type soakServerConfig struct {
	PingInterval time.Duration
	PingTimeout  time.Duration
	Rooms        int
	GlobalRate   int // global broadcasts per second while the load is on
	RoomRate     int // room broadcasts per second, rooms in turn
	InjectLeak   bool
	Logger       *slog.Logger
}

func newSoakServer(cfg soakServerConfig) (*soakServer, error) {
	ss := &soakServer{leak: cfg.InjectLeak, leaked: make(chan struct{})}
	for i := range max(cfg.Rooms, 1) {
		ss.rooms = append(ss.rooms, &soakRoom{name: "room:" + strconv.Itoa(i)})
	}
	srv, err := socketio.NewServer(socketio.Config{
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		Logger:       cfg.Logger,
		OnError: func(_ *socketio.Socket, err error) {
			// A reply to a client that has just gone is no error.
			if errors.Is(err, socketio.ErrDisconnected) {
				return
			}
			if ss.errors.Add(1) <= 10 && cfg.Logger != nil {
				cfg.Logger.Error("soak server: handler error", "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	ss.io = srv
	srv.OnConnection(ss.onConnection)
	return ss, nil
}

func seqArg(key string, n int64) json.RawMessage {
	b := make([]byte, 0, 24)
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

func (ss *soakServer) room(i int) (*soakRoom, error) {
	if i < 0 || i >= len(ss.rooms) {
		return nil, fmt.Errorf("no room %d", i)
	}
	return ss.rooms[i], nil
}

// publishGlobal numbers and broadcasts the next global event.
func (ss *soakServer) publishGlobal() error {
	ss.gmu.Lock()
	defer ss.gmu.Unlock()
	ss.gseq++
	return ss.io.Emit("g", seqArg("g", ss.gseq))
}

// publishRoom numbers and broadcasts the next event of room i.
func (ss *soakServer) publishRoom(i int) error {
	r, err := ss.room(i)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	ss.roomEvents.Add(1)
	arg := json.RawMessage(`{"r":` + strconv.Itoa(i) + `,"n":` + strconv.FormatInt(r.seq, 10) + `}`)
	return ss.io.To(r.name).Emit("r", arg)
}

func (ss *soakServer) onConnection(s *socketio.Socket) {
	ss.connections.Add(1)
	s.OnDisconnect(func(socketio.Reason) { ss.disconnects.Add(1) })
	if ss.leak {
		go func() { <-ss.leaked }()
	}
	ss.gmu.Lock()
	err := s.Emit("hello", seqArg("g", ss.gseq))
	ss.gmu.Unlock()
	if err != nil && !errors.Is(err, socketio.ErrDisconnected) {
		ss.errors.Add(1)
	}

	s.On("echo", func(ev *socketio.Event) error {
		var v json.RawMessage
		if err := ev.Bind(&v); err != nil {
			return err
		}
		return ev.Ack(v)
	})
	member := func(join bool) func(ev *socketio.Event) error {
		return func(ev *socketio.Event) error {
			var i int
			if err := ev.Bind(&i); err != nil {
				return err
			}
			r, err := ss.room(i)
			if err != nil {
				return err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if join {
				s.Join(r.name)
			} else {
				s.Leave(r.name)
			}
			return ev.Ack(seqArg("n", r.seq))
		}
	}
	s.On("join", member(true))
	s.On("leave", member(false))
	s.On("shout", func(ev *socketio.Event) error {
		var i int
		if err := ev.Bind(&i); err != nil {
			return err
		}
		if err := ss.publishRoom(i); err != nil {
			return err
		}
		return ev.Ack()
	})
	s.On("global", func(ev *socketio.Event) error {
		if err := ss.publishGlobal(); err != nil {
			return err
		}
		return ev.Ack()
	})
	s.On("burst", func(ev *socketio.Event) error {
		var n int
		if err := ev.Bind(&n); err != nil {
			return err
		}
		if n < 0 || n > 1000 {
			return fmt.Errorf("burst of %d", n)
		}
		for i := range n {
			if err := s.Emit("d", seqArg("i", int64(i))); err != nil {
				return err
			}
		}
		return ev.Ack(seqArg("n", int64(n)))
	})
	s.On("bye", func(ev *socketio.Event) error {
		// Lock order: the global stream, then the rooms in order.
		ss.gmu.Lock()
		defer ss.gmu.Unlock()
		b := []byte(`{"g":` + strconv.FormatInt(ss.gseq, 10))
		for i, r := range ss.rooms {
			r.mu.Lock()
			defer r.mu.Unlock()
			b = append(b, `,"r`+strconv.Itoa(i)+`":`...)
			b = strconv.AppendInt(b, r.seq, 10)
		}
		return ev.Ack(json.RawMessage(append(b, '}')))
	})
}

// tick runs the broadcast tickers until stop is closed.
func (ss *soakServer) tick(stop <-chan struct{}, globalRate, roomRate int) {
	every := func(rate int, fn func()) {
		if rate <= 0 {
			return
		}
		go func() {
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if ss.load.Load() {
						fn()
					}
				}
			}
		}()
	}
	every(globalRate, func() {
		if ss.publishGlobal() != nil {
			ss.errors.Add(1)
		}
	})
	next := 0
	every(roomRate, func() {
		if ss.publishRoom(next) != nil {
			ss.errors.Add(1)
		}
		next = (next + 1) % len(ss.rooms)
	})
}

func (ss *soakServer) stats(gc bool) soakStats {
	if gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ss.gmu.Lock()
	global := ss.gseq
	ss.gmu.Unlock()
	nsp := ss.io.Of("/")
	return soakStats{
		Goroutines:  runtime.NumGoroutine(),
		HeapAlloc:   ms.HeapAlloc,
		HeapInuse:   ms.HeapInuse,
		Sessions:    ss.io.Engine().SessionCount(),
		Sockets:     len(nsp.Sockets()),
		Rooms:       len(nsp.Adapter().AllRooms()),
		Connections: ss.connections.Load(),
		Disconnects: ss.disconnects.Load(),
		Errors:      ss.errors.Load(),
		Global:      global,
		RoomEvents:  ss.roomEvents.Load(),
	}
}

// handler serves the Socket.IO path, the soak's control endpoints and
// pprof.
func (ss *soakServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", ss.io)
	mux.HandleFunc("/soak/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ss.stats(r.URL.Query().Get("gc") == "1"))
	})
	mux.HandleFunc("/soak/load", func(w http.ResponseWriter, r *http.Request) {
		ss.load.Store(r.URL.Query().Get("on") == "1")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	return mux
}

// soakServe is the child process: it listens on a free port of 127.0.0.1,
// prints "LISTENING <port>", and serves until SIGTERM or SIGINT.
func soakServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-bench soak server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg soakServerConfig
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 3*time.Second, "heartbeat period")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", 6*time.Second, "heartbeat timeout")
	fs.IntVar(&cfg.Rooms, "rooms", 6, "rooms")
	fs.IntVar(&cfg.GlobalRate, "global-rate", 10, "global broadcasts per second")
	fs.IntVar(&cfg.RoomRate, "room-rate", 30, "room broadcasts per second")
	fs.BoolVar(&cfg.InjectLeak, "inject-leak", false, "leave a goroutine behind per connection (to test the soak itself)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ss, err := newSoakServer(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "soak server:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "soak server:", err)
		return 1
	}
	stopTicks := make(chan struct{})
	ss.tick(stopTicks, cfg.GlobalRate, cfg.RoomRate)
	hs := &http.Server{Handler: ss.handler(), ReadHeaderTimeout: 10 * time.Second}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		close(stopTicks)
		_ = ss.io.Close()
		_ = hs.Close()
	}()
	fmt.Fprintf(stdout, "LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "soak server:", err)
		return 1
	}
	return 0
}
