package socketio

import (
	"context"
	"time"
)

// Shutdown stops the server gracefully, in the manner of
// http.Server.Shutdown. At once, new connections are refused (503 Service
// Unavailable) and every socket is disconnected with the reason "server
// shutting down": its disconnecting and disconnect handlers run, and
// emits to it fail from then on. Each client then gets what was queued for
// it before the shutdown, and its connection closes: socket.io-client sees
// "transport close" and tries to reconnect, as with the reference server's
// io.close() (no DISCONNECT packet is sent, which would stop it from
// reconnecting to another node). Shutdown returns nil once every
// connection has closed and every handler has returned, OnDisconnect
// handlers included; with connection state recovery, the sessions of the
// sockets are saved in the adapter before it is closed.
//
// When ctx ends first, Shutdown closes everything at once, as Close does,
// and returns ctx.Err(). Calling it more than once, or concurrently, or
// after Close, is safe.
//
// Shutdown does not stop the HTTP server. Call it first, then
// http.Server.Shutdown: the HTTP server does not track WebSocket
// connections, and it would wait for the long-polling requests that
// Shutdown answers.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.stop()
	err := srv.engine.Shutdown(ctx)
	if err == nil {
		err = waitUntil(ctx, func() bool { return srv.busy.Load() == 0 })
	}
	if err != nil {
		_ = srv.Close()
		return err
	}
	srv.closeAdapters()
	return nil
}

// waitUntil returns nil once done reports true, checking at growing
// intervals, or ctx's error when it ends first.
func waitUntil(ctx context.Context, done func() bool) error {
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
