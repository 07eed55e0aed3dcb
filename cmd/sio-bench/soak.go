package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Soak mode (sio-bench -soak, `make soak`): a long run of a realistic mix
// against a sio server in a child process, checking that nothing is lost
// and that nothing accumulates.
//
// The mix: WebSocket and polling clients that connect, live a few seconds
// and leave, continuously (churn); while connected they join and leave
// rooms, broadcast to rooms and to everyone, ask for acknowledgements and
// for bursts of direct events; most leave gracefully, some cut their TCP
// connection without a word. A few silent clients connect, join a room and
// then neither read nor answer heartbeats: the server must reap them by
// its ping timeout. The server broadcasts on its own as well.
//
// The checks: every client follows the numbered streams of the soak server
// (soak_server.go, soak_check.go) and must see every event meant for it,
// once and in order, for as long as it is connected. The server's
// goroutines and live heap (after a GC) are sampled after a warm-up, once
// every client has left, and again at the end once every client has left;
// they must return near the first sample.

// SoakConfig sizes a soak run.
type SoakConfig struct {
	Duration     time.Duration // total load time, warm-up included
	Warmup       time.Duration // load before the baseline sample
	WSClients    int           // WebSocket clients connected at any time
	PollClients  int           // polling clients connected at any time
	Upgrading    int           // clients that connect over polling and upgrade, at any time
	Silent       int           // silent clients connected at any time
	Rooms        int
	GlobalRate   int // server broadcasts to everyone per second
	RoomRate     int // server broadcasts to a room per second
	PingInterval time.Duration
	PingTimeout  time.Duration

	// Thresholds: at the end the server may have at most GoroutineSlack
	// goroutines more than at the baseline, and a live heap at most
	// max(HeapSlack, HeapGrowth * baseline) larger.
	GoroutineSlack int
	HeapSlack      uint64
	HeapGrowth     float64
	// Settle bounds the wait for the server to return under the limits
	// once every client has left (default 30 s).
	Settle time.Duration

	Exe        string   // binary started as the server (default: this one)
	ServerArgs []string // extra server flags
	Log        io.Writer
}

// DefaultSoakConfig is the mix of `make soak`.
func DefaultSoakConfig() SoakConfig {
	return SoakConfig{
		Duration:       10 * time.Minute,
		WSClients:      40,
		PollClients:    12,
		Upgrading:      8,
		Silent:         4,
		Rooms:          6,
		GlobalRate:     10,
		RoomRate:       30,
		PingInterval:   3 * time.Second,
		PingTimeout:    6 * time.Second,
		GoroutineSlack: 20,
		HeapSlack:      8 << 20,
		HeapGrowth:     0.25,
		Settle:         30 * time.Second,
	}
}

// soakFlags registers the soak's flags on fs; the benchmark's -duration
// is the soak's total time.
type soakFlags struct {
	enabled           *bool
	ws, poll, silent  *int
	upgrading         *int
	globalRate        *int
	roomRate          *int
	pingInterval      *time.Duration
	pingTimeout       *time.Duration
	warmup            *time.Duration
	goroutineSlack    *int
	heapSlackMiB      *int
	heapGrowthPercent *int
	serverArgs        *string
}

