//go:build !unix

package websocket

// awaitPollers is only needed for the epoll and kqueue pollers.
func (p *Poller) awaitPollers(n int) bool { return true }
