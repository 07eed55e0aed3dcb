package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-sio/sio/socketio"
)

// Limits applied to what clients send.
const (
	maxNickLen    = 32  // characters
	maxRoomLen    = 32  // characters
	maxMessageLen = 500 // characters
	historySize   = 50  // messages kept per room, sent to whoever joins
	defaultRoom   = "lobby"
)

// The wire format. Clients send NickRequest, JoinRequest and
// MessageRequest with an acknowledgement callback, and "typing" with a
// bare boolean. The server sends Message, Notice, Typing, RoomUsers and
// []RoomInfo events.
type (
	NickRequest struct {
		Nick string `json:"nick"`
	}
	JoinRequest struct {
		Room string `json:"room"`
	}
	MessageRequest struct {
		Text string `json:"text"`
	}

	// Reply is the acknowledgement of every request: Error is set when the
	// request was refused, the other fields when it succeeded.
	Reply struct {
		Error   string    `json:"error,omitempty"`
		Nick    string    `json:"nick,omitempty"`
		Room    string    `json:"room,omitempty"`
		Users   []string  `json:"users,omitempty"`
		History []Message `json:"history,omitempty"`
	}

	// Message is a chat message ("message" event). Time is in Unix
	// milliseconds, the unit of JavaScript's Date.
	Message struct {
		Room string `json:"room"`
		From string `json:"from"`
		Text string `json:"text"`
		Time int64  `json:"time"`
	}
	// Notice tells a room that someone joined or left ("notice" event).
	Notice struct {
		Room string `json:"room"`
		Nick string `json:"nick"`
		Kind string `json:"kind"` // "join" or "leave"
		Time int64  `json:"time"`
	}
	// Typing says that Nick started or stopped typing in Room ("typing"
	// event).
	Typing struct {
		Room   string `json:"room"`
		Nick   string `json:"nick"`
		Typing bool   `json:"typing"`
	}
	// RoomUsers is the member list of a room ("users" event).
	RoomUsers struct {
		Room  string   `json:"room"`
		Users []string `json:"users"`
	}
	// RoomInfo is one entry of the room list ("rooms" event).
	RoomInfo struct {
		Name  string `json:"name"`
		Users int    `json:"users"`
	}
)

// chat is the state of the chat: who is connected under which nickname and
// who is in which room. It is the source of truth for room membership; the
// Socket.IO rooms of the sockets (Join/Leave) mirror it so that broadcasts
// reach the right clients.
//
// Events are emitted while mu is held, so that every client sees the
// changes in the order they happened. That is cheap: Emit never waits for
// a client, it queues the packet.
type chat struct {
	io  *socketio.Server
	log *slog.Logger

	mu    sync.Mutex
	nicks map[string]*user // by folded nickname (see nickKey)
	rooms map[string]*room // by name; the default room always exists
}

// user is one connected socket.
type user struct {
	s *socketio.Socket
	// token comes from the client's auth payload. It lets a page that
	// reconnects reclaim its nickname from its own stale connection,
	// which the server may not have noticed is gone yet.
	token string

	// Guarded by chat.mu.
	nick string // "" until chosen
	room *room  // nil until the first join

	// The limiters are used only by the socket's handlers, which the
	// socketio package runs one at a time: they need no lock.
	events   *limiter // every event
	messages *limiter // chat messages
}

type room struct {
	name    string
	members map[*user]struct{}
	history []Message
}

// key is the name of the Socket.IO room behind a chat room. The prefix
// keeps user-chosen names apart from the rooms Socket.IO creates for each
// socket id: without it, a room named after someone's socket id would
// receive that socket's private events.
func (r *room) key() string { return "room:" + r.name }

func newChat(io *socketio.Server, log *slog.Logger) *chat {
	c := &chat{io: io, log: log, nicks: map[string]*user{}, rooms: map[string]*room{}}
	c.rooms[defaultRoom] = &room{name: defaultRoom, members: map[*user]struct{}{}}
	return c
}

// errRateLimited stops an event in the socket middleware; the event is
// dropped and the error logged.
var errRateLimited = errors.New("rate limit exceeded")

