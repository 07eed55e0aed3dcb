package redisstreams

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/redis/wire"
)

// restoreBatch and restoreCalls bound the reading of missed packets:
// at most restoreCalls XRANGE calls of restoreBatch entries.
const (
	restoreBatch = 1000
	restoreCalls = 100
)

var offsetForm = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// PersistSession stores s under SessionKeyPrefix+s.PID for the server's
// MaxDisconnectionDuration, in the format of Node's adapter: Go and Node
// servers restore each other's sessions.
func (a *Adapter) PersistSession(ctx context.Context, s adapter.Session) error {
	cfg, ok := adapter.Recovery(a.ns)
	if !ok {
		return fmt.Errorf("adapter/redisstreams: %w", adapter.ErrRecoveryDisabled)
	}
	value, err := wire.EncodeSession(s)
	if err != nil {
		return fmt.Errorf("adapter/redisstreams: encoding session: %w", err)
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	ms := max(cfg.MaxDisconnectionDuration.Milliseconds(), 1)
	if err := a.node.client.Do(ctx, "set", a.node.opts.SessionKeyPrefix+s.PID, value, "px", ms).Err(); err != nil {
		return fmt.Errorf("adapter/redisstreams: persisting session: %w", err)
	}
	return nil
}

// RestoreSession takes the session of pid (it is deleted: a session is
// restored once) and reads the stream after offset for the broadcasts its
// rooms select. Broadcasts with acknowledgements and volatile ones are not
// replayed. ok is false when the offset is malformed, the session is
// unknown or expired, or the offset is no longer in the stream.
func (a *Adapter) RestoreSession(ctx context.Context, pid, offset string) (adapter.Session, []adapter.StoredPacket, bool, error) {
	if !offsetForm.MatchString(offset) {
		return adapter.Session{}, nil, false, nil
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	client := a.node.client
	key := a.node.opts.SessionKeyPrefix + pid

	// MULTI GET DEL EXEC: GETDEL before Redis 6.2.
	var get *goredis.StringCmd
	_, err := client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, key)
		p.Del(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return adapter.Session{}, nil, false, fmt.Errorf("adapter/redisstreams: reading session: %w", err)
	}
	at, err := client.XRange(ctx, a.stream, offset, offset).Result()
	if err != nil {
		return adapter.Session{}, nil, false, fmt.Errorf("adapter/redisstreams: reading stream: %w", err)
	}
	raw, err := get.Result()
	if errors.Is(err, goredis.Nil) || len(at) == 0 {
		return adapter.Session{}, nil, false, nil
	}
	if err != nil {
		return adapter.Session{}, nil, false, fmt.Errorf("adapter/redisstreams: reading session: %w", err)
	}
	s, err := wire.DecodeSession(raw)
	if err != nil {
		a.node.faults.Warn(a.log, "adapter/redisstreams: dropping malformed session", "pid", pid, "err", err)
		return adapter.Session{}, nil, false, nil
	}

	missed, err := a.readAfter(ctx, s.Rooms, offset)
	if err != nil {
		return adapter.Session{}, nil, false, err
	}
	return s, missed, true, nil
}

// StoredAfter returns the broadcasts stored after offset that rooms
// select, oldest first, with the rules of RestoreSession; ok is false when
// offset is malformed or no longer in the stream.
func (a *Adapter) StoredAfter(ctx context.Context, rooms []string, offset string) ([]adapter.StoredPacket, bool, error) {
	if !offsetForm.MatchString(offset) {
		return nil, false, nil
	}
	ctx, cancel := a.core.OpContext(ctx, 0)
	defer cancel()
	at, err := a.node.client.XRange(ctx, a.stream, offset, offset).Result()
	if err != nil {
		return nil, false, fmt.Errorf("adapter/redisstreams: reading stream: %w", err)
	}
	if len(at) == 0 {
		return nil, false, nil
	}
	missed, err := a.readAfter(ctx, rooms, offset)
	if err != nil {
		return nil, false, err
	}
	return missed, true, nil
}

// readAfter reads the stream after offset (exclusive) for the storable
// broadcasts of the namespace that rooms select.
func (a *Adapter) readAfter(ctx context.Context, rooms []string, offset string) ([]adapter.StoredPacket, error) {
	var missed []adapter.StoredPacket
	for calls := 0; ; calls++ {
		if calls == restoreCalls {
			a.node.faults.Warn(a.log, "adapter/redisstreams: too many entries after the offset; the recovered socket may miss some", "offset", offset)
			break
		}
		entries, err := a.node.client.XRangeN(ctx, a.stream, nextOffset(offset), "+", restoreBatch).Result()
		if err != nil {
			return nil, fmt.Errorf("adapter/redisstreams: reading stream: %w", err)
		}
		for _, e := range entries {
			offset = e.ID
			if p, ok := a.missed(e, rooms); ok {
				missed = append(missed, p)
			}
		}
		if len(entries) < restoreBatch {
			break
		}
	}
	return missed, nil
}

// missed returns the packet of entry e when it is a storable broadcast of
// this namespace that rooms select.
func (a *Adapter) missed(e goredis.XMessage, rooms []string) (adapter.StoredPacket, bool) {
	if nsp, _ := e.Values["nsp"].(string); nsp != a.name {
		return adapter.StoredPacket{}, false
	}
	if t, _ := e.Values["type"].(string); t != strconv.Itoa(int(wire.ClusterBroadcast)) {
		return adapter.StoredPacket{}, false
	}
	m, err := wire.DecodeStreamEntry(e.Values)
	if err != nil {
		a.log.Debug("adapter/redisstreams: skipping malformed stream entry", "id", e.ID, "err", err)
		return adapter.StoredPacket{}, false
	}
	opts := m.Opts.Adapter()
	if m.RequestID != "" || !adapter.Storable(m.Packet, opts) || !adapter.ShouldInclude(rooms, opts) {
		return adapter.StoredPacket{}, false
	}
	p := adapter.WithOffset(m.Packet, e.ID)
	p.Namespace = a.name
	return adapter.StoredPacket{Offset: e.ID, Packet: p}, true
}

// nextOffset is the smallest entry id after id ("ms-seq"): an exclusive
// range start that works before Redis 6.2.
func nextOffset(id string) string {
	ms, seq, ok := adapter.ParseOffset(id)
	if !ok {
		return id
	}
	if seq == math.MaxUint64 {
		return strconv.FormatUint(ms+1, 10) + "-0"
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10)
}
