package redisstreams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/internal/warn"
)

// Options configure the adapter. The zero value gives the defaults of the
// Node adapter; Go and Node servers of one cluster must agree on
// StreamName, StreamCount, ChannelPrefix and SessionKeyPrefix.
type Options struct {
	// StreamName is the stream, or the prefix of the streams when
	// StreamCount > 1. Default "socket.io".
	StreamName string
	// StreamCount spreads the namespaces over that many streams (by a
	// hash of the namespace name, as Node does). Default 1.
	StreamCount int
	// ChannelPrefix is the prefix of the pub/sub channels. Default
	// "socket.io".
	ChannelPrefix string
	// MaxLen caps the stream length (XADD MAXLEN ~). It bounds how long a
	// disconnected client can be away and still get the packets it
	// missed. Default 10000.
	MaxLen int64
	// ReadCount is the number of entries fetched by one XREAD. Default
	// 100.
	ReadCount int64
	// BlockTime is how long one XREAD waits for new entries. Default 5 s.
	BlockTime time.Duration
	// SessionKeyPrefix prefixes the keys of the stored sessions. Default
	// "sio:session:".
	SessionKeyPrefix string
	// RequestTimeout bounds the requests to other servers (FetchSockets,
	// ServerSideEmitWithAck) when the operation sets no timeout, and the
	// Redis commands of an operation. Default 5 s.
	RequestTimeout time.Duration
	// ServerID identifies this server to the others. It must be unique in
	// the cluster and must not contain '#'. Default: 16 random hex digits,
	// one per NewAdapter call.
	ServerID string
	// Logger receives the adapter's logs. Default slog.Default(). A Redis
	// outage is logged at Warn level once, when the first operation
	// fails, and its end at Info level; the failures in between at Debug
	// level. (go-redis logs its reconnection attempts through its own
	// logger: see goredis.SetLogger.)
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.StreamCount <= 0 {
		o.StreamCount = 1
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.BlockTime <= 0 {
		o.BlockTime = 5 * time.Second
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// NewAdapter returns the adapter Factory of a server (socketio.Config's
// Adapter): one adapter per namespace, all sharing one subscription
// connection and one reading connection per stream. client writes and
// queries; it is not closed by the adapters.
//
// It panics when opts.ServerID contains '#'.
func NewAdapter(client goredis.UniversalClient, opts Options) adapter.Factory {
	if client == nil {
		panic("adapter/redisstreams: nil Redis client")
	}
	opts.setDefaults()
	if opts.ServerID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.ServerID = hex.EncodeToString(b[:])
	} else if strings.Contains(opts.ServerID, "#") || opts.ServerID == wire.EmitterUID {
		panic(fmt.Sprintf("adapter/redisstreams: invalid ServerID %q", opts.ServerID))
	}
	n := &node{
		client:   client,
		opts:     opts,
		uid:      opts.ServerID,
		log:      opts.Logger.With("adapter", "redisstreams", "server", opts.ServerID),
		adapters: map[string]*Adapter{},
		channels: map[string]*Adapter{},
		waiters:  map[string]chan struct{}{},
	}
	return func(ns adapter.Namespace) adapter.Adapter { return n.newAdapter(ns) }
}

// StreamName returns the stream of namespace nsp: the stream name itself
// when count is 1, otherwise name-i with i = hashCode(nsp) % count, where
// hashCode is Java's String.hashCode over UTF-16 units. As in Node, i
// can be negative ("socket.io--3").
func StreamName(name string, count int, nsp string) string {
	if count <= 1 {
		return name
	}
	return name + "-" + strconv.Itoa(int(hashCode(nsp)%int32(count)))
}

func hashCode(s string) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = h*31 + int32(c)
	}
	return h
}

// streamNames are the streams a node reads: every name StreamName can
// give, negative indices included (Node writes to those, though its own
// readers only read 0 to count-1).
func streamNames(name string, count int) []string {
	if count <= 1 {
		return []string{name}
	}
	out := make([]string, 0, 2*count-1)
	for i := -(count - 1); i < count; i++ {
		out = append(out, name+"-"+strconv.Itoa(i))
	}
	return out
}