func registerSoakFlags(fs *flag.FlagSet) *soakFlags {
	d := DefaultSoakConfig()
	return &soakFlags{
		enabled:           fs.Bool("soak", false, "soak mode: churn, rooms, broadcasts, acks and cut connections for -duration (default 10m), then check deliveries and that the server's goroutines and heap returned to baseline"),
		ws:                fs.Int("soak-ws", d.WSClients, "soak: WebSocket clients at any time"),
		poll:              fs.Int("soak-polling", d.PollClients, "soak: polling clients at any time"),
		silent:            fs.Int("soak-silent", d.Silent, "soak: clients that stop reading and answering heartbeats"),
		upgrading:         fs.Int("soak-upgrade", d.Upgrading, "soak: clients that connect over polling and upgrade to WebSocket"),
		globalRate:        fs.Int("soak-global-rate", d.GlobalRate, "soak: server broadcasts to everyone per second"),
		roomRate:          fs.Int("soak-room-rate", d.RoomRate, "soak: server broadcasts to a room per second"),
		pingInterval:      fs.Duration("soak-ping-interval", d.PingInterval, "soak: the server's heartbeat period"),
		pingTimeout:       fs.Duration("soak-ping-timeout", d.PingTimeout, "soak: the server's heartbeat timeout"),
		warmup:            fs.Duration("soak-warmup", 0, "soak: load before the baseline sample (default: a sixth of -duration, 5s to 30s)"),
		goroutineSlack:    fs.Int("soak-goroutines", d.GoroutineSlack, "soak: goroutines allowed above the baseline at the end"),
		heapSlackMiB:      fs.Int("soak-heap-mib", int(d.HeapSlack>>20), "soak: live heap allowed above the baseline at the end, MiB (or -soak-heap-percent of it, if more)"),
		heapGrowthPercent: fs.Int("soak-heap-percent", int(d.HeapGrowth*100), "soak: live heap growth allowed at the end, percent of the baseline"),
		serverArgs:        fs.String("soak-server-args", "", "soak: extra flags for the server process, space-separated"),
	}
}

func (f *soakFlags) config(duration time.Duration, log io.Writer) SoakConfig {
	cfg := DefaultSoakConfig()
	if duration > 0 {
		cfg.Duration = duration
	}
	cfg.Warmup = *f.warmup
	cfg.WSClients, cfg.PollClients, cfg.Silent = *f.ws, *f.poll, *f.silent
	cfg.Upgrading = *f.upgrading
	cfg.GlobalRate, cfg.RoomRate = *f.globalRate, *f.roomRate
	cfg.PingInterval, cfg.PingTimeout = *f.pingInterval, *f.pingTimeout
	cfg.GoroutineSlack = *f.goroutineSlack
	cfg.HeapSlack = uint64(*f.heapSlackMiB) << 20
	cfg.HeapGrowth = float64(*f.heapGrowthPercent) / 100
	cfg.ServerArgs = strings.Fields(*f.serverArgs)
	cfg.Log = log
	return cfg
}

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Problems []string
	Text     string // the printed report
}

// soakRun is the state of one run.
type soakRun struct {
	cfg    SoakConfig
	addr   string
	path   string
	stats  *http.Client
	ws     *Dialer
	poll   *Dialer
	k      soakCounters
	start  time.Time
	server *serverProc

	peakMu       sync.Mutex
	peakSessions int
	peakGor      int
	peakHeap     uint64
}

func (r *soakRun) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

// RunSoak starts the server process, runs the soak and returns its report.
func RunSoak(ctx context.Context, cfg SoakConfig) (SoakReport, error) {
	if cfg.Warmup <= 0 {
		cfg.Warmup = min(max(cfg.Duration/6, 5*time.Second), 30*time.Second)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 30 * time.Second
	}
	if cfg.Warmup >= cfg.Duration {
		return SoakReport{}, fmt.Errorf("soak: the warm-up (%v) must be shorter than the duration (%v)", cfg.Warmup, cfg.Duration)
	}
	exe := cfg.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return SoakReport{}, err
		}
	}
	argv := []string{exe,
		"-ping-interval", cfg.PingInterval.String(), "-ping-timeout", cfg.PingTimeout.String(),
		"-rooms", strconv.Itoa(cfg.Rooms),
		"-global-rate", strconv.Itoa(cfg.GlobalRate), "-room-rate", strconv.Itoa(cfg.RoomRate),
	}
	argv = append(argv, cfg.ServerArgs...)
	proc, err := startServer(ctx, "soak server", argv, "", append(os.Environ(), soakServeEnv+"=1"))
	if err != nil {
		return SoakReport{}, err
	}
	defer proc.Stop()

	r := &soakRun{
		cfg:    cfg,
		addr:   proc.Addr(),
		path:   "/socket.io/",
		stats:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second},
		server: proc,
	}
	r.ws = &Dialer{Addr: r.addr, Path: r.path, Timeout: 15 * time.Second}
	r.poll = &Dialer{Addr: r.addr, Path: r.path, Polling: true, Timeout: 15 * time.Second, poll: newPollingClient(cfg.PollClients + cfg.Upgrading + cfg.Silent)}
	return r.run(ctx)
}

