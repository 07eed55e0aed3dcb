package main

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/go-sio/sio/examples/internal/chatcore"
	"github.com/go-sio/sio/socketio"
)

// The protocol (events, payloads, validation, rate limits) is in
// examples/internal/chatcore, shared with examples/cluster: the page is
// the same. This file is what the server does with a valid request.

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
	nicks map[string]*user // by folded nickname (chatcore.NickKey)
	rooms map[string]*room // by name; the default room always exists
}

// user is one connected socket.
type user struct {
	s *socketio.Socket
	// token comes from the client's auth payload (chatcore.AuthToken). It
	// lets a page that reconnects reclaim its nickname from its own stale
	// connection, which the server may not have noticed is gone yet.
	token string

	// Guarded by chat.mu: another socket's handler changes them when it
	// reclaims the nickname (see setNick).
	nick string // "" until chosen
	room *room  // nil until the first join
}

type room struct {
	name    string
	members map[*user]struct{}
	history []chatcore.Message
}

// key is the name of the Socket.IO room behind a chat room.
func (r *room) key() string { return chatcore.RoomKey(r.name) }

func newChat(io *socketio.Server, log *slog.Logger) *chat {
	c := &chat{io: io, log: log, nicks: map[string]*user{}, rooms: map[string]*room{}}
	c.rooms[chatcore.DefaultRoom] = &room{name: chatcore.DefaultRoom, members: map[*user]struct{}{}}
	return c
}

// onConnection sets up a new socket: chatcore.Serve registers the chat's
// events on it and calls these handlers with the valid requests. Then the
// socket gets the room list.
func (c *chat) onConnection(s *socketio.Socket) {
	u := &user{s: s, token: chatcore.AuthToken(s)}
	chatcore.Serve(s, c.log, chatcore.Handlers{
		Nick:       func(nick string) chatcore.Reply { return c.setNick(u, nick) },
		Join:       func(room string, ack socketio.Ack) { c.join(u, room, ack) },
		Message:    func(text string) chatcore.Reply { return c.message(u, text) },
		Typing:     func(typing bool) { c.typing(u, typing) },
		Disconnect: func() { c.remove(u) },
	})

	c.mu.Lock()
	_ = s.Emit(chatcore.EventRooms, c.roomListLocked())
	c.mu.Unlock()
}

// setNick gives u a nickname. Nicknames are unique among the connected
// users, compared without regard to case.
func (c *chat) setNick(u *user, nick string) chatcore.Reply {
	c.mu.Lock()
	if u.nick != "" {
		c.mu.Unlock()
		if u.nick == nick {
			return chatcore.Reply{Nick: nick}
		}
		return chatcore.Reply{Error: "you already have a nickname"}
	}
	var stale *socketio.Socket
	if other := c.nicks[chatcore.NickKey(nick)]; other != nil {
		if u.token == "" || other.token != u.token {
			c.mu.Unlock()
			return chatcore.Reply{Error: "nickname " + nick + " is taken"}
		}
		// The same page reconnected before its old connection timed out:
		// the new connection takes over.
		c.removeLocked(other)
		stale = other.s
	}
	u.nick = nick
	c.nicks[chatcore.NickKey(nick)] = u
	c.mu.Unlock()

	if stale != nil {
		c.log.Info("nickname reclaimed", "nick", nick, "old", stale.ID(), "new", u.s.ID())
		stale.Disconnect(true)
	}
	c.log.Info("nickname set", "socket", u.s.ID(), "nick", nick)
	return chatcore.Reply{Nick: nick}
}

// join moves u to the room name (created if needed). The reply is sent
// with the lock held, so that the member list and history it carries are
// not overtaken by a later update.
func (c *chat) join(u *user, name string, ack socketio.Ack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.nick == "" {
		_ = ack(chatcore.Reply{Error: "choose a nickname first"})
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
		_ = u.s.To(r.key()).Emit(chatcore.EventNotice, chatcore.Joined(r.name, u.nick))
		_ = c.io.To(r.key()).Emit(chatcore.EventUsers, chatcore.RoomUsers{Room: r.name, Users: r.userList()})
		_ = c.io.Emit(chatcore.EventRooms, c.roomListLocked())
		c.log.Info("joined", "nick", u.nick, "room", r.name)
	}
	_ = ack(chatcore.Reply{Room: u.room.name, Users: u.room.userList(), History: u.room.history})
}

// message sends text to u's room, sender included: the page renders its
// own messages from the broadcast too, so every member sees one order.
func (c *chat) message(u *user, text string) chatcore.Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.room == nil {
		return chatcore.Reply{Error: "join a room first"}
	}
	r := u.room
	msg := chatcore.Message{Room: r.name, From: u.nick, Text: text, Time: chatcore.Now()}
	r.history = append(r.history, msg)
	if len(r.history) > chatcore.HistorySize {
		r.history = slices.Clone(r.history[len(r.history)-chatcore.HistorySize:])
	}
	_ = c.io.To(r.key()).Emit(chatcore.EventMessage, msg)
	return chatcore.Reply{}
}

// typing relays a typing indicator to the rest of u's room. The event is
// volatile: if a client cannot take it at once it is dropped, which is
// fine for something this ephemeral (the page refreshes it while the user
// types).
func (c *chat) typing(u *user, typing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.room != nil {
		_ = u.s.To(u.room.key()).Volatile().Emit(chatcore.EventTyping, chatcore.Typing{Room: u.room.name, Nick: u.nick, Typing: typing})
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
		_ = c.io.Emit(chatcore.EventRooms, c.roomListLocked())
	}
	if u.nick != "" && c.nicks[chatcore.NickKey(u.nick)] == u {
		delete(c.nicks, chatcore.NickKey(u.nick))
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
	_ = c.io.To(r.key()).Emit(chatcore.EventNotice, chatcore.Left(r.name, u.nick))
	_ = c.io.To(r.key()).Emit(chatcore.EventUsers, chatcore.RoomUsers{Room: r.name, Users: r.userList()})
	if len(r.members) == 0 && r.name != chatcore.DefaultRoom {
		delete(c.rooms, r.name)
	}
	c.log.Info("left", "nick", u.nick, "room", r.name)
}

// roomListLocked lists the rooms with their member counts.
func (c *chat) roomListLocked() []chatcore.RoomInfo {
	counts := make(map[string]int, len(c.rooms))
	for _, r := range c.rooms {
		counts[r.name] = len(r.members)
	}
	return chatcore.RoomList(counts)
}

// userList returns the nicknames of the room's members, sorted.
func (r *room) userList() []string {
	users := make([]string, 0, len(r.members))
	for u := range r.members {
		users = append(users, u.nick)
	}
	chatcore.SortNicks(users)
	return users
}
