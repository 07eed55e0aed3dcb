package socketio

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-sio/sio/adapter"
	"github.com/go-sio/sio/engineio"
)

// Config configures a Server. The zero value means the defaults of the
// Node.js reference server (socket.io 4.x over engine.io 6.x).
type Config struct {
	// Path is where the server is mounted. Default "/socket.io/".
	Path string

	// PingInterval is the heartbeat period. Default 25 s.
	PingInterval time.Duration
	// PingTimeout closes a connection whose heartbeat is this late.
	// Default 20 s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds the upgrade from polling to WebSocket.
	// Default 10 s.
	UpgradeTimeout time.Duration
	// MaxHTTPBufferSize is the largest message (and polling request body)
	// accepted, in bytes. Default 1e6.
	MaxHTTPBufferSize int64
	// Transports enabled. Default polling and websocket.
	Transports []string
	// DisallowUpgrades keeps polling clients on polling.
	DisallowUpgrades bool
	// AllowEIO3 accepts socket.io-client 2.x (Engine.IO revision 3,
	// Socket.IO protocol 4).
	AllowEIO3 bool
	// AllowRequest may reject a connection's first request; the error
	// message is sent with a 403.
	AllowRequest func(r *http.Request) error
	// CORS enables cross-origin requests (off by default).
	CORS *engineio.CORS
	// Cookie sets a session cookie on the handshake (off by default).
	Cookie *engineio.Cookie
	// PerMessageDeflate enables WebSocket compression (off by default).
	PerMessageDeflate *engineio.PerMessageDeflate
	// HTTPCompression configures polling compression (on by default for
	// responses of 1 KB or more).
	HTTPCompression *engineio.HTTPCompression
	// MaxWriteBuffer bounds the bytes held for one client that does not
	// take what is sent to it fast enough (queued for a polling client,
	// or not yet written to a WebSocket); past it the client is
	// disconnected, its sockets with ReasonWriteBufferFull. Volatile
	// events are dropped long before. Keep it well above the largest
	// message sent. Default 4 MiB.
	MaxWriteBuffer int
	// BlockingWebSocket serves WebSocket connections with a goroutine
	// each instead of the event poller.
	BlockingWebSocket bool

	// ConnectTimeout closes connections that join no namespace in time.
	// Default 45 s.
	ConnectTimeout time.Duration
	// MaxAttachments is the most binary attachments a client packet may
	// declare. Default 10.
	MaxAttachments int
	// Adapter creates the adapter of each namespace. Default
	// adapter.NewMemory.
	Adapter adapter.Factory
	// ClientFS, when set, serves the socket.io client bundle from it at
	// <Path>socket.io.js (also .min.js, .esm.min.js, .msgpack.min.js and
	// their .map files), as the reference's serveClient does. Point it at
	// node_modules/socket.io-client/dist.
	ClientFS fs.FS
	// CleanupEmptyChildNamespaces removes a namespace created by a parent
	// namespace once its last socket leaves.
	CleanupEmptyChildNamespaces bool
	// ConnectionStateRecovery, when set, lets a client that lost its
	// connection get back its socket (same id, rooms and data) and the
	// events it missed, as the reference's connectionStateRecovery option
	// does (socket.io-client 4.6 or later). Off by default. The adapter
	// must support it (adapter.SessionStore): the in-memory adapter and
	// adapter/redisstreams do.
	ConnectionStateRecovery *RecoveryConfig
	// OnError receives errors tied to a socket that no caller can
	// receive: a handler whose arguments did not bind, a handler or
	// middleware that returned an error, a panic in a handler. Default:
	// logged at Debug level (Error level for panics).
	OnError func(s *Socket, err error)
	// Logger receives the server's logs (and the engine's). Default
	// slog.Default(). What a client can cause (bad requests and packets,
	// handler errors) is logged at Debug level, a failing session store
	// at Warn level once per outage, panics at Error level.
	Logger *slog.Logger
}

// RecoveryConfig configures connection state recovery.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long a disconnected client can
	// recover its socket. Default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares skips the namespace middlewares for a recovered
	// socket. Default false: middlewares run again, so that a client
	// refused meanwhile (revoked token, ban) cannot come back with its
	// session id. The reference skips them by default.
	SkipMiddlewares bool
	// MaxBytes caps the packets the in-memory adapter keeps per
	// namespace for recovery; the oldest are dropped first (clients that
	// needed them get a fresh session). Default 32 MiB.
	MaxBytes int
}

func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.ConnectTimeout < 0 {
		return c, fmt.Errorf("socketio: invalid config: negative ConnectTimeout")
	}
	if c.MaxAttachments == 0 {
		c.MaxAttachments = 10
	}
	if c.MaxAttachments < 0 {
		return c, fmt.Errorf("socketio: invalid config: negative MaxAttachments")
	}
	if c.Adapter == nil {
		c.Adapter = adapter.NewMemory
	}
	if r := c.ConnectionStateRecovery; r != nil {
		rc := *r
		if rc.MaxDisconnectionDuration == 0 {
			rc.MaxDisconnectionDuration = 2 * time.Minute
		}
		if rc.MaxBytes == 0 {
			rc.MaxBytes = adapter.DefaultRecoveryMaxBytes
		}
		if rc.MaxDisconnectionDuration < 0 || rc.MaxBytes < 0 {
			return c, fmt.Errorf("socketio: invalid config: negative ConnectionStateRecovery value")
		}
		c.ConnectionStateRecovery = &rc
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func (c *Config) engineConfig() engineio.Config {
	return engineio.Config{
		Path:              c.Path,
		PingInterval:      c.PingInterval,
		PingTimeout:       c.PingTimeout,
		UpgradeTimeout:    c.UpgradeTimeout,
		MaxHTTPBufferSize: c.MaxHTTPBufferSize,
		Transports:        c.Transports,
		DisallowUpgrades:  c.DisallowUpgrades,
		AllowEIO3:         c.AllowEIO3,
		AllowRequest:      c.AllowRequest,
		CORS:              c.CORS,
		Cookie:            c.Cookie,
		PerMessageDeflate: c.PerMessageDeflate,
		HTTPCompression:   c.HTTPCompression,
		MaxWriteBuffer:    c.MaxWriteBuffer,
		BlockingWebSocket: c.BlockingWebSocket,
		Logger:            c.Logger,
	}
}