func (r *soakRun) run(ctx context.Context) (SoakReport, error) {
	cfg := r.cfg
	r.start = time.Now()
	r.logf("soak: %v (warm-up %v), %d WebSocket, %d polling, %d upgrading, %d silent clients, %d rooms, server %s (pid %d)",
		cfg.Duration, cfg.Warmup, cfg.WSClients, cfg.PollClients, cfg.Upgrading, cfg.Silent, cfg.Rooms, r.addr, r.server.PID())

	// Warm-up: the same mix, so that pools, timers and caches are at
	// their working size, then every client leaves.
	if err := r.phase(ctx, "warm-up", cfg.Warmup); err != nil {
		return SoakReport{}, err
	}
	base, err := r.baseline(ctx)
	if err != nil {
		return SoakReport{}, err
	}
	r.logf("  baseline: %d goroutines, live heap %s", base.Goroutines, mib(base.HeapAlloc))

	if err := r.phase(ctx, "load", cfg.Duration-cfg.Warmup); err != nil {
		return SoakReport{}, err
	}
	heapLimit := base.HeapAlloc + max(cfg.HeapSlack, uint64(float64(base.HeapAlloc)*cfg.HeapGrowth))
	gorLimit := base.Goroutines + cfg.GoroutineSlack
	// Under the limits, and still for three samples in a row (pooled
	// goroutines exit after a second idle), so that the report shows
	// where the server settles.
	var prev soakStats
	stable := 0
	end, settled, err := r.settle(ctx, func(st soakStats) bool {
		if st.Goroutines == prev.Goroutines {
			stable++
		} else {
			stable = 0
		}
		prev = st
		return stable >= 3 && st.Goroutines <= gorLimit && st.HeapAlloc <= heapLimit
	}, cfg.Settle)
	if err != nil {
		return SoakReport{}, err
	}
	return r.report(base, end, settled, gorLimit, heapLimit), nil
}

// phase runs the mix for d, then makes every client leave.
func (r *soakRun) phase(ctx context.Context, name string, d time.Duration) error {
	if err := r.setLoad(ctx, true); err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range r.cfg.WSClients {
		wg.Go(func() { r.clientSlot(ctx, stop, kindWebSocket, fmt.Sprintf("ws%d", i)) })
	}
	for i := range r.cfg.PollClients {
		wg.Go(func() { r.clientSlot(ctx, stop, kindPolling, fmt.Sprintf("poll%d", i)) })
	}
	for i := range r.cfg.Upgrading {
		wg.Go(func() { r.clientSlot(ctx, stop, kindUpgrading, fmt.Sprintf("up%d", i)) })
	}
	for i := range r.cfg.Silent {
		wg.Go(func() { r.silentSlot(ctx, stop, i%2 == 1, fmt.Sprintf("silent%d", i)) })
	}
	// Progress lines: six per phase, 5 s to 30 s apart.
	every := min(max(d/6, 5*time.Second), 30*time.Second)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := sleep(ctx, min(every, time.Until(deadline))); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		if st, err := r.sample(ctx, true); err == nil {
			r.logf("  %-7s t=%-4v sessions %-4d goroutines %-5d live heap %-9s deliveries %d, violations %d",
				name, time.Since(r.start).Round(time.Second), st.Sessions, st.Goroutines, mib(st.HeapAlloc),
				r.k.global.Load()+r.k.room.Load()+r.k.direct.Load(), r.k.violations.Load())
		}
		if r.server.Exited() {
			close(stop)
			wg.Wait()
			return fmt.Errorf("the server exited:\n%s", lastLines(r.server.out.String(), 20))
		}
	}
	close(stop)
	wg.Wait()
	return r.setLoad(ctx, false)
}

