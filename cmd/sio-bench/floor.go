package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sio/sio/bench/benchserver"
)

// The write floor of the broadcast scenario: what one write(2) per
// delivery costs on this machine with nothing else around it. A child
// process (this executable, started with floorWriterFlag) accepts the
// broadcast's number of loopback TCP connections and, from one goroutine
// locked to its thread, writes the frame a server sends for each bcast
// event to every connection at the broadcast's rate, with syscall.Write on
// blocking descriptors. The benchmark drains the connections, checks that
// every frame arrived in order, and reads the writer's CPU from /proc as
// it reads a server's. On loopback the receiving side's TCP processing
// runs inside the sender's write, so it is charged to the writer, as it is
// to a server.

// floorWriterFlag, as the first argument, makes the executable the writer
// of the floor measurement (floorWriterMain) instead of the benchmark.
const floorWriterFlag = "-floor-writer"

// floorLabel is the floor's scenario column in the suite's table.
const floorLabel = "broadcast floor (one write(2) per delivery, no Socket.IO)"

// The writer's lines on stdout, after "LISTENING <port>":
//
//	MEASURE        the warm-up rounds are written; it waits for a line on stdin
//	DONE <ns>      every round is written, the measured ones in <ns>; it waits for EOF on stdin
//	ERROR <text>   it failed and exits
const (
	floorMeasure = "MEASURE"
	floorDone    = "DONE "
	floorError   = "ERROR "
)

// appendServerFrame appends pkt as one unmasked WebSocket text frame, the
// way a server sends it.
func appendServerFrame(b, pkt []byte) []byte {
	b = append(b, 0x80|opText)
	switch n := len(pkt); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, pkt...)
}

// floorFrame is the frame a server sends to each client for the
// broadcast's i-th event: 42["bcast",<payload>] in a text frame, with the
// payload the driver builds for that event (a timestamp of the same
// length, the same sequence number), so the sizes match event for event.
func floorFrame(i int) []byte {
	return appendServerFrame(nil, appendEvent(nil, "bcast", payload(i, -1), 0, false))
}

// floorPlan is the shape of a floor run: the broadcast's receivers, rate
// and rounds (one round writes one frame to every connection).
type floorPlan struct {
	clients, rate int
	warm, total   int // warm-up rounds, all rounds
}

func floorPlanOf(sz Sizes) floorPlan {
	rate := max(sz.Rate, 1)
	warm := int(sz.Warmup.Seconds() * float64(rate))
	return floorPlan{
		clients: max(sz.BcastClients, 1),
		rate:    rate,
		warm:    warm,
		total:   warm + max(int(sz.Duration.Seconds()*float64(rate)), 1),
	}
}

func (p floorPlan) measuredWrites() uint64 { return uint64(p.total-p.warm) * uint64(p.clients) }

