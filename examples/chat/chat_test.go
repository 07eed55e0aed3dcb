package main

import (
	"slices"
	"testing"

	"github.com/go-sio/sio/examples/internal/chatcore"
)

func TestRoomList(t *testing.T) {
	c := newChat(nil, nil)
	for _, name := range []string{"zoo", "abc"} {
		c.rooms[name] = &room{name: name, members: map[*user]struct{}{{}: {}}}
	}
	got := c.roomListLocked()
	want := []chatcore.RoomInfo{{Name: "lobby", Users: 0}, {Name: "abc", Users: 1}, {Name: "zoo", Users: 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
