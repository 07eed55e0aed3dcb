package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// Delivery checks of the soak: each client follows the numbered streams
// of the soak server (see soak_server.go) and records every departure
// from "each event it should receive arrives once, in order".

// soakCounters are the soak's totals, shared by every client.
type soakCounters struct {
	wsConnects, pollConnects atomic.Int64
	upConnects, upgrades     atomic.Int64
	upgradeErrors            atomic.Int64
	graceful, cuts           atomic.Int64
	ghosts, ghostsReaped     atomic.Int64
	global, room, direct     atomic.Int64 // deliveries checked
	acks                     atomic.Int64
	joins, leaves, shouts    atomic.Int64
	dialErrors, drops        atomic.Int64
	ackTimeouts              atomic.Int64
	ghostsNotReaped          atomic.Int64
	violations               atomic.Int64

	mu    sync.Mutex
	notes []string // the first problems, for the report
}

const maxNotes = 12

// note keeps a problem's description for the report.
func (k *soakCounters) note(format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.notes) < maxNotes {
		k.notes = append(k.notes, fmt.Sprintf(format, args...))
	}
}

func (k *soakCounters) violation(who, format string, args ...any) {
	k.violations.Add(1)
	k.note("%s: %s", who, fmt.Sprintf(format, args...))
}

func (k *soakCounters) firstNotes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.notes...)
}

// soakTracker follows the streams of one client connection. Its event
// and acknowledgement callbacks run on the client's reader goroutine, in
// the order the server sent the packets; the client's own goroutine only
// arms the direct stream before asking for a burst.
type soakTracker struct {
	k   *soakCounters
	who string

	mu    sync.Mutex
	hello bool            // the hello event arrived
	gLast int64           // last global number seen; -1: none yet
	rooms map[int64]int64 // joined room -> last number seen
	dNext int64           // next direct index; -1: no burst asked
}

func newSoakTracker(k *soakCounters, who string) *soakTracker {
	return &soakTracker{k: k, who: who, gLast: -1, rooms: map[int64]int64{}, dNext: -1}
}

func (t *soakTracker) violation(format string, args ...any) {
	t.k.violation(t.who, format, args...)
}

// onEvent is the client's event handler.
func (t *soakTracker) onEvent(_ *Client, name string, args []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch name {
	case "hello":
		g, ok := jsonInt(args, "g")
		switch {
		case !ok:
			t.violation("hello without a number: %q", args)
		case t.hello:
			t.violation("second hello")
		case t.gLast >= 0 && t.gLast != g:
			// Global events may arrive before the hello (the socket is
			// in the namespace before its connection handler runs), but
			// then they must run up to the hello's number.
			t.violation("global events before the hello end at %d, the hello says %d", t.gLast, g)
		default:
			t.gLast = g
		}
		t.hello = true
	case "g":
		n, ok := jsonInt(args, "g")
		switch {
		case !ok:
			t.violation("global event without a number: %q", args)
		case t.gLast >= 0 && n != t.gLast+1:
			t.violation("global event %d after %d", n, t.gLast)
		}
		if ok {
			t.gLast = n
		}
		t.k.global.Add(1)
	case "r":
		r, ok1 := jsonInt(args, "r")
		n, ok2 := jsonInt(args, "n")
		last, member := t.rooms[r]
		switch {
		case !ok1 || !ok2:
			t.violation("room event without numbers: %q", args)
		case !member:
			t.violation("event %d of room %d, which the client is not in", n, r)
		case n != last+1:
			t.violation("room %d: event %d after %d", r, n, last)
		}
		if ok1 && ok2 && member {
			t.rooms[r] = n
		}
		t.k.room.Add(1)
	case "d":
		i, ok := jsonInt(args, "i")
		switch {
		case !ok:
			t.violation("direct event without an index: %q", args)
		case t.dNext < 0:
			t.violation("direct event %d with no burst asked", i)
		case i != t.dNext:
			t.violation("direct event %d, expected %d", i, t.dNext)
		}
		if ok && t.dNext >= 0 {
			t.dNext = i + 1
		}
		t.k.direct.Add(1)
	default:
		t.violation("unexpected event %q", name)
	}
}

// armBurst is called before a burst is asked for.
func (t *soakTracker) armBurst() {
	t.mu.Lock()
	t.dNext = 0
	t.mu.Unlock()
}

// burstDone checks the burst's acknowledgement: every index before it.
func (t *soakTracker) burstDone(ack []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := jsonInt(ack, "n")
	switch {
	case !ok:
		t.violation("burst ack %q", ack)
	case t.dNext != n:
		t.violation("burst of %d: %d direct events before its ack", n, max(t.dNext, 0))
	}
	t.dNext = -1
}

// joined records a join's acknowledgement: the room's events after its
// number are the client's.
func (t *soakTracker) joined(room int64, ack []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := jsonInt(ack, "n")
	if !ok {
		t.violation("join ack %q", ack)
		return
	}
	if _, dup := t.rooms[room]; dup {
		t.violation("joined room %d twice", room)
	}
	t.rooms[room] = n
}

// left checks a leave's acknowledgement: every event of the room up to
// its number arrived.
func (t *soakTracker) left(room int64, ack []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := jsonInt(ack, "n")
	last, member := t.rooms[room]
	switch {
	case !ok:
		t.violation("leave ack %q", ack)
	case !member:
		t.violation("left room %d, which it was not in", room)
	case last != n:
		t.violation("room %d: left at %d, last event seen %d", room, n, last)
	}
	delete(t.rooms, room)
}

// bye checks the final acknowledgement: every stream the client follows
// is complete up to the numbers it carries.
func (t *soakTracker) bye(ack []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := jsonInt(ack, "g")
	switch {
	case !ok:
		t.violation("bye ack %q", ack)
		return
	case !t.hello:
		t.violation("no hello before the bye")
	case t.gLast != g:
		t.violation("global stream at %d, last event seen %d", g, t.gLast)
	}
	for _, r := range t.memberOf() {
		n, ok := jsonInt(ack, "r"+strconv.FormatInt(r, 10))
		if !ok {
			t.violation("bye ack without room %d: %q", r, ack)
		} else if t.rooms[r] != n {
			t.violation("room %d at %d, last event seen %d", r, n, t.rooms[r])
		}
	}
}

// memberOf returns the joined rooms in order. Called with mu held.
func (t *soakTracker) memberOf() []int64 {
	rooms := make([]int64, 0, len(t.rooms))
	for r := range t.rooms {
		rooms = append(rooms, r)
	}
	sort.Slice(rooms, func(i, j int) bool { return rooms[i] < rooms[j] })
	return rooms
}

// rooms returns the joined rooms.
func (t *soakTracker) joinedRooms() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.memberOf()
}

// echoed checks an echo's acknowledgement.
func (t *soakTracker) echoed(sent string, ack []byte) {
	if want := "[" + sent + "]"; !bytes.Equal(ack, []byte(want)) {
		t.violation("echo of %s acknowledged with %q", sent, ack)
	}
}
