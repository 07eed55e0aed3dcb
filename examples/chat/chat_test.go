package main

import (
	"strings"
	"testing"
	"time"
)

func TestValidNick(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  Bob Smith ", "Bob Smith", true},
		{"élodie", "élodie", true},
		{strings.Repeat("é", 32), strings.Repeat("é", 32), true},
		{strings.Repeat("x", 33), "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
	} {
		got, err := validNick(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("validNick(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidRoom(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"lobby", "lobby", true},
		{" Dev-Team_2 ", "dev-team_2", true},
		{"café", "café", true},
		{"two words", "", false},
		{"room:x", "", false},
		{"", "", false},
		{strings.Repeat("r", 33), "", false},
	} {
		got, err := validRoom(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("validRoom(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(5, 5)
	for i := range 5 {
		if !l.allow() {
			t.Fatalf("event %d refused within the burst", i)
		}
	}
	if l.allow() {
		t.Fatal("sixth event allowed at once")
	}
	l.last = l.last.Add(-time.Second) // a second later the bucket is full again
	for i := range 5 {
		if !l.allow() {
			t.Fatalf("event %d refused after a second", i)
		}
	}
}

func TestRoomList(t *testing.T) {
	c := newChat(nil, nil)
	for _, name := range []string{"zoo", "abc"} {
		c.rooms[name] = &room{name: name, members: map[*user]struct{}{{}: {}}}
	}
	got := c.roomListLocked()
	want := []RoomInfo{{"lobby", 0}, {"abc", 1}, {"zoo", 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