// node is what the adapters of one Factory share: the server id, the
// subscription connection and the stream readers, all running while at
// least one adapter is open.
type node struct {
	client goredis.UniversalClient
	opts   Options
	uid    string
	log    *slog.Logger

	mu       sync.Mutex
	count    int                 // adapters open
	adapters map[string]*Adapter // namespace -> adapter
	channels map[string]*Adapter // public and private channels -> adapter
	waiters  map[string]chan struct{}
	ps       *goredis.PubSub
	run      *running // nil when stopped

	outage warn.Outage // Redis failures: one warning per outage
	faults warn.Every  // undecodable messages, responses that cannot be encoded: one warning a minute
}

// running holds the goroutines and connections of a started node.
type running struct {
	cancel  context.CancelFunc
	clients []goredis.UniversalClient // reading connections owned by the node
	wg      sync.WaitGroup
	ready   []chan struct{}    // closed when a reader knows where to start
	readers map[string]*reader // by stream
}

// readerOf returns the reader of stream, nil when the node is stopped.
func (n *node) readerOf(stream string) *reader {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run == nil {
		return nil
	}
	return n.run.readers[stream]
}

func (n *node) adapterOf(nsp string) *Adapter {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.adapters[nsp]
}

func (n *node) newAdapter(ns adapter.Namespace) *Adapter {
	a := newAdapter(n, ns)
	subs := []string{a.public, a.private}

	n.mu.Lock()
	start := n.run == nil
	if start {
		n.start()
	}
	ps, run := n.ps, n.run
	n.count++
	if old := n.adapters[a.name]; old != nil {
		a.log.Warn("adapter/redisstreams: a second adapter for the namespace replaces the first")
	}
	n.adapters[a.name] = a
	wait := make([]chan struct{}, 0, len(subs))
	for _, c := range subs {
		n.channels[c] = a
		w := make(chan struct{})
		n.waiters[c] = w
		wait = append(wait, w)
	}
	n.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
	defer cancel()
	if err := ps.Subscribe(ctx, subs...); err != nil {
		// The subscriptions are recorded: go-redis makes them when the
		// connection comes back.
		n.redisResult(err)
	} else {
		for _, w := range wait {
			select {
			case <-w:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			n.redisResult(errors.New("adapter/redisstreams: subscription not confirmed in time"))
		}
	}
	if start {
		for _, r := range run.ready {
			select {
			case <-r:
			case <-ctx.Done():
			}
		}
	}
	n.mu.Lock()
	for _, c := range subs {
		delete(n.waiters, c)
	}
	n.mu.Unlock()
	return a
}

// start opens the subscription connection and starts the stream readers.
// Called with mu held.
func (n *node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cancel: cancel, readers: map[string]*reader{}}
	n.run = run
	// The readers' clients copy the shared client's options: before the
	// subscription connection starts, which writes to them as it dials.
	streams := streamNames(n.opts.StreamName, n.opts.StreamCount)
	readers := make([]*reader, 0, len(streams))
	for _, stream := range streams {
		rc, owned := n.readingClient()
		if owned {
			run.clients = append(run.clients, rc)
		}
		r := &reader{node: n, client: rc, stream: stream, ready: make(chan struct{}),
			stopped: make(chan struct{}), own: map[string]*ownTurn{}}
		run.ready = append(run.ready, r.ready)
		run.readers[stream] = r
		readers = append(readers, r)
	}
	n.ps = n.client.Subscribe(context.Background())
	msgs := n.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	run.wg.Add(1)
	go func() {
		defer run.wg.Done()
		n.receive(msgs)
	}()
	for _, r := range readers {
		run.wg.Add(1)
		go func() {
			defer run.wg.Done()
			r.loop(ctx)
		}()
	}
}

// readingClient returns a client of its own for a blocking reader, so that
// closing it ends a blocked XREAD at once, or the shared client when its
// kind cannot be duplicated.
func (n *node) readingClient() (goredis.UniversalClient, bool) {
	switch c := n.client.(type) {
	case *goredis.Client:
		opt := *c.Options()
		opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns = 1, 0, 1
		// c may change its MaintNotificationsConfig (under a lock of its
		// own) while it opens a connection: NewClient must not copy it.
		// A reading connection does without maintenance notifications; it
		// reconnects when its connection breaks.
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return goredis.NewClient(&opt), true
	case *goredis.ClusterClient:
		opt := *c.Options()
		return goredis.NewClusterClient(&opt), true
	}
	return n.client, false
}

