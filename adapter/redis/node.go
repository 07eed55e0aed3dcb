package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/adapter/redis/wire"
	"github.com/go-sio/sio/internal/warn"
)

// Options configure the adapter. The zero value gives the defaults of the
// Node adapter.
type Options struct {
	// Key is the prefix of the channels. Default "socket.io".
	Key string
	// RequestsTimeout bounds the requests to other nodes (FetchSockets,
	// ClusterRooms, ServerSideEmitWithAck) and the Redis commands an
	// operation issues. Default 5 s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel makes this node answer a request on
	// the requester's own response channel instead of the shared one.
	// Every node listens on both, so nodes may differ in this setting.
	PublishOnSpecificResponseChannel bool
	// ServerID identifies this server to the others. It must be unique in
	// the cluster, must not contain '#' and must not be "emitter". Default:
	// random, one per NewAdapter call.
	ServerID string
	// Logger receives the adapter's logs. Default slog.Default(). A Redis
	// outage is logged at Warn level once, when the first operation
	// fails, and its end at Info level; the failures in between at Debug
	// level. (go-redis logs its reconnection attempts through its own
	// logger: see goredis.SetLogger.)
	Logger *slog.Logger
}

// NewAdapter returns the adapter Factory of a server (socketio.Config's
// Adapter): one adapter per namespace, all sharing one subscription
// connection taken from client. client publishes and queries; it is not
// closed by the adapters.
//
// It panics when opts.ServerID is invalid.
func NewAdapter(client goredis.UniversalClient, opts Options) adapter.Factory {
	if client == nil {
		panic("adapter/redis: nil Redis client")
	}
	if opts.Key == "" {
		opts.Key = wire.DefaultKey
	}
	if opts.RequestsTimeout <= 0 {
		opts.RequestsTimeout = 5 * time.Second
	}
	if opts.ServerID == "" {
		opts.ServerID = randomID(8)
	} else if strings.Contains(opts.ServerID, "#") || opts.ServerID == wire.EmitterUID {
		panic(fmt.Sprintf("adapter/redis: invalid ServerID %q", opts.ServerID))
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	n := &node{
		client:   client,
		opts:     opts,
		uid:      opts.ServerID,
		log:      opts.Logger.With("adapter", "redis", "server", opts.ServerID),
		patterns: map[string]*Adapter{},
		channels: map[string]*Adapter{},
		waiters:  map[string]chan struct{}{},
	}
	return func(ns adapter.Namespace) adapter.Adapter { return n.newAdapter(ns) }
}

// randomID returns n characters of base64url from crypto/rand.
func randomID(n int) string {
	b := make([]byte, (n*6+7)/8)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// node is what the adapters of one Factory share: the server id and the
// subscription connection with its receiving goroutine.
type node struct {
	client goredis.UniversalClient
	opts   Options
	uid    string
	log    *slog.Logger

	mu       sync.Mutex
	ps       *goredis.PubSub
	count    int                      // adapters alive
	patterns map[string]*Adapter      // broadcast pattern -> adapter
	channels map[string]*Adapter      // request/response channels -> adapter
	waiters  map[string]chan struct{} // "kind channel" -> closed on confirmation

	outage    warn.Outage // Redis failures: one warning per outage
	malformed warn.Every  // undecodable messages of other nodes: one warning a minute
}

func (n *node) newAdapter(ns adapter.Namespace) *Adapter {
	a := newAdapter(n, ns)
	subs := []string{a.ch.Request, a.ch.Response, a.specific}

	n.mu.Lock()
	start := n.ps == nil
	if start {
		n.ps = n.client.Subscribe(context.Background())
	}
	ps := n.ps
	n.count++
	n.patterns[a.ch.Pattern()] = a
	for _, c := range subs {
		n.channels[c] = a
	}
	wait := []chan struct{}{n.waiter("psubscribe", a.ch.Pattern())}
	for _, c := range subs {
		wait = append(wait, n.waiter("subscribe", c))
	}
	n.mu.Unlock()

	if start {
		msgs := ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
		go n.receive(msgs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestsTimeout)
	defer cancel()
	err := ps.PSubscribe(ctx, a.ch.Pattern())
	if err == nil {
		err = ps.Subscribe(ctx, subs...)
	}
	if err != nil {
		// The subscriptions are recorded: they are made when the
		// connection comes back.
		n.redisResult(err)
	} else {
		for _, w := range wait {
			select {
			case <-w:
			case <-ctx.Done():
				n.redisResult(errors.New("adapter/redis: subscription not confirmed in time"))
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	n.mu.Lock()
	delete(n.waiters, "psubscribe "+a.ch.Pattern())
	for _, c := range subs {
		delete(n.waiters, "subscribe "+c)
	}
	n.mu.Unlock()
	return a
}

// waiter returns the channel closed when the subscription is confirmed.
// Called with mu held.
func (n *node) waiter(kind, channel string) chan struct{} {
	w := make(chan struct{})
	n.waiters[kind+" "+channel] = w
	return w
}

// remove unsubscribes a closed adapter; the last one closes the
// subscription connection.
func (n *node) remove(a *Adapter) {
	subs := []string{a.ch.Request, a.ch.Response, a.specific}
	n.mu.Lock()
	if n.patterns[a.ch.Pattern()] == a {
		delete(n.patterns, a.ch.Pattern())
	}
	for _, c := range subs {
		if n.channels[c] == a {
			delete(n.channels, c)
		}
	}
	n.count--
	ps := n.ps
	last := n.count == 0
	if last {
		n.ps = nil
	}
	n.mu.Unlock()
	if ps == nil {
		return
	}
	if last {
		_ = ps.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestsTimeout)
	defer cancel()
	if err := ps.PUnsubscribe(ctx, a.ch.Pattern()); err != nil {
		a.log.Debug("adapter/redis: unsubscribing", "err", err)
	}
	if err := ps.Unsubscribe(ctx, subs...); err != nil {
		a.log.Debug("adapter/redis: unsubscribing", "err", err)
	}
}

// receive handles the messages of the subscription connection until it is
// closed.
func (n *node) receive(msgs <-chan any) {
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			n.mu.Lock()
			w := n.waiters[m.Kind+" "+m.Channel]
			delete(n.waiters, m.Kind+" "+m.Channel)
			n.mu.Unlock()
			if w != nil {
				close(w)
			} else if m.Kind == "psubscribe" || m.Kind == "subscribe" {
				n.log.Debug("adapter/redis: subscribed", "kind", m.Kind, "channel", m.Channel)
			}
		case *goredis.Message:
			n.mu.Lock()
			var a *Adapter
			if m.Pattern != "" {
				a = n.patterns[m.Pattern]
			} else {
				a = n.channels[m.Channel]
			}
			n.mu.Unlock()
			if a != nil {
				a.dispatch(m)
			}
		}
	}
}
