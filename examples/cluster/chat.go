package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-sio/sio/socketio"
)

// Limits applied to what clients send, the same as examples/chat's: the
// page is the same.
const (
	maxNickLen    = 32  // characters
	maxRoomLen    = 32  // characters
	maxMessageLen = 500 // characters
	historySize   = 50  // messages kept per room, sent to whoever joins
	defaultRoom   = "lobby"

	// requestTimeout bounds what a handler waits for Redis and the other
	// nodes.
	requestTimeout = 5 * time.Second
)

// The wire format of examples/chat, plus versions on the lists (see
// presence.go) and ids on the messages.
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
		Version int64     `json:"version,omitempty"` // of Users
	}

	// Message is a chat message ("message" event). ID is unique in the
	// cluster: a page that gets a message both in a room's history and as
	// an event shows it once. Time is in Unix milliseconds.
	Message struct {
		ID   string `json:"id"`
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
		Room    string   `json:"room"`
		Users   []string `json:"users"`
		Version int64    `json:"version"`
	}
	// RoomInfo is one entry of the room list ("rooms" event, whose second
	// argument is the list's version).
	RoomInfo struct {
		Name  string `json:"name"`
		Users int    `json:"users"`
	}
)

// errUnavailable is what a page is told when Redis or another node did
// not answer.
const errUnavailable = "the chat is unavailable right now, try again"

// chat is one node of the chat. The state of this node's sockets is in
// memory (user, and the presence's local registry); what the nodes share
// is in Redis (store) or asked from the other nodes (presence).
type chat struct {
	io       *socketio.Server
	store    *store
	presence *presence
	log      *slog.Logger
	nodeID   string        // this node's id in the cluster, in message ids
	seq      atomic.Uint64 // message ids
}

// user is one connected socket of this node. Its fields are used only by
// the socket's handlers, which the socketio package runs one at a time
// (the disconnect handler too): they need no lock.
type user struct {
	s     *socketio.Socket
	token string // from the auth payload: reclaims a nickname (see setNick)
	nick  string // "" until chosen
	room  string // "" until the first join

	events   *limiter // every event
	messages *limiter // chat messages
}

func (u *user) holder() holder { return holder{u.s.ID(), u.token} }

// roomKey is the name of the Socket.IO room behind a chat room. The
// prefix keeps user-chosen names apart from the rooms Socket.IO creates
// for each socket id.
func roomKey(name string) string { return "room:" + name }

// errRateLimited stops an event in the socket middleware.
var errRateLimited = errors.New("rate limit exceeded")

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// onConnection sets up a new socket: its handlers, and the room list.
func (c *chat) onConnection(s *socketio.Socket) {
	u := &user{
		s:        s,
		token:    authToken(s),
		events:   newLimiter(20, 40),
		messages: newLimiter(5, 5),
	}
	s.OnDisconnect(func(reason socketio.Reason) {
		c.log.Info("disconnected", "socket", s.ID(), "reason", reason)
		c.remove(u)
	})
	c.log.Info("connected", "socket", s.ID(), "addr", s.Handshake().Address, "transport", s.Transport())

	s.Use(func(*socketio.Event) error {
		if !u.events.allow() {
			return errRateLimited
		}
		return nil
	})
	socketio.OnAck(s, "nick", func(req NickRequest, ack socketio.Ack) {
		_ = ack(c.setNick(u, req.Nick))
	})
	socketio.OnAck(s, "join", func(req JoinRequest, ack socketio.Ack) {
		_ = ack(c.join(u, req.Room))
	})
	socketio.OnAck(s, "message", func(req MessageRequest, ack socketio.Ack) {
		_ = ack(c.message(u, req.Text))
	})
	socketio.On(s, "typing", func(typing bool) {
		c.typing(u, typing)
	})

	// The latest room list, as the last snapshot left it in Redis.
	ctx, cancel := opContext()
	defer cancel()
	rooms, version, err := c.store.rooms(ctx)
	if err != nil {
		c.log.Warn("reading the room list", "err", err)
		rooms, version = []RoomInfo{{Name: defaultRoom}}, 0
	}
	_ = s.Emit("rooms", rooms, version)
}

// setNick gives u a nickname, unique in the cluster (without regard to
// case). The claim is a Redis key per nickname, set only if absent. A
// claim held by a socket that no longer exists (its node crashed) is
// taken over; one held by a live socket of the same page (same token:
// the page reconnected, maybe through another node, before the old
// connection was noticed gone) is taken over and the old socket
// disconnected, wherever it is.
func (c *chat) setNick(u *user, nick string) Reply {
	nick, err := validNick(nick)
	if err != nil {
		return Reply{Error: err.Error()}
	}
	if u.nick != "" {
		if u.nick == nick {
			return Reply{Nick: nick}
		}
		return Reply{Error: "you already have a nickname"}
	}
	ctx, cancel := opContext()
	defer cancel()
	me := u.holder()
	prev, ok, err := c.store.claimNick(ctx, nick, me)
	if err != nil {
		c.log.Warn("claiming a nickname", "nick", nick, "err", err)
		return Reply{Error: errUnavailable}
	}
	if !ok {
		// A socket id is also the name of a room holding just that
		// socket: FetchSockets on it asks every node whether it exists.
		found, err := c.io.In(prev.sid).FetchSockets(ctx)
		if err != nil {
			c.log.Warn("looking for a nickname's holder", "nick", nick, "err", err)
			return Reply{Error: errUnavailable}
		}
		alive := len(found) > 0
		if alive && (u.token == "" || prev.token != u.token) {
			return Reply{Error: "nickname " + nick + " is taken"}
		}
		took, err := c.store.takeNick(ctx, nick, prev, me)
		if err != nil {
			c.log.Warn("taking over a nickname", "nick", nick, "err", err)
			return Reply{Error: errUnavailable}
		}
		if !took {
			return Reply{Error: "nickname " + nick + " is taken"}
		}
		if alive {
			c.log.Info("nickname reclaimed", "nick", nick, "old", prev.sid, "new", u.s.ID())
			if err := c.io.In(prev.sid).DisconnectSockets(ctx, true); err != nil {
				c.log.Warn("disconnecting a nickname's old socket", "socket", prev.sid, "err", err)
			}
		}
	}
	u.nick = nick
	c.log.Info("nickname set", "socket", u.s.ID(), "nick", nick)
	return Reply{Nick: nick}
}

