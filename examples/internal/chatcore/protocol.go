// Package chatcore is the chat protocol that examples/chat and
// examples/cluster share, so that one page (examples/chat/static) talks
// to either: the events and their payloads, the limits on what clients
// send, and Serve, which wires a socket's events to the server's
// handlers once a request is valid.
//
// What a server does with a valid request is each example's own, because
// that is where they differ: examples/chat keeps the nicknames, the rooms'
// members and their history in memory under one lock; examples/cluster
// claims nicknames and keeps history in Redis, and learns who is where
// from a census of the nodes.
package chatcore

import "time"

// Limits applied to what clients send.
const (
	maxNickLen    = 32  // characters
	maxRoomLen    = 32  // characters
	maxMessageLen = 500 // characters

	// HistorySize is the number of messages kept per room, sent to
	// whoever joins it.
	HistorySize = 50
	// DefaultRoom always exists; the page joins it first.
	DefaultRoom = "lobby"
)

// Events the server sends, with their argument.
const (
	EventRooms   = "rooms"   // []RoomInfo; from a cluster, the list's version follows
	EventUsers   = "users"   // RoomUsers, to the members of the room
	EventMessage = "message" // Message, to the members of the room
	EventNotice  = "notice"  // Notice, to the members of the room
	EventTyping  = "typing"  // Typing, to the other members of the room
)

// The payloads. Clients send NickRequest ("nick"), JoinRequest ("join")
// and MessageRequest ("message") with an acknowledgement callback, which
// gets a Reply, and "typing" with a bare boolean.
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
		// Version of Users, from a cluster (see examples/cluster); the
		// page ignores a member list older than the one it shows.
		Version int64 `json:"version,omitempty"`
	}

	// Message is a chat message. Time is in Unix milliseconds, the unit
	// of JavaScript's Date. A cluster sets ID, unique in the cluster: a
	// page that gets a message both in a room's history and as an event
	// shows it once.
	Message struct {
		ID   string `json:"id,omitempty"`
		Room string `json:"room"`
		From string `json:"from"`
		Text string `json:"text"`
		Time int64  `json:"time"`
	}
	// Notice tells a room that someone joined or left.
	Notice struct {
		Room string `json:"room"`
		Nick string `json:"nick"`
		Kind string `json:"kind"` // "join" or "leave"
		Time int64  `json:"time"`
	}
	// Typing says that Nick started or stopped typing in Room.
	Typing struct {
		Room   string `json:"room"`
		Nick   string `json:"nick"`
		Typing bool   `json:"typing"`
	}
	// RoomUsers is the member list of a room. A cluster sets Version, as
	// in Reply.
	RoomUsers struct {
		Room    string   `json:"room"`
		Users   []string `json:"users"`
		Version int64    `json:"version,omitempty"`
	}
	// RoomInfo is one entry of the room list.
	RoomInfo struct {
		Name  string `json:"name"`
		Users int    `json:"users"`
	}
)

// Joined is the notice that nick joined room.
func Joined(room, nick string) Notice {
	return Notice{Room: room, Nick: nick, Kind: "join", Time: Now()}
}

// Left is the notice that nick left room.
func Left(room, nick string) Notice {
	return Notice{Room: room, Nick: nick, Kind: "leave", Time: Now()}
}

// Now is the current time in Unix milliseconds, the unit of the
// payloads' Time.
func Now() int64 { return time.Now().UnixMilli() }