// onConnection sets up a new socket: its middleware, its handlers, and
// the initial room list.
func (c *chat) onConnection(s *socketio.Socket) {
	u := &user{
		s:        s,
		token:    authToken(s),
		events:   newLimiter(20, 40), // generous: typing events count too
		messages: newLimiter(5, 5),   // 5 messages per second
	}
	c.log.Info("connected", "socket", s.ID(), "addr", s.Handshake().Address, "transport", s.Transport())

	// A per-socket middleware runs before every event handler: here it
	// drops the events of a client that floods the server.
	s.Use(func(ev *socketio.Event) error {
		if !u.events.allow() {
			return errRateLimited
		}
		return nil
	})

	// Typed handlers: the first argument is decoded into the struct, and
	// the reply goes back through the client's acknowledgement callback.
	socketio.OnAck(s, "nick", func(req NickRequest, ack socketio.Ack) {
		_ = ack(c.setNick(u, req.Nick))
	})
	socketio.OnAck(s, "join", func(req JoinRequest, ack socketio.Ack) {
		c.join(u, req.Room, ack)
	})
	socketio.OnAck(s, "message", func(req MessageRequest, ack socketio.Ack) {
		_ = ack(c.message(u, req.Text))
	})
	socketio.On(s, "typing", func(typing bool) {
		c.typing(u, typing)
	})

	s.OnDisconnect(func(reason socketio.Reason) {
		c.log.Info("disconnected", "socket", s.ID(), "reason", reason)
		c.remove(u)
	})

	c.mu.Lock()
	_ = s.Emit("rooms", c.roomListLocked())
	c.mu.Unlock()
}

// setNick gives u a nickname. Nicknames are unique among the connected
// users, compared without regard to case.
func (c *chat) setNick(u *user, nick string) Reply {
	nick, err := validNick(nick)
	if err != nil {
		return Reply{Error: err.Error()}
	}
	c.mu.Lock()
	if u.nick != "" {
		c.mu.Unlock()
		if u.nick == nick {
			return Reply{Nick: nick}
		}
		return Reply{Error: "you already have a nickname"}
	}
	var stale *socketio.Socket
	if other := c.nicks[nickKey(nick)]; other != nil {
		if u.token == "" || other.token != u.token {
			c.mu.Unlock()
			return Reply{Error: "nickname " + nick + " is taken"}
		}
		// The same page reconnected before its old connection timed out:
		// the new connection takes over.
		c.removeLocked(other)
		stale = other.s
	}
	u.nick = nick
	c.nicks[nickKey(nick)] = u
	c.mu.Unlock()

	if stale != nil {
		c.log.Info("nickname reclaimed", "nick", nick, "old", stale.ID(), "new", u.s.ID())
		stale.Disconnect(true)
	}
	c.log.Info("nickname set", "socket", u.s.ID(), "nick", nick)
	return Reply{Nick: nick}
}

