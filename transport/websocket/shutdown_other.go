//go:build !unix

package websocket

import "github.com/lesismal/nbio"

// shutdownEvented closes a poller-served connection; without epoll the
// library serves it with goroutines and the descriptor race of the unix
// event loop does not arise.
func shutdownEvented(nc *nbio.Conn) { _ = nc.Close() }
