package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-sio/sio/examples/internal/chatcore"
	"github.com/go-sio/sio/socketio"
)

// The protocol (events, payloads, validation, rate limits) is
// examples/chat's, in examples/internal/chatcore; a cluster adds versions
// to the lists (see presence.go) and ids to the messages. This file is
// what a node does with a valid request.

// requestTimeout bounds what a handler waits for Redis and the other
// nodes.
const requestTimeout = 5 * time.Second

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
}

func (u *user) holder() holder { return holder{u.s.ID(), u.token} }

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// onConnection sets up a new socket: chatcore.Serve registers the chat's
// events on it and calls these handlers with the valid requests. Then the
// socket gets the room list.
func (c *chat) onConnection(s *socketio.Socket) {
	u := &user{s: s, token: chatcore.AuthToken(s)}
	chatcore.Serve(s, c.log, chatcore.Handlers{
		Nick:       func(nick string) chatcore.Reply { return c.setNick(u, nick) },
		Join:       func(room string, ack socketio.Ack) { _ = ack(c.join(u, room)) },
		Message:    func(text string) chatcore.Reply { return c.message(u, text) },
		Typing:     func(typing bool) { c.typing(u, typing) },
		Disconnect: func() { c.remove(u) },
	})

	// The latest room list, as the last snapshot left it in Redis.
	ctx, cancel := opContext()
	defer cancel()
	rooms, version, err := c.store.rooms(ctx)
	if err != nil {
		c.log.Warn("reading the room list", "err", err)
		rooms, version = chatcore.RoomList(nil), 0
	}
	_ = s.Emit(chatcore.EventRooms, rooms, version)
}

// setNick gives u a nickname, unique in the cluster (without regard to
// case). The claim is a Redis key per nickname, set only if absent. A
// claim held by a socket that no longer exists (its node crashed) is
// taken over; one held by a live socket of the same page (same token:
// the page reconnected, maybe through another node, before the old
// connection was noticed gone) is taken over and the old socket
// disconnected, wherever it is.
func (c *chat) setNick(u *user, nick string) chatcore.Reply {
	if u.nick != "" {
		if u.nick == nick {
			return chatcore.Reply{Nick: nick}
		}
		return chatcore.Reply{Error: "you already have a nickname"}
	}
	ctx, cancel := opContext()
	defer cancel()
	me := u.holder()
	prev, ok, err := c.store.claimNick(ctx, nick, me)
	if err != nil {
		c.log.Warn("claiming a nickname", "nick", nick, "err", err)
		return chatcore.Reply{Error: errUnavailable}
	}
	if !ok {
		// A socket id is also the name of a room holding just that
		// socket: FetchSockets on it asks every node whether it exists.
		found, err := c.io.In(prev.sid).FetchSockets(ctx)
		if err != nil {
			c.log.Warn("looking for a nickname's holder", "nick", nick, "err", err)
			return chatcore.Reply{Error: errUnavailable}
		}
		alive := len(found) > 0
		if alive && (u.token == "" || prev.token != u.token) {
			return chatcore.Reply{Error: "nickname " + nick + " is taken"}
		}
		took, err := c.store.takeNick(ctx, nick, prev, me)
		if err != nil {
			c.log.Warn("taking over a nickname", "nick", nick, "err", err)
			return chatcore.Reply{Error: errUnavailable}
		}
		if !took {
			return chatcore.Reply{Error: "nickname " + nick + " is taken"}
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
	return chatcore.Reply{Nick: nick}
}

// join moves u to the room name. The reply carries the room's members, as
// a census taken after the move sees them, and its recent messages.
func (c *chat) join(u *user, name string) chatcore.Reply {
	if u.nick == "" {
		return chatcore.Reply{Error: "choose a nickname first"}
	}
	if u.room != name {
		old := u.room
		c.leaveRoom(u)
		u.room = name
		c.presence.local.set(u.s.ID(), u.nick, name)
		u.s.Join(chatcore.RoomKey(name))
		// s.To excludes the sender: the others hear about the newcomer,
		// on every node.
		_ = u.s.To(chatcore.RoomKey(name)).Emit(chatcore.EventNotice, chatcore.Joined(name, u.nick))
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
	return chatcore.Reply{Room: name, Users: census.users(name), History: history, Version: version}
}

// message sends text to u's room on every node, sender included. It goes
// to the room's history in Redis first, so that someone joining at the
// same moment gets it in the history or as an event (or both: the page
// shows a message id once).
func (c *chat) message(u *user, text string) chatcore.Reply {
	if u.room == "" {
		return chatcore.Reply{Error: "join a room first"}
	}
	msg := chatcore.Message{
		ID:   c.nodeID + "-" + strconv.FormatUint(c.seq.Add(1), 10),
		Room: u.room, From: u.nick, Text: text, Time: chatcore.Now(),
	}
	ctx, cancel := opContext()
	defer cancel()
	if err := c.store.appendHistory(ctx, msg); err != nil {
		c.log.Warn("storing a message", "room", u.room, "err", err)
		return chatcore.Reply{Error: errUnavailable}
	}
	if err := c.io.To(chatcore.RoomKey(u.room)).Emit(chatcore.EventMessage, msg); err != nil {
		// Delivered on this node; not published to the others.
		c.log.Warn("broadcasting a message", "room", u.room, "err", err)
	}
	return chatcore.Reply{}
}

// typing relays a typing indicator to the rest of u's room, on every
// node. The event is volatile: a client that cannot take it at once
// misses it, which the page tolerates (it repeats it while typing).
func (c *chat) typing(u *user, typing bool) {
	if u.room != "" {
		_ = u.s.To(chatcore.RoomKey(u.room)).Volatile().Emit(chatcore.EventTyping, chatcore.Typing{Room: u.room, Nick: u.nick, Typing: typing})
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
	u.s.Leave(chatcore.RoomKey(room))
	_ = c.io.To(chatcore.RoomKey(room)).Emit(chatcore.EventNotice, chatcore.Left(room, u.nick))
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
