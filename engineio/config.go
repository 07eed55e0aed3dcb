package engineio

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Transport names.
const (
	Polling   = "polling"
	WebSocket = "websocket"
)

// Config configures a Server. The zero value means the reference defaults
// of the Node.js engine.io 6.x server.
type Config struct {
	// Path is where the server is mounted; requests whose path does not
	// start with it get 404. Default "/engine.io/".
	Path string

	// PingInterval is the heartbeat period. Default 25 s.
	PingInterval time.Duration
	// PingTimeout is how long a ping may stay unanswered (revision 4), or
	// how much longer than PingInterval a client ping may be late
	// (revision 3), before the session closes with "ping timeout".
	// Default 20 s.
	PingTimeout time.Duration
	// UpgradeTimeout is how long a probe WebSocket may take to complete
	// the upgrade. Default 10 s.
	UpgradeTimeout time.Duration
	// MaxHTTPBufferSize is the largest polling request body and WebSocket
	// message accepted, in bytes. It is advertised to clients as
	// maxPayload. Default 1e6.
	MaxHTTPBufferSize int64

	// Transports lists the enabled transports. Default polling and
	// websocket.
	Transports []string
	// DisallowUpgrades disables the upgrade from polling to WebSocket
	// (the reference option allowUpgrades=false).
	DisallowUpgrades bool
	// AllowEIO3 accepts protocol revision 3 clients (engine.io-client 3.x,
	// socket.io-client 2.x).
	AllowEIO3 bool

	// AllowRequest is called for handshake requests (those without a
	// session id) on every transport. A non-nil error rejects the request
	// with 403 {"code":4,"message":<err.Error()>}.
	AllowRequest func(r *http.Request) error

	// CORS enables cross-origin polling when non-nil, and then also checks
	// the Origin of WebSocket upgrades against the same allow-list.
	CORS *CORS
	// Cookie sends the session id in a cookie on the handshake when
	// non-nil (for sticky sessions).
	Cookie *Cookie

	// PerMessageDeflate enables WebSocket compression (RFC 7692, without
	// context takeover) when non-nil. Off by default, as in the reference.
	PerMessageDeflate *PerMessageDeflate
	// HTTPCompression configures gzip/deflate of polling responses. nil
	// means the default: on, for responses of 1024 bytes or more.
	HTTPCompression *HTTPCompression

	// InitialPacket, when non-nil, is sent as a message right after the
	// open packet.
	InitialPacket []byte

	// MaxWriteBuffer bounds the bytes held for one client, whatever its
	// transport: messages queued for it (a polling client between two
	// polls, a WebSocket being written to) and what its WebSocket could
	// not write yet (the kernel's buffer being full). A Send that would
	// go past it closes the session with ReasonWriteBufferFull (a slow
	// consumer never holds up other clients, and memory stays bounded);
	// volatile messages are dropped long before. Keep it well above the
	// largest message sent. Default 4 MiB.
	MaxWriteBuffer int

	// BlockingWebSocket serves WebSocket connections with a reader
	// goroutine each instead of the event poller. The wire behaviour is
	// the same; it costs memory per connection.
	BlockingWebSocket bool

	// Logger receives the server's logs. Default slog.Default(). Client
	// errors are logged at Debug level only.
	Logger *slog.Logger
}

// CORS configures cross-origin resource sharing for polling requests, with
// the semantics of the cors npm module the reference server uses.
type CORS struct {
	// Origins is the allow-list. An entry "*" allows any origin (and is
	// sent as "*" unless Credentials is set, then the origin is
	// reflected).
	Origins []string
	// AllowOrigin, when set, decides instead of Origins.
	AllowOrigin func(origin string) bool
	// Credentials sends Access-Control-Allow-Credentials: true.
	Credentials bool
	// Methods answered to preflight requests. Default GET, HEAD, PUT,
	// PATCH, POST, DELETE.
	Methods []string
	// AllowedHeaders answered to preflight requests. Default: the
	// headers the client asked for.
	AllowedHeaders []string
	// ExposedHeaders sent on actual requests.
	ExposedHeaders []string
	// MaxAge of preflight results, in seconds; 0 omits the header.
	MaxAge int
}

// Cookie configures the session cookie. The zero value means the
// reference defaults: name "io", path "/", HttpOnly, SameSite=Lax.
type Cookie struct {
	Name     string
	Path     string
	Domain   string
	MaxAge   int
	Secure   bool
	SameSite http.SameSite
	// NoHTTPOnly clears the HttpOnly attribute.
	NoHTTPOnly bool
}

// PerMessageDeflate configures WebSocket compression.
type PerMessageDeflate struct {
	// Threshold is the smallest message compressed. Default 1024.
	Threshold int
}

// HTTPCompression configures polling response compression.
type HTTPCompression struct {
	// Disable turns compression off.
	Disable bool
	// Threshold is the smallest response compressed. Default 1024.
	Threshold int
}

// ErrInvalidConfig is wrapped by the errors NewServer returns for a bad
// Config.
var ErrInvalidConfig = errors.New("engineio: invalid config")

// withDefaults returns a copy of c with defaults filled in, or an error.
func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		c.Path = "/engine.io/"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return c, fmt.Errorf("%w: Path %q must start with /", ErrInvalidConfig, c.Path)
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.UpgradeTimeout == 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.MaxHTTPBufferSize == 0 {
		c.MaxHTTPBufferSize = 1e6
	}
	if c.PingInterval < 0 || c.PingTimeout < 0 || c.UpgradeTimeout < 0 || c.MaxHTTPBufferSize < 0 || c.MaxWriteBuffer < 0 {
		return c, fmt.Errorf("%w: durations and sizes must not be negative", ErrInvalidConfig)
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{Polling, WebSocket}
	}
	for _, t := range c.Transports {
		if t != Polling && t != WebSocket {
			return c, fmt.Errorf("%w: unknown transport %q", ErrInvalidConfig, t)
		}
	}
	c.Transports = slices.Clone(c.Transports)
	if c.HTTPCompression == nil {
		c.HTTPCompression = &HTTPCompression{}
	}
	if c.HTTPCompression.Threshold == 0 {
		hc := *c.HTTPCompression
		hc.Threshold = 1024
		c.HTTPCompression = &hc
	}
	if c.PerMessageDeflate != nil && c.PerMessageDeflate.Threshold == 0 {
		pd := *c.PerMessageDeflate
		pd.Threshold = 1024
		c.PerMessageDeflate = &pd
	}
	if c.Cookie != nil {
		ck := *c.Cookie
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		if ck.SameSite == 0 {
			ck.SameSite = http.SameSiteLaxMode
		}
		c.Cookie = &ck
	}
	if c.MaxWriteBuffer == 0 {
		c.MaxWriteBuffer = 4 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func (c *Config) transportEnabled(name string) bool {
	return slices.Contains(c.Transports, name)
}