// runFloor measures the write floor with the broadcast's sizes.
func runFloor(ctx context.Context, env Env, sz Sizes) (r Result) {
	r.Scenario = "floor"
	plan := floorPlanOf(sz)
	exe, err := os.Executable()
	if err != nil {
		r.problem("finding this executable: %v", err)
		return r
	}
	measure := make(chan struct{}, 1)
	done := make(chan string, 1)
	argv := []string{exe, floorWriterFlag,
		"-clients", strconv.Itoa(plan.clients), "-rate", strconv.Itoa(plan.rate),
		"-warm", strconv.Itoa(plan.warm), "-rounds", strconv.Itoa(plan.total)}
	proc, err := startProcess(ctx, "floor writer", argv, "", os.Environ(), func(line string) {
		switch {
		case line == floorMeasure:
			select {
			case measure <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, floorDone):
			select {
			case done <- strings.TrimPrefix(line, floorDone):
			default:
			}
		}
	})
	if err != nil {
		r.problem("%v", err)
		return r
	}
	defer proc.Stop()
	// writerFailed adds the writer's exit and last output, if it exited.
	writerFailed := func(when string) Result {
		if proc.Exited() {
			r.problem("the floor writer exited %s: %s\n%s", when, proc.cmd.ProcessState, lastLines(strings.TrimSpace(proc.out.String()), 20))
		}
		return r
	}

	var dr floorDrain
	start := time.Now()
	conns, err := dialFloor(ctx, proc.Addr(), plan.clients, sz.Concurrency)
	defer dr.close(conns)
	if err != nil {
		r.problem("connecting %d connections: %v", plan.clients, err)
		return writerFailed("while connecting")
	}
	for _, c := range conns {
		dr.wg.Go(func() { dr.read(c) })
	}
	env.logf("  %d connections in %v", plan.clients, time.Since(start).Round(time.Millisecond))

	// The writer writes the warm-up rounds once it has accepted every
	// connection, then waits for the CPU sample to start.
	limit := time.Duration(plan.total)*time.Second/time.Duration(plan.rate) + 30*time.Second
	select {
	case <-measure:
	case <-proc.exited:
		return writerFailed("before the measured period")
	case <-time.After(limit):
		r.problem("the floor writer did not reach the measured period within %v", limit)
		return r
	case <-ctx.Done():
		r.problem("interrupted")
		return r
	}
	cpu := cpuWindow{p: procSampler{pid: proc.PID()}}
	cpu.Start()
	if _, err := io.WriteString(proc.stdin, "\n"); err != nil {
		r.problem("starting the measured period: %v", err)
		return writerFailed("before the measured period")
	}
	var elapsed time.Duration
	select {
	case s := <-done:
		ns, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			r.problem("floor writer: bad %q line", floorDone+s)
			return r
		}
		elapsed = time.Duration(ns)
	case <-proc.exited:
		return writerFailed("during the measured period")
	case <-time.After(limit):
		r.problem("the floor writer did not finish within %v", limit)
		return r
	case <-ctx.Done():
		r.problem("interrupted")
		return r
	}
	want := uint64(plan.total) * uint64(plan.clients)
	deadline := time.Now().Add(drainLimit)
	for dr.frames.Load() < want && dr.failed.Load() == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	used, cpuOK := cpu.Stop()
	got := dr.frames.Load()
	dr.close(conns)
	_ = proc.stdin.Close() // the writer exits on EOF

	switch {
	case got == 0:
		r.problem("no frame received")
	case got < want:
		r.problem("lost %d of %d frames (not received within %v of the last write)", want-got, want, drainLimit)
	case got > want:
		r.problem("%d frames more than written", got-want)
	}
	if n := dr.bad.Load(); n > 0 {
		r.problem("%d frames malformed, out of order or repeated", n)
	}
	if n := dr.failed.Load(); n > 0 {
		r.problem("%d of %d connections ended early: %v", n, plan.clients, dr.firstErr())
	}
	env.logf("  frames of %d to %d bytes", dr.minSize.Load(), dr.maxSize.Load())
	measured := plan.measuredWrites()
	scheduled := time.Duration(plan.total-plan.warm) * time.Second / time.Duration(plan.rate)
	r.add("writes/s", "", float64(measured)/max(elapsed, scheduled).Seconds(), true)
	r.add("CPU per write", "µs", perUnit(used, cpuOK, measured), false)
	r.add("lost frames", "", float64(want)-float64(min(got, want)), false)
	return r
}

// dialFloor opens n connections to addr, conc dials in flight.
func dialFloor(ctx context.Context, addr string, n, conc int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range max(min(conc, n), 1) {
		wg.Go(func() {
			var d net.Dialer
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := d.DialContext(dctx, "tcp", addr)
				dcancel()
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err); cancel() })
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	var opened []net.Conn
	for _, c := range conns {
		if c != nil {
			opened = append(opened, c)
		}
	}
	return opened, firstErr
}

// floorDrain reads the floor's connections: it counts the frames and
// checks that each one is the expected text frame, in sequence.
type floorDrain struct {
	wg      sync.WaitGroup
	closing atomic.Bool
	frames  atomic.Uint64
	bad     atomic.Uint64
	failed  atomic.Uint64 // connections that ended before close
	minSize atomic.Int64
	maxSize atomic.Int64

	mu  sync.Mutex
	err error
}

var floorPrefix = []byte(`42["bcast",{"t":`)

func (dr *floorDrain) read(c net.Conn) {
	buf := make([]byte, 16<<10)
	have := 0
	next := int64(0)
	lo, hi := int64(-1), int64(0)
	defer func() {
		for lo >= 0 {
			m := dr.minSize.Load()
			if (m != 0 && m <= lo) || dr.minSize.CompareAndSwap(m, lo) {
				break
			}
		}
		for {
			m := dr.maxSize.Load()
			if m >= hi || dr.maxSize.CompareAndSwap(m, hi) {
				break
			}
		}
	}()
	for {
		n, err := c.Read(buf[have:])
		have += n
		p := buf[:have]
		for len(p) >= 2 {
			size, h := int(p[1]&0x7F), 2
			if p[0] != 0x80|opText || p[1]&0x80 != 0 || size == 127 {
				dr.fail(fmt.Errorf("unexpected frame header % x", p[:2]))
				return
			}
			if size == 126 {
				if len(p) < 4 {
					break
				}
				size, h = int(binary.BigEndian.Uint16(p[2:4])), 4
			}
			if h+size > len(buf) {
				dr.fail(fmt.Errorf("frame of %d bytes", size))
				return
			}
			if len(p) < h+size {
				break
			}
			pkt := p[h : h+size]
			seq, ok := jsonInt(pkt, "seq")
			if !ok || !bytes.HasPrefix(pkt, floorPrefix) || seq != next {
				dr.bad.Add(1)
			}
			if ok {
				next = seq + 1
			}
			total := int64(h + size)
			if lo < 0 || total < lo {
				lo = total
			}
			hi = max(hi, total)
			dr.frames.Add(1)
			p = p[h+size:]
		}
		have = copy(buf, p)
		if err != nil {
			if !dr.closing.Load() {
				dr.fail(err)
			}
			return
		}
	}
}