// join moves u to the room name. The reply carries the room's members, as
// a census taken after the move sees them, and its recent messages.
func (c *chat) join(u *user, name string) Reply {
	name, err := validRoom(name)
	if err != nil {
		return Reply{Error: err.Error()}
	}
	if u.nick == "" {
		return Reply{Error: "choose a nickname first"}
	}
	if u.room != name {
		old := u.room
		c.leaveRoom(u)
		u.room = name
		c.presence.local.set(u.s.ID(), u.nick, name)
		u.s.Join(roomKey(name))
		// s.To excludes the sender: the others hear about the newcomer,
		// on every node.
		_ = u.s.To(roomKey(name)).Emit("notice", Notice{Room: name, Nick: u.nick, Kind: "join", Time: now()})
		c.presence.changed(old, name)
		c.log.Info("joined", "nick", u.nick, "room", name)
	}
	ctx, cancel := opContext()
	defer cancel()
	version, census, err := c.presence.snapshot(ctx)
	if err != nil {
		// Show what is known; the next snapshot, of any version,
		// replaces it.
		c.log.Warn("census for a join", "room", name, "err", err)
		version = 0
	}
	history, err := c.store.history(ctx, name)
	if err != nil {
		c.log.Warn("reading a room's history", "room", name, "err", err)
	}
	return Reply{Room: name, Users: census.users(name), History: history, Version: version}
}

// message sends text to u's room on every node, sender included. It goes
// to the room's history in Redis first, so that someone joining at the
// same moment gets it in the history or as an event (or both: the page
// shows a message id once).
func (c *chat) message(u *user, text string) Reply {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return Reply{Error: "empty message"}
	case utf8.RuneCountInString(text) > maxMessageLen:
		return Reply{Error: "message too long"}
	case !u.messages.allow():
		return Reply{Error: "slow down: at most 5 messages per second"}
	case u.room == "":
		return Reply{Error: "join a room first"}
	}
	msg := Message{
		ID:   c.nodeID + "-" + strconv.FormatUint(c.seq.Add(1), 10),
		Room: u.room, From: u.nick, Text: text, Time: now(),
	}
	ctx, cancel := opContext()
	defer cancel()
	if err := c.store.appendHistory(ctx, msg); err != nil {
		c.log.Warn("storing a message", "room", u.room, "err", err)
		return Reply{Error: errUnavailable}
	}
	if err := c.io.To(roomKey(u.room)).Emit("message", msg); err != nil {
		// Delivered on this node; not published to the others.
		c.log.Warn("broadcasting a message", "room", u.room, "err", err)
	}
	return Reply{}
}

// typing relays a typing indicator to the rest of u's room, on every
// node. The event is volatile: a client that cannot take it at once
// misses it, which the page tolerates (it repeats it while typing).
func (c *chat) typing(u *user, typing bool) {
	if u.room != "" {
		_ = u.s.To(roomKey(u.room)).Volatile().Emit("typing", Typing{Room: u.room, Nick: u.nick, Typing: typing})
	}
}

// leaveRoom takes u out of its room, if any, and tells the others.
func (c *chat) leaveRoom(u *user) {
	room := u.room
	if room == "" {
		return
	}
	u.room = ""
	c.presence.local.set(u.s.ID(), u.nick, "")
	u.s.Leave(roomKey(room))
	_ = c.io.To(roomKey(room)).Emit("notice", Notice{Room: room, Nick: u.nick, Kind: "leave", Time: now()})
	c.presence.changed(room)
	c.log.Info("left", "nick", u.nick, "room", room)
}

// remove takes a disconnected user out of the chat and frees its
// nickname (unless another socket of the same page took it over).
func (c *chat) remove(u *user) {
	c.leaveRoom(u)
	if u.nick == "" {
		return
	}
	ctx, cancel := opContext()
	defer cancel()
	if err := c.store.releaseNick(ctx, u.nick, u.holder()); err != nil {
		// The claim stays; the next claim of this nickname finds its
		// socket gone and takes it over.
		c.log.Warn("releasing a nickname", "nick", u.nick, "err", err)
	}
	u.nick = ""
}

// authToken reads the token of the client's auth payload
// (io({auth: {token}}) in the page), "" if there is none. It may not
// contain a space (the claim value separates it from the socket id).
func authToken(s *socketio.Socket) string {
	var auth struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(s.Handshake().Auth, &auth); err != nil || len(auth.Token) > 64 || strings.ContainsAny(auth.Token, " \t\r\n") {
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