// baseline waits for the server to have no session left and for its
// goroutine count to hold still, and samples it.
func (r *soakRun) baseline(ctx context.Context) (soakStats, error) {
	var prev soakStats
	stable := 0
	st, settled, err := r.settle(ctx, func(st soakStats) bool {
		// Idle pooled goroutines exit after a second: wait for three
		// samples in a row without change.
		if st.Goroutines == prev.Goroutines {
			stable++
		} else {
			stable = 0
		}
		prev = st
		return stable >= 3
	}, 15*time.Second)
	if err != nil {
		return st, err
	}
	if !settled && (st.Sessions != 0 || st.Sockets != 0) {
		return st, fmt.Errorf("after the warm-up the server still has %d sessions and %d sockets", st.Sessions, st.Sockets)
	}
	return st, nil
}

// settle waits until the server has no session and no socket left and
// cond holds, for at most limit once the sessions are gone. It returns the
// last sample and whether everything held.
func (r *soakRun) settle(ctx context.Context, cond func(soakStats) bool, limit time.Duration) (soakStats, bool, error) {
	// Silent polling clients are only noticed by the heartbeat.
	empty := time.Now().Add(r.cfg.PingInterval + r.cfg.PingTimeout + 15*time.Second)
	var deadline time.Time
	for {
		r.poll.release()
		st, err := r.sample(ctx, true)
		if err != nil {
			return st, false, err
		}
		gone := st.Sessions == 0 && st.Sockets == 0
		if gone && deadline.IsZero() {
			deadline = time.Now().Add(limit)
		}
		if gone && cond(st) {
			return st, true, nil
		}
		if (!gone && time.Now().After(empty)) || (!deadline.IsZero() && time.Now().After(deadline)) {
			return st, false, nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return st, false, err
		}
	}
}

func (r *soakRun) sample(ctx context.Context, gc bool) (soakStats, error) {
	u := "http://" + r.addr + "/soak/stats"
	if gc {
		u += "?gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return soakStats{}, err
	}
	resp, err := r.stats.Do(req)
	if err != nil {
		return soakStats{}, fmt.Errorf("server stats: %w", err)
	}
	defer resp.Body.Close()
	var st soakStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("server stats: %w", err)
	}
	r.peakMu.Lock()
	r.peakSessions = max(r.peakSessions, st.Sessions)
	r.peakGor = max(r.peakGor, st.Goroutines)
	r.peakHeap = max(r.peakHeap, st.HeapAlloc)
	r.peakMu.Unlock()
	return st, nil
}

func (r *soakRun) setLoad(ctx context.Context, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/soak/load?on="+v, nil)
	if err != nil {
		return err
	}
	resp, err := r.stats.Do(req)
	if err != nil {
		return fmt.Errorf("server load switch: %w", err)
	}
	resp.Body.Close()
	return nil
}

// goroutineDump returns the server's goroutines grouped by stack.
func (r *soakRun) goroutineDump(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := r.stats.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(b)
}

// ---------------------------------------------------------------------------
// Clients

const (
	soakAckTimeout = 20 * time.Second
	soakCutShare   = 0.2 // share of clients that leave by cutting TCP
)

var errConnEnded = errors.New("connection ended")