func (dr *floorDrain) fail(err error) {
	dr.failed.Add(1)
	dr.mu.Lock()
	if dr.err == nil {
		dr.err = err
	}
	dr.mu.Unlock()
}

func (dr *floorDrain) firstErr() error {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	return dr.err
}

// close closes the connections and waits for their readers.
func (dr *floorDrain) close(conns []net.Conn) {
	if dr.closing.Swap(true) {
		return
	}
	for _, c := range conns {
		_ = c.Close()
	}
	dr.wg.Wait()
}

// floorWriterMain is the writer process of the floor measurement. It
// reports on stdout and takes its cues from stdin (see floorMeasure).
func floorWriterMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-bench "+floorWriterFlag, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		clients = fs.Int("clients", 1000, "connections to accept")
		rate    = fs.Int("rate", 100, "rounds per second (one frame to every connection each)")
		warm    = fs.Int("warm", 0, "rounds before the measured period")
		rounds  = fs.Int("rounds", 100, "rounds in all")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *clients < 1 || *rate < 1 || *rounds < 1 || *warm < 0 || *warm >= *rounds {
		fmt.Fprintln(stderr, "floor writer: need clients, rate, rounds ≥ 1 and 0 ≤ warm < rounds")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stdout, "%s%v\n", floorError, err)
		return 1
	}
	_ = benchserver.RaiseOpenFileLimit()
	// The writing goroutine is this one, on its own thread throughout.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	lfd, port, err := listenLoopback(*clients)
	if err != nil {
		return fail(err)
	}
	fds := make([]int, 0, *clients)
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	fmt.Fprintf(stdout, "LISTENING %d\n", port)
	for len(fds) < *clients {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
		if err == syscall.EINTR || err == syscall.ECONNABORTED {
			continue
		}
		if err != nil {
			_ = syscall.Close(lfd)
			return fail(fmt.Errorf("accept: %w", err))
		}
		// As the servers' sockets: no Nagle delay.
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			_ = syscall.Close(fd)
			_ = syscall.Close(lfd)
			return fail(fmt.Errorf("TCP_NODELAY: %w", err))
		}
		fds = append(fds, fd)
	}
	_ = syscall.Close(lfd)

	frames := make([][]byte, *rounds)
	for i := range frames {
		frames[i] = floorFrame(i)
	}
	in := bufio.NewReader(stdin)
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	var measureStart time.Time
	for i, frame := range frames {
		if i == *warm {
			fmt.Fprintln(stdout, floorMeasure)
			if _, err := in.ReadString('\n'); err != nil {
				return fail(fmt.Errorf("waiting for the measured period: %w", err))
			}
			// The schedule restarts here: the wait is not lateness.
			measureStart = time.Now()
			start = measureStart.Add(-time.Duration(i) * interval)
		}
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		for _, fd := range fds {
			if err := writeFull(fd, frame); err != nil {
				return fail(fmt.Errorf("write: %w", err))
			}
		}
	}
	fmt.Fprintf(stdout, "%s%d\n", floorDone, time.Since(measureStart).Nanoseconds())
	_, _ = io.Copy(io.Discard, in) // until the benchmark has read the CPU time
	return 0
}

// listenLoopback opens a blocking TCP listener on an ephemeral port of
// 127.0.0.1, outside Go's network poller.
func listenLoopback(backlog int) (fd, port int, err error) {
	fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, int, error) {
		_ = syscall.Close(fd)
		return -1, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind", err)
	}
	if err := syscall.Listen(fd, max(backlog, 128)); err != nil {
		return fail("listen", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		return fail("getsockname", errors.New("not an IPv4 address"))
	}
	return fd, in4.Port, nil
}

// writeFull writes b to the blocking descriptor fd: one write(2) unless a
// signal interrupts it.
func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
