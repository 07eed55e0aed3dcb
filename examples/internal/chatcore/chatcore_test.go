package chatcore

import (
	"slices"
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

func TestSortNicks(t *testing.T) {
	nicks := []string{"bob", "Carol", "alice", "Dave"}
	SortNicks(nicks)
	if want := []string{"alice", "bob", "Carol", "Dave"}; !slices.Equal(nicks, want) {
		t.Errorf("SortNicks = %v, want %v (without regard to case)", nicks, want)
	}
}

func TestRoomList(t *testing.T) {
	got := RoomList(map[string]int{"zoo": 1, "abc": 2, "empty": 0, "lobby": 3})
	want := []RoomInfo{{"lobby", 3}, {"abc", 2}, {"zoo", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("RoomList = %v, want %v", got, want)
	}
	// The default room is listed even when nobody is there.
	if got, want := RoomList(nil), []RoomInfo{{"lobby", 0}}; !slices.Equal(got, want) {
		t.Errorf("RoomList(nil) = %v, want %v", got, want)
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