// soakCall emits event and waits for its acknowledgement; onAck runs on
// the reader goroutine, in order with the events.
func soakCall(ctx context.Context, c *Client, event, args string, onAck func([]byte)) error {
	got := make(chan struct{})
	if err := c.EmitAck(event, args, func(data []byte) {
		if onAck != nil {
			onAck(data)
		}
		close(got)
	}); err != nil {
		return err
	}
	t := time.NewTimer(soakAckTimeout)
	defer t.Stop()
	select {
	case <-got:
		return nil
	case <-c.done:
		select {
		case <-got:
			return nil
		default:
		}
		return errConnEnded
	case <-t.C:
		return context.DeadlineExceeded
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kinds of clients.
const (
	kindWebSocket = iota
	kindPolling
	kindUpgrading
)

// clientSlot keeps one client of a kind connected, replacing it when it
// leaves, until stop is closed.
func (r *soakRun) clientSlot(ctx context.Context, stop <-chan struct{}, kind int, name string) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		who := fmt.Sprintf("%s/%d", name, n)
		tr := newSoakTracker(&r.k, who)
		var c *Client
		var err error
		var upgraded chan error
		switch kind {
		case kindWebSocket:
			c, err = r.ws.Dial(ctx, tr.onEvent)
		case kindPolling:
			c, err = r.poll.Dial(ctx, tr.onEvent)
		default:
			upgraded = make(chan error, 1)
			c, err = dialUpgrading(ctx, r.poll, tr.onEvent, upgraded)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.k.dialErrors.Add(1)
			r.k.note("%s: dial: %v", who, err)
			_ = sleep(ctx, 500*time.Millisecond)
			continue
		}
		[]*atomic.Int64{&r.k.wsConnects, &r.k.pollConnects, &r.k.upConnects}[kind].Add(1)
		life := time.Duration(1000+rand.IntN(5000)) * time.Millisecond
		ok := r.live(ctx, stop, c, tr, who, time.Now().Add(life))
		if ok && upgraded != nil {
			ok = r.upgradeDone(ctx, c, who, upgraded)
		}
		if !ok {
			c.Close()
			continue
		}
		stopping := false
		select {
		case <-stop:
			stopping = true
		default:
		}
		if !stopping && rand.Float64() < soakCutShare {
			cutClient(c)
			r.k.cuts.Add(1)
			continue
		}
		err = soakCall(ctx, c, "bye", "", tr.bye)
		if r.callFailed(ctx, c, who, "bye", err) {
			c.Close()
			continue
		}
		r.k.acks.Add(1)
		c.Close()
		r.k.graceful.Add(1)
	}
}

// upgradeDone waits for an upgrading client's upgrade to end and accounts
// for it; it reports whether the client is still usable.
func (r *soakRun) upgradeDone(ctx context.Context, c *Client, who string, upgraded <-chan error) bool {
	select {
	case err := <-upgraded:
		if err == nil {
			r.k.upgrades.Add(1)
			return true
		}
		if c.Lost() {
			return false // the connection ended first: counted as a drop
		}
		r.k.upgradeErrors.Add(1)
		r.k.note("%s: upgrade: %v", who, err)
	case <-time.After(soakAckTimeout):
		r.k.upgradeErrors.Add(1)
		r.k.note("%s: upgrade not done within %v", who, soakAckTimeout)
	case <-ctx.Done():
	}
	return false
}

// callFailed accounts for a failed call; it reports whether err is one.
func (r *soakRun) callFailed(ctx context.Context, c *Client, who, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case ctx.Err() != nil:
	case errors.Is(err, errConnEnded) || c.Lost():
		r.k.drops.Add(1)
		r.k.note("%s: connection ended during %s: %v", who, what, c.endErr)
	case errors.Is(err, context.DeadlineExceeded):
		r.k.ackTimeouts.Add(1)
		r.k.note("%s: no ack for %s within %v", who, what, soakAckTimeout)
	default:
		r.k.drops.Add(1)
		r.k.note("%s: %s: %v", who, what, err)
	}
	return true
}

