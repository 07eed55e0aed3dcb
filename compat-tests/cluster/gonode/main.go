// Command gonode is the Go member of the mixed-cluster tests
// (compat-tests/cluster): a sio server with the Redis adapter (or, with
// -adapter streams, the Redis streams adapter, the stream, channel prefix
// and session prefix all named after -key) on a free port of 127.0.0.1.
// It prints
//
//	LISTENING 127.0.0.1:PORT
//
// as its first line on stdout, serves Socket.IO at /socket.io/ and a
// control API, driven by the Node test, at /ctl/:
//
//	POST /ctl/emit         {"nsp","rooms","except","event","args"}: broadcast
//	POST /ctl/emit-ack     {...as emit, "timeoutMs"}: broadcast with acks, answers the replies
//	POST /ctl/goemit       {...as emit, "volatile"}: publish with package emitter (classic adapter)
//	POST /ctl/join         {"rooms","except","join"}: SocketsJoin
//	POST /ctl/leave        {"rooms","except","leave"}: SocketsLeave
//	POST /ctl/disconnect   {"rooms","except","close"}: DisconnectSockets
//	POST /ctl/sse          {"event","args","ack"}: server-side emit (with ack: answers the acks)
//	GET  /ctl/fetch        FetchSockets of "/": [{"id","rooms","data"}]
//	GET  /ctl/count        ServerCount of "/"
//	GET  /ctl/sse-received the server-side events received so far
//
// In args, an object {"$bin": "<base64>"} stands for binary data. Clients
// connecting with auth {"rooms": [...]} join those rooms; each socket's
// data is {"node": "go"} (a recovered socket keeps those of its session).
// Server-side events are acknowledged with
// {"from": "go"}.
//
// -recovery <duration> turns connection state recovery on.
//
// With -watch-stdin the process exits when its standard input closes, so
// that it never outlives the test that started it.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/adapter/redisstreams"
	"github.com/go-sio/sio/compat-tests/internal/testserver"
	"github.com/go-sio/sio/emitter"
	"github.com/go-sio/sio/socketio"
)

