package chatcore

import (
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sio/sio/socketio"
)

// Handlers is what a server does with the requests of one socket. Serve
// calls them only with valid input, one at a time (the socketio package
// runs a socket's handlers in order), and answers invalid requests
// itself.
type Handlers struct {
	// Nick asks for a nickname: trimmed, 1 to 32 printable characters.
	// The server keeps nicknames unique without regard to case (NickKey).
	Nick func(nick string) Reply
	// Join moves the user to a room (created if needed): a normalized
	// name, lower case, 1 to 32 letters, digits, '-' or '_'. The answer
	// goes through ack, so that a server may send it while it holds a
	// lock (see examples/chat); it carries the room's members and
	// history.
	Join func(room string, ack socketio.Ack)
	// Message sends text to the user's room: trimmed, 1 to 500
	// characters, within the rate limit of 5 messages per second.
	Message func(text string) Reply
	// Typing relays a typing indicator to the rest of the user's room.
	Typing func(typing bool)
	// Disconnect takes the user out of the chat when the socket is gone.
	Disconnect func()
}

// errRateLimited stops an event in the socket middleware; the event is
// dropped and the error goes to the server's OnError hook.
var errRateLimited = errors.New("rate limit exceeded")

// Serve sets up a new socket of the chat: a middleware that drops the
// events of a client that floods the server, the chat's events, checked
// and passed on to h, and h.Disconnect when the socket goes away.
func Serve(s *socketio.Socket, log *slog.Logger, h Handlers) {
	events := newLimiter(20, 40) // generous: typing events count too
	messages := newLimiter(5, 5) // 5 messages per second
	log.Info("connected", "socket", s.ID(), "addr", s.Handshake().Address, "transport", s.Transport())

	s.OnDisconnect(func(reason socketio.Reason) {
		log.Info("disconnected", "socket", s.ID(), "reason", reason)
		h.Disconnect()
	})

	// A per-socket middleware runs before every event handler.
	s.Use(func(*socketio.Event) error {
		if !events.allow() {
			return errRateLimited
		}
		return nil
	})

	// Typed handlers: the first argument is decoded into the struct, and
	// the reply goes back through the client's acknowledgement callback.
	socketio.OnAck(s, "nick", func(req NickRequest, ack socketio.Ack) {
		nick, err := validNick(req.Nick)
		if err != nil {
			_ = ack(Reply{Error: err.Error()})
			return
		}
		_ = ack(h.Nick(nick))
	})
	socketio.OnAck(s, "join", func(req JoinRequest, ack socketio.Ack) {
		room, err := validRoom(req.Room)
		if err != nil {
			_ = ack(Reply{Error: err.Error()})
			return
		}
		h.Join(room, ack)
	})
	socketio.OnAck(s, "message", func(req MessageRequest, ack socketio.Ack) {
		text := strings.TrimSpace(req.Text)
		switch {
		case text == "":
			_ = ack(Reply{Error: "empty message"})
		case utf8.RuneCountInString(text) > maxMessageLen:
			_ = ack(Reply{Error: "message too long"})
		case !messages.allow():
			_ = ack(Reply{Error: "slow down: at most 5 messages per second"})
		default:
			_ = ack(h.Message(text))
		}
	})
	socketio.On(s, "typing", h.Typing)
}

// limiter is a token bucket: up to burst events at once, refilled at rate
// per second. It is not safe for concurrent use.
type limiter struct {
	rate, burst, tokens float64
	last                time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// allow takes a token if one is left.
func (l *limiter) allow() bool {
	t := time.Now()
	l.tokens = min(l.burst, l.tokens+t.Sub(l.last).Seconds()*l.rate)
	l.last = t
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
