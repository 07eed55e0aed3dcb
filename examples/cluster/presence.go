package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/examples/internal/chatcore"
	"github.com/go-sio/sio/socketio"
)

// Presence: who is in which room, across the cluster.
//
// Nothing about it is stored. Each node knows the rooms of its own
// sockets (local); a census asks the other nodes for theirs with a
// server-side event and its acknowledgements (one per node) and merges
// the answers. A node that stops, or crashes, takes its users with it:
// the next census no longer hears from it, and there is nothing to clean
// up.
//
// The lists the pages show are snapshots. After a change, the node where
// it happened takes a census and broadcasts the room list and the member
// lists of the rooms that changed. Snapshots taken on different nodes at
// about the same time can reach a page in either order, so each carries a
// version from a Redis counter, taken before its census: a snapshot with
// a higher version saw every change whose snapshot had a lower one (that
// change was applied before its node took its version, which was before
// this version, which was before this census). The page keeps the
// highest version it has seen.

// censusEvent is the server-side event of a census.
const censusEvent = "chat:census"

// census is who is in which room: room name -> nicknames.
type census map[string][]string

// local is the presence of this node's sockets. The handlers of a socket
// update it; the census handler reads it.
type local struct {
	mu      sync.Mutex
	members map[string]member // by socket id
}

type member struct{ nick, room string }

func (l *local) set(sid, nick, room string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room == "" {
		delete(l.members, sid)
		return
	}
	l.members[sid] = member{nick, room}
}

func (l *local) census() census {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := census{}
	for _, m := range l.members {
		c[m.room] = append(c[m.room], m.nick)
	}
	return c
}

// merge adds the members of other to c.
func (c census) merge(other census) {
	for room, nicks := range other {
		c[room] = append(c[room], nicks...)
	}
}

// users is the sorted member list of room.
func (c census) users(room string) []string {
	users := slices.Clone(c[room])
	chatcore.SortNicks(users)
	return users
}

// roomList lists the rooms with members, and the default room always.
func (c census) roomList() []chatcore.RoomInfo {
	counts := make(map[string]int, len(c))
	for name, nicks := range c {
		counts[name] = len(nicks)
	}
	return chatcore.RoomList(counts)
}

// presence takes censuses and publishes the snapshots.
type presence struct {
	io    *socketio.Server
	sse   redis.ServerSideEmitter
	store *store
	local *local
	log   *slog.Logger

	mu    sync.Mutex
	dirty map[string]bool // rooms whose member list changed; "" means every room
	wake  chan struct{}   // capacity 1: a refresh is due
}

func newPresence(io *socketio.Server, st *store, log *slog.Logger) *presence {
	p := &presence{
		io:    io,
		sse:   io.Of("/").Adapter().(redis.ServerSideEmitter),
		store: st,
		local: &local{members: map[string]member{}},
		log:   log,
		dirty: map[string]bool{},
		wake:  make(chan struct{}, 1),
	}
	// The other nodes' censuses.
	p.sse.OnServerSideEmit(func(e *redis.ServerSideEvent) {
		if e.Event == censusEvent && e.WantsAck() {
			_ = e.Ack(p.local.census())
		}
	})
	return p
}

// take returns the census of the cluster: this node's sockets and every
// other node's answer. On error (a node did not answer in time, Redis is
// away) it returns what it has with the error.
func (p *presence) take(ctx context.Context) (census, error) {
	c := p.local.census()
	replies, err := p.sse.ServerSideEmitWithAck(ctx, censusEvent)
	for _, raw := range replies {
		var other census
		if err := json.Unmarshal(raw, &other); err != nil {
			p.log.Warn("unexpected census reply", "reply", string(raw), "err", err)
			continue
		}
		c.merge(other)
	}
	return c, err
}

// snapshot takes a version, then a census.
func (p *presence) snapshot(ctx context.Context) (int64, census, error) {
	v, err := p.store.nextVersion(ctx)
	if err != nil {
		return 0, p.local.census(), err
	}
	c, err := p.take(ctx)
	return v, c, err
}

// changed schedules a refresh of the member lists of rooms ("" is no
// room and is ignored) and of the room list.
func (p *presence) changed(rooms ...string) {
	p.mu.Lock()
	for _, r := range rooms {
		if r != "" {
			p.dirty[r] = true
		}
	}
	p.mu.Unlock()
	p.signal()
}

// changedAll schedules a refresh of every member list.
func (p *presence) changedAll() {
	p.mu.Lock()
	p.dirty[""] = true
	p.mu.Unlock()
	p.signal()
}

func (p *presence) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run publishes snapshots until ctx ends: one after each burst of
// changes (changes made while a refresh is under way wait for the next
// one), retried after a second when it fails.
func (p *presence) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		dirty := p.dirty
		p.dirty = map[string]bool{}
		p.mu.Unlock()
		if err := p.refresh(ctx, dirty); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("refreshing the room lists (will retry)", "err", err)
			p.mu.Lock()
			maps.Copy(p.dirty, dirty)
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			p.signal()
		}
	}
}

// refresh takes a snapshot and broadcasts the room list to everyone and
// the member list of each dirty room to its members.
func (p *presence) refresh(ctx context.Context, dirty map[string]bool) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	v, c, err := p.snapshot(ctx)
	if err != nil {
		return err
	}
	if dirty[""] {
		delete(dirty, "")
		for room := range c {
			dirty[room] = true
		}
	}
	rooms := c.roomList()
	if err := p.store.saveRooms(ctx, v, rooms); err != nil {
		return err
	}
	if err := p.io.Emit(chatcore.EventRooms, rooms, v); err != nil {
		return err
	}
	for room := range dirty {
		users := chatcore.RoomUsers{Room: room, Users: c.users(room), Version: v}
		if err := p.io.To(chatcore.RoomKey(room)).Emit(chatcore.EventUsers, users); err != nil {
			return err
		}
	}
	return nil
}

// watchServers refreshes every list when the number of nodes changes:
// when one stops or crashes, its users are gone from the next census, and
// nobody else would tell the pages.
func (p *presence) watchServers(ctx context.Context, every time.Duration) {
	a := p.io.Of("/").Adapter()
	last := 0
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, requestTimeout)
		n, err := a.ServerCount(qctx)
		cancel()
		if err != nil {
			continue
		}
		if last != 0 && n != last {
			p.log.Info("number of nodes changed", "from", last, "to", n)
			p.changedAll()
		}
		last = n
	}
}
