//go:build unix

package websocket

import (
	"net"
	"os"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// awaitPollers returns once each of the n poller goroutines of the engine
// has handled an event, i.e. runs its loop, and reports whether it saw
// them all. nbio's Engine.Stop never
// returns when a poller goroutine starts only after it (the goroutine
// clears the stop flag as it starts, then spins on the stop event), so
// Close calls this first. Each probe is one end of a socket pair, kept
// until the end (with a filler descriptor when its poller was already
// seen) so that the next probe's descriptor, which picks the poller,
// differs.
func (p *Poller) awaitPollers(n int) bool {
	type probe struct {
		nc   *nbio.Conn
		peer int
	}
	var probes []probe
	var fillers []int
	defer func() {
		for _, pr := range probes {
			_ = pr.nc.Close()
			_ = syscall.Close(pr.peer)
		}
		for _, fd := range fillers {
			_ = syscall.Close(fd)
		}
	}()
	waits := make([]*pollerProbe, n)
	for covered, tries := 0, 0; covered < n && tries < 4*n+8; tries++ {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return false
		}
		f := os.NewFile(uintptr(fds[0]), "poller-probe")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			_ = syscall.Close(fds[1])
			return false
		}
		nc, err := nbio.NBConn(c) // closes c
		if err != nil {
			_ = syscall.Close(fds[1])
			return false
		}
		probes = append(probes, probe{nc, fds[1]})
		i := nc.Hash() % n
		if waits[i] != nil {
			// Descriptors come in steps of two here: one more open
			// descriptor shifts the next probe to another poller.
			if fd, err := syscall.Dup(fds[1]); err == nil {
				fillers = append(fillers, fd)
			}
			continue
		}
		pp := &pollerProbe{ch: make(chan struct{})}
		nc.SetSession(pp)
		if _, err := p.engine.AddConn(nc); err != nil {
			return false
		}
		waits[i] = pp
		covered++
		_, _ = syscall.Write(fds[1], []byte{0})
	}
	timeout := time.After(5 * time.Second)
	for _, pp := range waits {
		if pp == nil {
			return false
		}
		select {
		case <-pp.ch:
		case <-timeout:
			return false
		}
	}
	return true
}