// remove forgets a closed adapter; the last one stops the node and waits
// for its goroutines.
func (n *node) remove(a *Adapter) {
	subs := []string{a.public, a.private}
	n.mu.Lock()
	if n.adapters[a.name] == a {
		delete(n.adapters, a.name)
	}
	for _, c := range subs {
		if n.channels[c] == a {
			delete(n.channels, c)
		}
	}
	n.count--
	ps, run := n.ps, n.run
	last := n.count == 0
	if last {
		n.ps, n.run = nil, nil
	}
	n.mu.Unlock()
	if ps == nil {
		return
	}
	if !last {
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
		defer cancel()
		if err := ps.Unsubscribe(ctx, subs...); err != nil {
			a.log.Debug("adapter/redisstreams: unsubscribing", "err", err)
		}
		return
	}
	run.cancel()
	_ = ps.Close()
	for _, c := range run.clients {
		_ = c.Close()
	}
	run.wg.Wait()
}

// receive handles the messages of the subscription connection until it is
// closed.
func (n *node) receive(msgs <-chan any) {
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			n.mu.Lock()
			w := n.waiters[m.Channel]
			delete(n.waiters, m.Channel)
			n.mu.Unlock()
			if w != nil {
				close(w)
			}
		case *goredis.Message:
			n.mu.Lock()
			a := n.channels[m.Channel]
			n.mu.Unlock()
			if a != nil {
				a.onPubSub(m.Channel, []byte(m.Payload))
			}
		}
	}
}

// reader follows one stream.
//
// With recovery on, the broadcasts of this server that get an offset are
// delivered in stream order too, among those of the other servers: a
// client resumes after the last offset it got, so an offset overtaken by
// a later one would be lost to it. The broadcasting goroutine still
// delivers its own packet (see turn), but only once the reader is at its
// entry, and the reader waits for it before going on.
type reader struct {
	node    *node
	client  goredis.UniversalClient
	stream  string
	ready   chan struct{}
	stopped chan struct{} // closed when loop returns

	mu  sync.Mutex
	pos string              // the last entry dealt with ("" before the start is known)
	own map[string]*ownTurn // entries of this server's broadcasts, by id
}

// ownTurn pairs an entry of this server's broadcast with its delivery.
type ownTurn struct {
	reached   chan struct{} // closed once the reader is at the entry or past it
	done      chan struct{} // closed once the broadcaster has delivered
	isReached bool          // guarded by reader.mu
}

// turnOf returns the turn of entry id. Called with mu held.
func (r *reader) turnOf(id string) *ownTurn {
	t := r.own[id]
	if t == nil {
		t = &ownTurn{reached: make(chan struct{}), done: make(chan struct{})}
		r.own[id] = t
	}
	return t
}

// reach marks t reached. Called with mu held.
func (t *ownTurn) reach() {
	if !t.isReached {
		t.isReached = true
		close(t.reached)
	}
}

// turn waits until the reader is at entry id, which this server has just
// appended, so that the caller delivers it after the entries before it
// and before those after it; the caller then calls the returned function.
// It waits at most wait (the entry may be lost, say by a Redis restart),
// and not for a stopped reader.
func (r *reader) turn(ctx context.Context, id string, wait time.Duration) (delivered func()) {
	r.mu.Lock()
	if r.pos != "" && adapter.CompareOffsets(r.pos, id) >= 0 {
		r.mu.Unlock()
		return func() {} // the reader has gone past it
	}
	t := r.turnOf(id)
	r.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-t.reached:
	case <-timer.C:
	case <-ctx.Done():
	case <-r.stopped:
	}
	return func() { close(t.done) }
}

