// Package warn keeps the warnings about a server-side failure to a few
// lines however often the failure repeats: one when a dependency (a Redis
// server, a session store) starts failing and one when it works again, or
// at most one per period for a fault that recurs. The repeats are logged
// at Debug level, so nothing is lost to whoever asks for the details.
package warn

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Outage follows the state of a dependency. The zero value is a
// dependency that works.
type Outage struct {
	down atomic.Bool
}

// Fail reports a failure: logged at Warn level when the dependency was
// working, at Debug level while it keeps failing.
func (o *Outage) Fail(log *slog.Logger, msg string, args ...any) {
	level := slog.LevelDebug
	if o.down.CompareAndSwap(false, true) {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, msg, args...)
}

// OK reports a success. When the dependency was failing, msg is logged at
// Info level. A success costs one atomic load when nothing was failing.
func (o *Outage) OK(log *slog.Logger, msg string, args ...any) {
	if o.down.Load() && o.down.CompareAndSwap(true, false) {
		log.Info(msg, args...)
	}
}

// Down reports whether the last report was a failure.
func (o *Outage) Down() bool { return o.down.Load() }

// Every logs a recurring fault at Warn level at most once per Period
// (default one minute), at Debug level otherwise.
type Every struct {
	Period time.Duration
	last   atomic.Int64 // time of the last warning, in nanoseconds since the epoch
}

// Warn logs msg at Warn level if the period has passed since the last
// warning, at Debug level otherwise.
func (e *Every) Warn(log *slog.Logger, msg string, args ...any) {
	period := e.Period
	if period <= 0 {
		period = time.Minute
	}
	level := slog.LevelDebug
	now := time.Now().UnixNano()
	last := e.last.Load()
	if (last == 0 || now-last >= int64(period)) && e.last.CompareAndSwap(last, now) {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, msg, args...)
}
