// Package gopool runs short tasks on goroutines that outlive them for a
// moment: a goroutine whose stack has grown serves the next task instead of
// a new one growing its stack again. Idle goroutines exit after IdleTimeout,
// so nothing stays behind when the work stops; the number of goroutines is
// the number of tasks running at once, plus those idle for less than the
// timeout.
package gopool

import (
	"sync/atomic"
	"time"
)

// IdleTimeout is how long an idle goroutine waits for work before exiting.
const IdleTimeout = time.Second

var (
	work = make(chan func()) // unbuffered: a send succeeds only to an idle worker
	idle atomic.Int64
)

// Go runs f on an idle pooled goroutine, or on a new one.
func Go(f func()) {
	if idle.Load() > 0 {
		select {
		case work <- f:
			return
		default:
		}
	}
	go worker(f)
}

func worker(f func()) {
	t := time.NewTimer(IdleTimeout)
	defer t.Stop()
	for {
		f()
		f = nil
		idle.Add(1)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(IdleTimeout)
		select {
		case f = <-work:
			idle.Add(-1)
		case <-t.C:
			idle.Add(-1)
			return
		}
	}
}