type request struct {
	Nsp       string            `json:"nsp"`
	Rooms     []string          `json:"rooms"`
	Except    []string          `json:"except"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	TimeoutMs int               `json:"timeoutMs"`
	Volatile  bool              `json:"volatile"`
	Join      []string          `json:"join"`
	Leave     []string          `json:"leave"`
	Close     bool              `json:"close"`
	Ack       bool              `json:"ack"`
}

// args turns the JSON arguments into Go values, {"$bin": base64} into
// []byte (at any depth).
func (r *request) args() []any {
	out := make([]any, len(r.Args))
	for i, raw := range r.Args {
		var v any
		_ = json.Unmarshal(raw, &v)
		out[i] = unbin(v)
	}
	return out
}

func unbin(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["$bin"].(string); ok && len(x) == 1 {
			b, _ := base64.StdEncoding.DecodeString(s)
			return b
		}
		for k, e := range x {
			x[k] = unbin(e)
		}
	case []any:
		for i, e := range x {
			x[i] = unbin(e)
		}
	}
	return v
}

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	key := flag.String("key", "socket.io", "channel prefix")
	watchStdin := flag.Bool("watch-stdin", false, "exit when stdin closes")
	verbose := flag.Bool("v", false, "log to stderr")
	kind := flag.String("adapter", "redis", "redis (classic adapter) or streams")
	recovery := flag.Duration("recovery", 0, "connection state recovery: max disconnection duration (0: off)")
	flag.Parse()

	logger := testserver.Logger(*verbose)

	rdb := goredis.NewClient(&goredis.Options{Addr: *addr})
	defer rdb.Close()
	cfg := socketio.Config{Logger: logger}
	switch *kind {
	case "redis":
		cfg.Adapter = redis.NewAdapter(rdb, redis.Options{Key: *key, Logger: logger})
	case "streams":
		cfg.Adapter = redisstreams.NewAdapter(rdb, redisstreams.Options{
			StreamName: *key, ChannelPrefix: *key, SessionKeyPrefix: *key + ":session:", Logger: logger})
	default:
		log.Fatalf("unknown adapter %q", *kind)
	}
	if *recovery > 0 {
		cfg.ConnectionStateRecovery = &socketio.RecoveryConfig{MaxDisconnectionDuration: *recovery}
	}
	srv, err := socketio.NewServer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu  sync.Mutex
		sse = []map[string]any{}
	)
	for _, nsp := range []string{"/", "/admin"} {
		ns := srv.Of(nsp)
		ns.Use(func(s *socketio.Socket) error {
			if s.Recovered() {
				return nil // rooms and data come from the session
			}
			var auth struct{ Rooms []string }
			_ = json.Unmarshal(s.Handshake().Auth, &auth)
			s.Join(auth.Rooms...)
			s.SetData(map[string]string{"node": "go"})
			return nil
		})
		switch a := ns.Adapter().(type) {
		case *redis.Adapter:
			a.OnServerSideEmit(func(e *redis.ServerSideEvent) {
				mu.Lock()
				sse = append(sse, map[string]any{"event": e.Event, "args": e.Args})
				mu.Unlock()
				if e.WantsAck() {
					_ = e.Ack(map[string]string{"from": "go"})
				}
			})
		case *redisstreams.Adapter:
			a.OnServerSideEmit(func(e *redisstreams.ServerSideEvent) {
				mu.Lock()
				sse = append(sse, map[string]any{"event": e.Event, "args": e.Args})
				mu.Unlock()
				if e.WantsAck() {
					_ = e.Ack(map[string]string{"from": "go"})
				}
			})
		}
	}
	em := emitter.New(rdb, emitter.Options{Key: *key})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ctl := func(path string, fn func(ctx context.Context, r *request) (any, error)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, hr *http.Request) {
			var r request
			if hr.Method == http.MethodPost {
				if err := json.NewDecoder(hr.Body).Decode(&r); err != nil && err != io.EOF {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
			}
			if r.Nsp == "" {
				r.Nsp = "/"
			}
			ctx, cancel := context.WithTimeout(hr.Context(), 10*time.Second)
			defer cancel()
			out, err := fn(ctx, &r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	op := func(r *request) socketio.BroadcastOperator {
		return srv.Of(r.Nsp).To(r.Rooms...).Except(r.Except...)
	}
	ctl("/ctl/emit", func(_ context.Context, r *request) (any, error) {
		return true, op(r).Emit(r.Event, r.args()...)
	})
	ctl("/ctl/emit-ack", func(ctx context.Context, r *request) (any, error) {
		replies, err := op(r).Timeout(time.Duration(r.TimeoutMs)*time.Millisecond).EmitWithAck(ctx, r.Event, r.args()...)
		out := []json.RawMessage{}
		for _, rep := range replies {
			var v any
			if err := rep.Reply.Bind(&v); err != nil {
				return nil, err
			}
			raw, _ := json.Marshal(v)
			out = append(out, raw)
		}
		return out, err
	})
	ctl("/ctl/goemit", func(ctx context.Context, r *request) (any, error) {
		b := em.Of(r.Nsp).To(r.Rooms...).Except(r.Except...)
		if r.Volatile {
			b = b.Volatile()
		}
		return true, b.Emit(ctx, r.Event, r.args()...)
	})
	ctl("/ctl/join", func(ctx context.Context, r *request) (any, error) {
		return true, op(r).SocketsJoin(ctx, r.Join...)
	})
	ctl("/ctl/leave", func(ctx context.Context, r *request) (any, error) {
		return true, op(r).SocketsLeave(ctx, r.Leave...)
	})
	ctl("/ctl/disconnect", func(ctx context.Context, r *request) (any, error) {
		return true, op(r).DisconnectSockets(ctx, r.Close)
	})
	ctl("/ctl/sse", func(ctx context.Context, r *request) (any, error) {
		var a interface {
			ServerSideEmit(ctx context.Context, event string, args ...any) error
			ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
		}
		switch x := srv.Of(r.Nsp).Adapter().(type) {
		case *redis.Adapter:
			a = x
		case *redisstreams.Adapter:
			a = x
		default:
			return nil, fmt.Errorf("no server-side events with %T", x)
		}
		if r.Ack {
			return a.ServerSideEmitWithAck(ctx, r.Event, r.args()...)
		}
		return true, a.ServerSideEmit(ctx, r.Event, r.args()...)
	})
	ctl("/ctl/sse-received", func(context.Context, *request) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return sse, nil
	})
	ctl("/ctl/fetch", func(ctx context.Context, r *request) (any, error) {
		socks, err := op(r).FetchSockets(ctx)
		out := []map[string]any{}
		for _, s := range socks {
			out = append(out, map[string]any{"id": s.ID, "rooms": s.Rooms, "data": s.Data})
		}
		return out, err
	})
	ctl("/ctl/count", func(ctx context.Context, r *request) (any, error) {
		return srv.Of(r.Nsp).Adapter().ServerCount(ctx)
	})

	testserver.Serve(testserver.Listen("127.0.0.1:0"), mux, *watchStdin, func(hs *http.Server) {
		_ = srv.Close()
		_ = hs.Close()
	})
}