// handOff lets the broadcaster of this server's entry id deliver it, and
// waits until it has (at most wait: a broadcaster that gave up on the
// entry, because appending it failed for instance, never comes).
func (r *reader) handOff(ctx context.Context, id string, wait time.Duration) {
	r.mu.Lock()
	t := r.turnOf(id)
	t.reach()
	r.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
		r.node.log.Debug("adapter/redisstreams: broadcaster of an entry of this server did not deliver it in time",
			"stream", r.stream, "id", id)
	case <-ctx.Done():
	}
}

// advance records that the reader dealt with entry id: the turns of
// entries before it (lost or trimmed) will not come.
func (r *reader) advance(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pos = id
	for k, t := range r.own {
		if adapter.CompareOffsets(k, id) <= 0 {
			t.reach()
			delete(r.own, k)
		}
	}
}

// loop reads the stream from its current end until ctx is done, resuming
// after the last entry read when Redis comes back from an error.
func (r *reader) loop(ctx context.Context) {
	defer close(r.stopped)
	n := r.node
	log := n.log.With("stream", r.stream)
	backoff := 50 * time.Millisecond
	fail := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		n.outage.Fail(log, "adapter/redisstreams: "+what+" failed; retrying", "err", err)
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	recovered := func() {
		n.outage.OK(log, "adapter/redisstreams: reading the stream again")
		backoff = 50 * time.Millisecond
	}

	// Start after the current last entry. Reading from "$" would lose the
	// entries added between two XREAD calls.
	last := ""
	for last == "" {
		msgs, err := r.client.XRevRangeN(ctx, r.stream, "+", "-", 1).Result()
		if err != nil {
			if !fail("reading the end of the stream", err) {
				close(r.ready)
				return
			}
			continue
		}
		last = "0-0"
		if len(msgs) > 0 {
			last = msgs[0].ID
		}
	}
	r.advance(last)
	recovered()
	close(r.ready)

	for ctx.Err() == nil {
		res, err := r.client.XRead(ctx, &goredis.XReadArgs{
			Streams: []string{r.stream, last},
			Count:   n.opts.ReadCount,
			Block:   n.opts.BlockTime,
		}).Result()
		if err == goredis.Nil {
			recovered()
			continue
		}
		if err != nil {
			if !fail("XREAD", err) {
				return
			}
			continue
		}
		recovered()
		for _, s := range res {
			for _, e := range s.Messages {
				last = e.ID
				r.onEntry(ctx, e)
				r.advance(e.ID)
			}
		}
	}
}

// onEntry dispatches a stream entry to the adapter of its namespace; for
// the broadcasts of this server that get an offset, it hands off to their
// broadcaster.
func (r *reader) onEntry(ctx context.Context, e goredis.XMessage) {
	n := r.node
	if uid, _ := e.Values["uid"].(string); uid == n.uid {
		r.mu.Lock()
		_, waiting := r.own[e.ID]
		r.mu.Unlock()
		if waiting || n.ownTurnFor(e) {
			r.handOff(ctx, e.ID, n.opts.RequestTimeout)
		}
		return
	}
	nsp, _ := e.Values["nsp"].(string)
	a := n.adapterOf(nsp)
	if a == nil {
		return
	}
	switch t, _ := e.Values["type"].(string); t {
	case "1", "2", "13":
		return // heartbeats and closings of 0.2 adapters: no server list here
	}
	m, err := wire.DecodeStreamEntry(e.Values)
	if err != nil {
		n.faults.Warn(a.log, "adapter/redisstreams: dropping malformed stream entry", "stream", r.stream, "id", e.ID, "err", err)
		return
	}
	a.onMessage(m, e.ID)
}

// ownTurnFor reports whether entry e of this server is a broadcast whose
// broadcaster waits for its turn (see Adapter.Broadcast).
func (n *node) ownTurnFor(e goredis.XMessage) bool {
	if t, _ := e.Values["type"].(string); t != strconv.Itoa(int(wire.ClusterBroadcast)) {
		return false
	}
	nsp, _ := e.Values["nsp"].(string)
	a := n.adapterOf(nsp)
	if a == nil || !a.recovery() {
		return false
	}
	m, err := wire.DecodeStreamEntry(e.Values)
	if err != nil {
		return false
	}
	return m.RequestID == "" && adapter.Storable(m.Packet, m.Opts.Adapter())
}
