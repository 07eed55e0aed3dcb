// Package socketio is a Socket.IO server: stock socket.io-client
// applications (4.x and 3.x, and 2.x with Config.AllowEIO3) connect to it as
// they would to the Node.js reference server.
//
// # Getting started
//
//	srv, err := socketio.NewServer(socketio.Config{})
//	if err != nil { ... }
//	srv.OnConnection(func(s *socketio.Socket) {
//		s.Join("lobby")
//		socketio.On(s, "chat", func(msg ChatMessage) {
//			s.To("lobby").Emit("chat", msg) // everyone in the lobby but s
//		})
//		s.On("echo", func(ev *socketio.Event) error {
//			var v any
//			if err := ev.Bind(&v); err != nil {
//				return err
//			}
//			return ev.Ack(v)
//		})
//	})
//	http.Handle("/socket.io/", srv)
//
// # Mapping from the Node.js API
//
//	io.on("connection", fn)               srv.OnConnection(fn)
//	io.use(fn)                            srv.Use(func(s *Socket) error)
//	io.of("/admin")                       srv.Of("/admin")
//	io.of(/^\/room-\d+$/)                 srv.OfRegexp(re) / srv.OfFunc(fn)
//	socket.on("ev", (a, cb) => ...)       socketio.OnAck(s, "ev", func(a T, ack socketio.Ack))
//	socket.emit("ev", a, b)               s.Emit("ev", a, b)
//	await socket.timeout(5000).emitWithAck("ev")   s.Timeout(5*time.Second).EmitWithAck(ctx, "ev")
//	socket.to("room").emit(...)           s.To("room").Emit(...)
//	io.to("a").except("b").emit(...)      srv.To("a").Except("b").Emit(...)
//	io.timeout(1000).emitWithAck(...)     srv.Timeout(time.Second).EmitWithAck(ctx, ...)
//	socket.data = {...}                   s.SetData(v) / s.Data()
//	socket.disconnect(true)               s.Disconnect(true)
//
// Differences from Node: handlers are typed (arguments are decoded into the
// handler's parameter types, and a mismatch reaches Config.OnError instead
// of the handler); acknowledgements are explicit values (Event.Ack, Ack),
// never a trailing function argument; every call that waits takes a
// context.Context; broadcast operators are immutable values.
//
// # Concurrency
//
// Every exported method is safe for concurrent use.
//
// Incoming packets are decoded on the goroutine the engine delivers them on
// (in order, one at a time per connection). No user code runs there:
// acknowledgements resolve at once, and events are queued to their socket.
// Each socket runs its handlers one at a time, in packet order, on a
// goroutine that exists only while the socket has work; different sockets
// run in parallel. The connection handlers of a socket run on that same
// queue, before any event, so handlers registered in OnConnection see every
// event. A handler may block (EmitWithAck, a database call): only its own
// socket waits.
//
// Emit never blocks on the network. Each connection has one outbound queue;
// on WebSocket the frames are written at once by a non-blocking write (what
// the kernel does not take is held), on polling they wait for the next
// poll. What is held for a client is bounded by Config.MaxWriteBuffer:
// past it the client is disconnected (ReasonWriteBufferFull), so a client
// that stops reading never slows down a broadcast or grows the server's
// memory. Volatile emits are dropped instead of queued when the client
// cannot take them at once.
//
// Server.Shutdown stops the server gracefully (clients get what is queued,
// then their connections close; disconnect handlers are waited for);
// Server.Close is the immediate form.
//
// A broadcast resolves its recipients in the adapter, encodes the packet
// once (and builds its WebSocket frame once), and writes the same bytes to
// every recipient, without holding a lock while writing.
//
// # Errors
//
// Errors returned by handlers and middlewares, argument binding failures
// (wrapping ErrBadArguments) and recovered panics (*PanicError) go to
// Config.OnError. A middleware error refuses the connection with a
// connect_error carrying the error's message (and the Data of a
// *ConnectError). Malformed packets close the connection.
//
// # Observability
//
// Server.Stats returns a snapshot of the server's counters and gauges, the
// engine's included; package metrics/sioprom exports them to Prometheus.
// Logs go to Config.Logger: what a client can cause at Debug level only,
// a failing dependency at Warn level once per outage, panics at Error
// level.
package socketio
