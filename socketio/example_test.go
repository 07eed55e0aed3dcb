package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/go-sio/sio/socketio"
)

// A server mounted on a ServeMux, as any http.Handler.
func ExampleNewServer() {
	io, err := socketio.NewServer(socketio.Config{
		PingInterval:   10 * time.Second,
		ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer io.Close()

	io.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		_ = s.Emit("welcome", s.ID())
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	// http.ListenAndServe(":3000", mux)

	fmt.Println(io.Engine().Config().Path)
	// Output: /socket.io/
}

// A namespace middleware refusing a connection: the client's
// connect_error gets the message, and err.data the Data.
func ExampleNamespace_Use() {
	io, _ := socketio.NewServer(socketio.Config{})
	defer io.Close()

	admin := io.Of("/admin")
	admin.Use(func(s *socketio.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		if err := s.Handshake().BindAuth(&auth); err != nil || auth.Token != "secret" {
			return &socketio.ConnectError{
				Message: "not authorized",
				Data:    map[string]string{"hint": "send a token in auth"},
			}
		}
		s.SetData(map[string]string{"role": "admin"})
		return nil
	})
	admin.OnConnection(func(s *socketio.Socket) {
		fmt.Println("admin connected:", s.ID())
	})
}

// Typed handlers: the arguments are decoded into the handler's types;
// arguments that do not decode go to Config.OnError and the handler is not
// called.
func ExampleOn() {
	type ChatMessage struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}
	io, _ := socketio.NewServer(socketio.Config{
		OnError: func(s *socketio.Socket, err error) {
			if errors.Is(err, socketio.ErrBadArguments) {
				log.Printf("socket %s sent bad arguments: %v", s.ID(), err)
			}
		},
	})
	defer io.Close()

	io.OnConnection(func(s *socketio.Socket) {
		// Client: socket.emit("chat", {room: "lobby", text: "hi"})
		socketio.On(s, "chat", func(msg ChatMessage) {
			_ = s.To(msg.Room).Emit("chat", msg)
		})
		// Client: socket.emit("add", 2, 3, (sum) => ...) is answered with
		// the raw form, which binds its arguments on demand.
		s.On("add", func(ev *socketio.Event) error {
			var a, b int
			if err := ev.Bind(&a, &b); err != nil {
				return err
			}
			return ev.Ack(a + b)
		})
	})
}

// An acknowledged event from the client: the handler gets the Ack.
func ExampleOnAck() {
	io, _ := socketio.NewServer(socketio.Config{})
	defer io.Close()

	io.OnConnection(func(s *socketio.Socket) {
		// Client: socket.emit("greet", "Ada", (reply) => console.log(reply))
		socketio.OnAck(s, "greet", func(name string, ack socketio.Ack) {
			_ = ack("hello " + name)
		})
	})
}

// Asking a client and waiting for its acknowledgement.
func ExampleSocket_EmitWithAck() {
	io, _ := socketio.NewServer(socketio.Config{})
	defer io.Close()

	io.OnConnection(func(s *socketio.Socket) {
		// Client: socket.on("ready?", (cb) => cb(true))
		go func() {
			reply, err := s.Timeout(5*time.Second).EmitWithAck(context.Background(), "ready?")
			switch {
			case errors.Is(err, socketio.ErrAckTimeout):
				s.Disconnect(true)
			case err != nil:
				return // disconnected meanwhile
			default:
				var ready bool
				if reply.Bind(&ready) == nil && ready {
					s.Join("players")
				}
			}
		}()
	})
}

// Broadcast operators are immutable values: each method returns a copy,
// so one operator can be derived into several.
func ExampleBroadcastOperator() {
	io, _ := socketio.NewServer(socketio.Config{})
	defer io.Close()

	news := io.To("sports", "weather") // sockets in either room, each once
	_ = news.Except("muted").Emit("news", "it rains")
	_ = news.Volatile().Emit("ticker", 42) // may be dropped for busy clients

	// Replies from every selected socket, with a deadline.
	replies, err := io.To("players").Timeout(2*time.Second).EmitWithAck(context.Background(), "vote")
	fmt.Println(len(replies), err)
	// Output: 0 <nil>
}
