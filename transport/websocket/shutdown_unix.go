//go:build unix

package websocket

import (
	"syscall"

	"github.com/lesismal/nbio"
)

// shutdownEvented ends a poller-served connection without closing its
// descriptor here: the event loop may already hold an event for that
// descriptor number, and if the number were freed and given to a new
// connection, that stale event would close the new one. shutdown(2) makes
// the loop read the end of the stream and close the descriptor itself; it
// also sends what the kernel holds before the FIN, so a close frame just
// written still arrives. nbio marks a connection closed under its lock
// before it closes the descriptor, so checking under that lock guarantees
// the number still belongs to this connection.
func shutdownEvented(nc *nbio.Conn) {
	nc.Lock()
	defer nc.Unlock()
	if closed, _ := nc.IsClosed(); closed {
		return
	}
	if rc, err := nc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	}
}