// join moves u to the room name (created if needed). The reply is sent
// with the lock held, so that the member list and history it carries are
// not overtaken by a later update.
func (c *chat) join(u *user, name string, ack socketio.Ack) {
	name, err := validRoom(name)
	if err != nil {
		_ = ack(Reply{Error: err.Error()})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.nick == "" {
		_ = ack(Reply{Error: "choose a nickname first"})
		return
	}
	if u.room == nil || u.room.name != name {
		c.leaveRoomLocked(u)
		r := c.rooms[name]
		if r == nil {
			r = &room{name: name, members: map[*user]struct{}{}}
			c.rooms[name] = r
		}
		r.members[u] = struct{}{}
		u.room = r
		u.s.Join(r.key())
		// s.To excludes the sender: the others hear about the newcomer.
		_ = u.s.To(r.key()).Emit("notice", Notice{Room: r.name, Nick: u.nick, Kind: "join", Time: now()})
		_ = c.io.To(r.key()).Emit("users", RoomUsers{Room: r.name, Users: r.userList()})
		_ = c.io.Emit("rooms", c.roomListLocked())
		c.log.Info("joined", "nick", u.nick, "room", r.name)
	}
	_ = ack(Reply{Room: u.room.name, Users: u.room.userList(), History: u.room.history})
}

// message sends text to u's room, sender included: the page renders its
// own messages from the broadcast too, so every member sees one order.
func (c *chat) message(u *user, text string) Reply {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return Reply{Error: "empty message"}
	case utf8.RuneCountInString(text) > maxMessageLen:
		return Reply{Error: "message too long"}
	case !u.messages.allow():
		return Reply{Error: "slow down: at most 5 messages per second"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.room == nil {
		return Reply{Error: "join a room first"}
	}
	r := u.room
	msg := Message{Room: r.name, From: u.nick, Text: text, Time: now()}
	r.history = append(r.history, msg)
	if len(r.history) > historySize {
		r.history = slices.Clone(r.history[len(r.history)-historySize:])
	}
	_ = c.io.To(r.key()).Emit("message", msg)
	return Reply{}
}

// typing relays a typing indicator to the rest of u's room. The event is
// volatile: if a client cannot take it at once it is dropped, which is
// fine for something this ephemeral (the page refreshes it while the user
// types).
func (c *chat) typing(u *user, typing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.room != nil {
		_ = u.s.To(u.room.key()).Volatile().Emit("typing", Typing{Room: u.room.name, Nick: u.nick, Typing: typing})
	}
}

// remove takes a disconnected user out of the chat.
func (c *chat) remove(u *user) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(u)
}

func (c *chat) removeLocked(u *user) {
	if u.room != nil {
		c.leaveRoomLocked(u)
		_ = c.io.Emit("rooms", c.roomListLocked())
	}
	if u.nick != "" && c.nicks[nickKey(u.nick)] == u {
		delete(c.nicks, nickKey(u.nick))
	}
	u.nick = ""
}

// leaveRoomLocked takes u out of its room, if any, and tells the others.
// Empty rooms other than the default one disappear; the caller sends the
// new room list.
func (c *chat) leaveRoomLocked(u *user) {
	r := u.room
	if r == nil {
		return
	}
	delete(r.members, u)
	u.room = nil
	u.s.Leave(r.key())
	_ = c.io.To(r.key()).Emit("notice", Notice{Room: r.name, Nick: u.nick, Kind: "leave", Time: now()})
	_ = c.io.To(r.key()).Emit("users", RoomUsers{Room: r.name, Users: r.userList()})
	if len(r.members) == 0 && r.name != defaultRoom {
		delete(c.rooms, r.name)
	}
	c.log.Info("left", "nick", u.nick, "room", r.name)
}

// roomListLocked lists the rooms, the default one first, then by name.
func (c *chat) roomListLocked() []RoomInfo {
	list := make([]RoomInfo, 0, len(c.rooms))
	for _, r := range c.rooms {
		list = append(list, RoomInfo{Name: r.name, Users: len(r.members)})
	}
	slices.SortFunc(list, func(a, b RoomInfo) int {
		if (a.Name == defaultRoom) != (b.Name == defaultRoom) {
			if a.Name == defaultRoom {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return list
}

// userList returns the nicknames of the room's members, sorted.
func (r *room) userList() []string {
	users := make([]string, 0, len(r.members))
	for u := range r.members {
		users = append(users, u.nick)
	}
	slices.SortFunc(users, func(a, b string) int { return cmp.Compare(nickKey(a), nickKey(b)) })
	return users
}

// authToken reads the token of the client's auth payload
// (io({auth: {token}}) in the page), "" if there is none.
func authToken(s *socketio.Socket) string {
	var auth struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(s.Handshake().Auth, &auth); err != nil || len(auth.Token) > 64 {
		return ""
	}
	return auth.Token
}

// validNick trims a nickname and checks it: 1 to 32 printable characters.
func validNick(nick string) (string, error) {
	nick = strings.TrimSpace(nick)
	n := utf8.RuneCountInString(nick)
	switch {
	case n == 0:
		return "", errors.New("the nickname is empty")
	case n > maxNickLen:
		return "", errors.New("the nickname is longer than 32 characters")
	case strings.IndexFunc(nick, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", errors.New("the nickname has invalid characters")
	}
	return nick, nil
}

// nickKey folds a nickname for the uniqueness check: "Alice" and "alice"
// are the same user.
func nickKey(nick string) string { return strings.ToLower(nick) }

// validRoom normalizes a room name to lower case and checks it: 1 to 32
// letters, digits, '-' or '_'.
func validRoom(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", errors.New("the room name is empty")
	case n > maxRoomLen:
		return "", errors.New("the room name is longer than 32 characters")
	case strings.IndexFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_'
	}) >= 0:
		return "", errors.New("a room name may only have letters, digits, - and _")
	}
	return name, nil
}

func now() int64 { return time.Now().UnixMilli() }

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
