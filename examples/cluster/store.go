package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/examples/internal/chatcore"
)

// store is the part of the chat's state that lives in Redis, shared by
// every node: who holds which nickname, the recent messages of each room,
// the counter that numbers the room and member lists, and the latest room
// list. Every key starts with the cluster's prefix:
//
//	<prefix>:nick:<folded nickname>  string "<socket id> <token>"
//	<prefix>:history:<room>          list of chatcore.Message JSON, the last 50
//	<prefix>:version                 counter (INCR)
//	<prefix>:rooms                   hash {version, rooms (JSON)}
//
// Who is in which room is not stored: each node knows its own sockets,
// and the others ask it (see presence.go).
type store struct {
	rdb    goredis.UniversalClient
	prefix string
}

// historyTTL is how long a room's messages are kept after the last one.
const historyTTL = 24 * time.Hour

func (st *store) key(kind, name string) string { return st.prefix + ":" + kind + ":" + name }

// holder identifies the socket that holds a nickname, and the page it
// belongs to (the token of its auth payload, possibly empty; it has no
// white space, see chatcore.AuthToken).
type holder struct{ sid, token string }

func (h holder) String() string { return h.sid + " " + h.token }

func parseHolder(s string) holder {
	sid, token, _ := strings.Cut(s, " ")
	return holder{sid, token}
}

var (
	// swapScript sets KEYS[1] to ARGV[2] if it still holds ARGV[1].
	swapScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`)
	// releaseScript deletes KEYS[1] if it still holds ARGV[1].
	releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	// saveRoomsScript stores the room list ARGV[2] of version ARGV[1]
	// unless the hash KEYS[1] already holds a newer one.
	saveRoomsScript = goredis.NewScript(`
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'rooms', ARGV[2])
  return 1
end
return 0`)
)

// errBusy: a nickname changed hands several times during one claim.
var errBusy = errors.New("nickname claim contended")

// claimNick gives nick to h if nobody holds it. Otherwise it returns the
// current holder and false.
func (st *store) claimNick(ctx context.Context, nick string, h holder) (cur holder, ok bool, err error) {
	k := st.key("nick", chatcore.NickKey(nick))
	for range 3 {
		ok, err := st.rdb.SetNX(ctx, k, h.String(), 0).Result()
		if err != nil || ok {
			return holder{}, ok, err
		}
		v, err := st.rdb.Get(ctx, k).Result()
		if errors.Is(err, goredis.Nil) {
			continue // released in between: try again
		}
		if err != nil {
			return holder{}, false, err
		}
		return parseHolder(v), false, nil
	}
	return holder{}, false, errBusy
}

// takeNick gives nick to h if prev still holds it, and reports whether
// it did.
func (st *store) takeNick(ctx context.Context, nick string, prev, h holder) (bool, error) {
	n, err := swapScript.Run(ctx, st.rdb, []string{st.key("nick", chatcore.NickKey(nick))}, prev.String(), h.String()).Int()
	return n == 1, err
}

// releaseNick frees nick if h still holds it.
func (st *store) releaseNick(ctx context.Context, nick string, h holder) error {
	return releaseScript.Run(ctx, st.rdb, []string{st.key("nick", chatcore.NickKey(nick))}, h.String()).Err()
}

// appendHistory adds m to the history of its room, keeping the last
// chatcore.HistorySize messages.
func (st *store) appendHistory(ctx context.Context, m chatcore.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	k := st.key("history", m.Room)
	_, err = st.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.RPush(ctx, k, data)
		p.LTrim(ctx, k, -chatcore.HistorySize, -1)
		p.Expire(ctx, k, historyTTL)
		return nil
	})
	return err
}

// history returns the recent messages of room, oldest first.
func (st *store) history(ctx context.Context, room string) ([]chatcore.Message, error) {
	items, err := st.rdb.LRange(ctx, st.key("history", room), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	msgs := make([]chatcore.Message, 0, len(items))
	for _, it := range items {
		var m chatcore.Message
		if json.Unmarshal([]byte(it), &m) == nil {
			msgs = append(msgs, m)
		}
	}
	return msgs, nil
}

// nextVersion returns a new version number for a room or member list,
// higher than every one returned before, on any node.
func (st *store) nextVersion(ctx context.Context) (int64, error) {
	return st.rdb.Incr(ctx, st.prefix+":version").Result()
}

// saveRooms stores rooms as the latest room list unless a newer one is
// there already.
func (st *store) saveRooms(ctx context.Context, version int64, rooms []chatcore.RoomInfo) error {
	data, err := json.Marshal(rooms)
	if err != nil {
		return err
	}
	return saveRoomsScript.Run(ctx, st.rdb, []string{st.prefix + ":rooms"}, version, data).Err()
}

// rooms returns the latest room list and its version; before the first
// one, the default room alone and version 0.
func (st *store) rooms(ctx context.Context) ([]chatcore.RoomInfo, int64, error) {
	vals, err := st.rdb.HMGet(ctx, st.prefix+":rooms", "version", "rooms").Result()
	if err != nil {
		return nil, 0, err
	}
	version, _ := vals[0].(string)
	data, _ := vals[1].(string)
	var rooms []chatcore.RoomInfo
	if data == "" || json.Unmarshal([]byte(data), &rooms) != nil {
		return chatcore.RoomList(nil), 0, nil
	}
	v, _ := strconv.ParseInt(version, 10, 64)
	return rooms, v, nil
}
