package chatcore

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-sio/sio/socketio"
)

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

// NickKey folds a nickname for the uniqueness check: "Alice" and "alice"
// are the same user.
func NickKey(nick string) string { return strings.ToLower(nick) }

// SortNicks sorts nicknames without regard to case, the order of every
// member list.
func SortNicks(nicks []string) {
	slices.SortFunc(nicks, func(a, b string) int { return cmp.Compare(NickKey(a), NickKey(b)) })
}

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

// RoomKey is the name of the Socket.IO room behind a chat room. The
// prefix keeps user-chosen names apart from the rooms Socket.IO creates
// for each socket id: without it, a room named after someone's socket id
// would receive that socket's private events.
func RoomKey(name string) string { return "room:" + name }

// RoomList is the room list for these member counts (room name -> number
// of members): the default room first, listed even when empty, then the
// other rooms that have members, by name.
func RoomList(counts map[string]int) []RoomInfo {
	list := []RoomInfo{{Name: DefaultRoom, Users: counts[DefaultRoom]}}
	for name, n := range counts {
		if name != DefaultRoom && n > 0 {
			list = append(list, RoomInfo{Name: name, Users: n})
		}
	}
	slices.SortFunc(list[1:], func(a, b RoomInfo) int { return cmp.Compare(a.Name, b.Name) })
	return list
}

// AuthToken reads the token of the client's auth payload
// (io({auth: {token}}) in the page), "" if there is none or it is not a
// plausible one (over 64 bytes, or with white space). The page sends a
// random token that identifies the tab across reconnections: it lets a
// page that reconnects reclaim its nickname from its own stale
// connection, which the server may not have noticed is gone yet.
func AuthToken(s *socketio.Socket) string {
	var auth struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(s.Handshake().Auth, &auth); err != nil || len(auth.Token) > 64 || strings.ContainsAny(auth.Token, " \t\r\n") {
		return ""
	}
	return auth.Token
}