// live runs random actions until the deadline or stop; it reports whether
// the client is still in a state to leave normally.
func (r *soakRun) live(ctx context.Context, stop <-chan struct{}, c *Client, tr *soakTracker, who string, until time.Time) bool {
	rooms := int64(max(r.cfg.Rooms, 1))
	for time.Now().Before(until) {
		pause := time.Duration(20+rand.IntN(180)) * time.Millisecond
		select {
		case <-stop:
			return true
		case <-ctx.Done():
			return false
		case <-c.done:
			r.k.drops.Add(1)
			r.k.note("%s: connection ended: %v", who, c.endErr)
			return false
		case <-time.After(pause):
		}
		var err error
		var what string
		switch p := rand.IntN(100); {
		case p < 30:
			what = "echo"
			v := `{"e":` + strconv.Itoa(rand.IntN(1e6)) + `}`
			err = soakCall(ctx, c, "echo", v, func(ack []byte) { tr.echoed(v, ack) })
		case p < 50:
			what = "join"
			room := rand.Int64N(rooms)
			if slicesContain(tr.joinedRooms(), room) {
				continue
			}
			err = soakCall(ctx, c, "join", strconv.FormatInt(room, 10), func(ack []byte) { tr.joined(room, ack) })
			r.k.joins.Add(1)
		case p < 62:
			what = "leave"
			joined := tr.joinedRooms()
			if len(joined) == 0 {
				continue
			}
			room := joined[rand.IntN(len(joined))]
			err = soakCall(ctx, c, "leave", strconv.FormatInt(room, 10), func(ack []byte) { tr.left(room, ack) })
			r.k.leaves.Add(1)
		case p < 80:
			what = "shout"
			err = soakCall(ctx, c, "shout", strconv.FormatInt(rand.Int64N(rooms), 10), nil)
			r.k.shouts.Add(1)
		case p < 85:
			what = "global"
			err = soakCall(ctx, c, "global", "", nil)
		default:
			what = "burst"
			tr.armBurst()
			err = soakCall(ctx, c, "burst", strconv.Itoa(1+rand.IntN(30)), tr.burstDone)
		}
		if r.callFailed(ctx, c, who, what, err) {
			return false
		}
		r.k.acks.Add(1)
	}
	return true
}

