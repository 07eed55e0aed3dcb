package engineio

import (
	"context"
	"time"
)

// Shutdown stops the server gracefully, in the manner of
// http.Server.Shutdown. At once, new sessions are refused (handshakes get
// 503 Service Unavailable, on every transport). Every session is then
// closed gracefully, as Session.Close does: a WebSocket client gets the
// frames queued for it, then a close frame; a polling client gets what is
// queued on its waiting (or next) poll, and the close packet on the poll
// after, as the reference server does. Shutdown waits
// until every session has closed, every handler call has returned (OnClose
// included), what was written to WebSocket clients has been taken by the
// kernel, and the polls have been answered; then it stops the server as
// Close does and returns nil.
//
// When ctx ends first, Shutdown closes everything at once (see Close) and
// returns ctx.Err(). Calling Shutdown more than once, or concurrently, or
// after Close, is safe: each call waits the same way.
//
// Shutdown does not stop the HTTP server: call it first, then
// http.Server.Shutdown (which does not track hijacked WebSocket
// connections, and would wait for the long-polls Shutdown releases).
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.draining.Store(true)
	srv.Sessions(func(s *Session) bool {
		_ = s.Close()
		return true
	})
	err := waitFor(ctx, func() bool {
		return srv.active.Load() == 0 && srv.polls.Load() == 0 && srv.poller.Conns() == 0
	})
	_ = srv.Close()
	return err
}

// waitFor returns nil once done reports true, checking at growing
// intervals, or ctx's error when it ends first.
func waitFor(ctx context.Context, done func() bool) error {
	delay := time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 20*time.Millisecond)
		t.Reset(delay)
	}
	return nil
}