func slicesContain(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// cutClient ends a client's connection without a close packet: the
// WebSocket's TCP connection is closed, the polling client's requests
// (the long-poll in flight) are aborted.
func cutClient(c *Client) {
	c.closing.Store(true)
	switch t := c.tr.(type) {
	case *wsTransport:
		t.wmu.Lock()
		t.closed = true
		t.wmu.Unlock()
		_ = t.conn.Close()
	case *pollTransport:
		t.shutdown()
	case *upgradeTransport:
		t.cut()
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

// silentSlot keeps one silent client connected until stop: it connects,
// joins a room, then neither reads nor answers heartbeats. The server must
// end its session by the ping timeout, which is checked after that time.
func (r *soakRun) silentSlot(ctx context.Context, stop <-chan struct{}, polling bool, name string) {
	hb := r.cfg.PingInterval + r.cfg.PingTimeout
	hold := hb + max(2*time.Second, hb/2)
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		who := fmt.Sprintf("%s/%d", name, n)
		room := strconv.Itoa(rand.IntN(max(r.cfg.Rooms, 1)))
		var err error
		if polling {
			err = r.silentPolling(ctx, stop, room, hold)
		} else {
			err = r.silentWebSocket(ctx, stop, room, hold)
		}
		switch {
		case errors.Is(err, errStopped) || ctx.Err() != nil:
			return
		case errors.Is(err, errNotReaped):
			r.k.ghosts.Add(1)
			r.k.ghostsNotReaped.Add(1)
			r.k.note("%s: %v", who, err)
		case err != nil:
			r.k.dialErrors.Add(1)
			r.k.note("%s: %v", who, err)
			_ = sleep(ctx, 500*time.Millisecond)
		default:
			r.k.ghosts.Add(1)
			r.k.ghostsReaped.Add(1)
		}
	}
}

var (
	errStopped   = errors.New("stopped")
	errNotReaped = errors.New("the server kept the session of a silent client past its ping timeout")
)

// holdSilent waits d, or until stop.
func holdSilent(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-stop:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *soakRun) silentWebSocket(ctx context.Context, stop <-chan struct{}, room string, hold time.Duration) error {
	var nd net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := nd.DialContext(dctx, "tcp", r.addr)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	var key [16]byte
	_, _ = crand.Read(key[:])
	wsKey := base64.StdEncoding.EncodeToString(key[:])
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, "GET "+r.path+"?EIO=4&transport=websocket HTTP/1.1\r\nHost: "+r.addr+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+wsKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReader(conn)
	if err := readUpgradeResponse(br, wsKey); err != nil {
		return err
	}
	t := &wsTransport{conn: conn, br: br, seed: 0x9E3779B97F4A7C15}
	if err := t.send([]byte("40")); err != nil {
		return err
	}
	if err := t.send(appendEvent(nil, "join", room, 0, true)); err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	if err := holdSilent(ctx, stop, hold); err != nil {
		return err
	}
	// The server must have ended the connection: what it wrote before is
	// still to read, then the end.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errNotReaped
	}
	return nil
}

func (r *soakRun) silentPolling(ctx context.Context, stop <-chan struct{}, room string, hold time.Duration) error {
	hc := r.poll.poll.hc
	base := "http://" + r.addr + r.path + "?EIO=4&transport=polling"
	get := func(u string) (int, []byte, error) {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b, err
	}
	status, body, err := get(base)
	if err != nil {
		return err
	}
	var open struct {
		SID string `json:"sid"`
	}
	if status != http.StatusOK || len(body) < 2 || body[0] != '0' || json.Unmarshal(body[1:], &open) != nil || open.SID == "" {
		return fmt.Errorf("polling handshake: %d %q", status, truncate(body))
	}
	t := &pollTransport{hc: hc, url: base + "&sid=" + open.SID}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = t.post(pctx, append([]byte("40\x1e"), appendEvent(nil, "join", room, 0, true)...))
	cancel()
	if err != nil {
		return err
	}
	if err := holdSilent(ctx, stop, hold); err != nil {
		return err
	}
	status, body, err = get(t.url)
	if err != nil {
		return err
	}
	if status == http.StatusBadRequest && strings.Contains(string(body), `"code":1`) {
		return nil // Session ID unknown: reaped
	}
	return fmt.Errorf("%w (poll after %v: %d %q)", errNotReaped, hold, status, truncate(body))
}

// ---------------------------------------------------------------------------
// Report

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r *soakRun) report(base, end soakStats, settled bool, gorLimit int, heapLimit uint64) SoakReport {
	cfg, k := r.cfg, &r.k
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if end.Sessions != 0 || end.Sockets != 0 {
		problem("%d sessions and %d sockets left on the server after every client left", end.Sessions, end.Sockets)
	}
	if end.Rooms != 0 {
		problem("%d rooms left on the server after every client left", end.Rooms)
	}
	if end.Goroutines > gorLimit {
		problem("server goroutines did not return to baseline: %d, baseline %d, limit %d", end.Goroutines, base.Goroutines, gorLimit)
	}
	if end.HeapAlloc > heapLimit {
		problem("server live heap did not return to baseline: %s, baseline %s, limit %s", mib(end.HeapAlloc), mib(base.HeapAlloc), mib(heapLimit))
	}
	if end.Connections != end.Disconnects {
		problem("server ran %d connection handlers and %d disconnect handlers", end.Connections, end.Disconnects)
	}
	if end.Errors > 0 {
		problem("%d errors reported by the server (Config.OnError):\n%s", end.Errors, lastLines(strings.TrimSpace(r.server.out.String()), 10))
	}
	if out := r.server.out.String(); strings.Contains(out, "DATA RACE") {
		problem("the race detector reported a data race in the server:\n%s", lastLines(strings.TrimSpace(out), 40))
	}
	if n := k.violations.Load(); n > 0 {
		problem("%d delivery violations (lost, duplicated, reordered or misrouted events)", n)
	}
	if n := k.drops.Load(); n > 0 {
		problem("%d connections ended by the server or failed while the client was active", n)
	}
	if n := k.ackTimeouts.Load(); n > 0 {
		problem("%d acknowledgements did not arrive within %v", n, soakAckTimeout)
	}
	if n := k.upgradeErrors.Load(); n > 0 {
		problem("%d upgrades from polling to WebSocket failed", n)
	}
	if n := k.dialErrors.Load(); n > 0 {
		problem("%d connection attempts failed", n)
	}
	if n := k.ghostsNotReaped.Load(); n > 0 {
		problem("%d silent clients were not disconnected within the heartbeat timeout", n)
	}
	connects := k.wsConnects.Load() + k.pollConnects.Load() + k.upConnects.Load()
	delivered := k.global.Load() + k.room.Load() + k.direct.Load()
	if connects == 0 || delivered == 0 || k.graceful.Load() == 0 {
		problem("no load ran: %d connections, %d deliveries, %d graceful closes", connects, delivered, k.graceful.Load())
	}
	if cfg.Upgrading > 0 && k.upgrades.Load() == 0 {
		problem("no client upgraded to WebSocket")
	}
	if cfg.Silent > 0 && k.ghosts.Load() == 0 && cfg.Duration > 3*(cfg.PingInterval+cfg.PingTimeout) {
		problem("no silent client lived long enough to be checked")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "soak %v (warm-up %v): %d WebSocket, %d polling, %d upgrading and %d silent clients at a time, %d rooms, heartbeat %v/%v\n",
		cfg.Duration, cfg.Warmup, cfg.WSClients, cfg.PollClients, cfg.Upgrading, cfg.Silent, cfg.Rooms, cfg.PingInterval, cfg.PingTimeout)
	fmt.Fprintf(&b, "  connections  %d (WebSocket %d, polling %d, polling then WebSocket %d, %d upgrades): %d closed, %d cut\n",
		connects, k.wsConnects.Load(), k.pollConnects.Load(), k.upConnects.Load(), k.upgrades.Load(), k.graceful.Load(), k.cuts.Load())
	fmt.Fprintf(&b, "  silent       %d, disconnected by the server within the heartbeat timeout: %d\n", k.ghosts.Load(), k.ghostsReaped.Load())
	fmt.Fprintf(&b, "  deliveries   %d checked: global %d, room %d, direct %d; server numbered %d global and %d room events\n",
		delivered, k.global.Load(), k.room.Load(), k.direct.Load(), end.Global, end.RoomEvents)
	fmt.Fprintf(&b, "  acks         %d (joins %d, leaves %d, shouts %d)\n", k.acks.Load(), k.joins.Load(), k.leaves.Load(), k.shouts.Load())
	fmt.Fprintf(&b, "  failures     %d violations, %d dropped, %d ack timeouts, %d dial errors, %d upgrade errors, %d not reaped, %d server errors\n",
		k.violations.Load(), k.drops.Load(), k.ackTimeouts.Load(), k.dialErrors.Load(), k.upgradeErrors.Load(), k.ghostsNotReaped.Load(), end.Errors)
	r.peakMu.Lock()
	fmt.Fprintf(&b, "  server       peak %d sessions, %d goroutines, live heap %s; %d connection and %d disconnect handlers\n",
		r.peakSessions, r.peakGor, mib(r.peakHeap), end.Connections, end.Disconnects)
	r.peakMu.Unlock()
	fmt.Fprintf(&b, "  goroutines   baseline %d, end %d (limit %d)\n", base.Goroutines, end.Goroutines, gorLimit)
	fmt.Fprintf(&b, "  live heap    baseline %s, end %s (limit %s)\n", mib(base.HeapAlloc), mib(end.HeapAlloc), mib(heapLimit))
	if !settled {
		fmt.Fprintf(&b, "  (the server did not settle within %v)\n", cfg.Settle)
	}
	for _, n := range k.firstNotes() {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "  PROBLEM: %s\n", p)
	}
	if len(problems) == 0 {
		b.WriteString("soak: PASS\n")
	} else {
		if end.Goroutines > gorLimit {
			fmt.Fprintf(&b, "server goroutines at the end:\n%s\n", firstLines(r.goroutineDump(context.Background()), 80))
		}
		b.WriteString("soak: FAIL\n")
	}
	return SoakReport{Problems: problems, Text: b.String()}
}

// runSoak is the -soak entry point of the command.
func runSoak(ctx context.Context, cfg SoakConfig, stdout, stderr io.Writer) int {
	rep, err := RunSoak(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.Text)
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
