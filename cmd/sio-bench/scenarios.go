package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Env is the server a scenario runs against.
type Env struct {
	Addr string      // 127.0.0.1:port
	Path string      // e.g. /socket.io/
	Proc procSampler // the server process, for RSS and CPU (pid 0: not sampled)
	Log  io.Writer   // progress lines
	// Peers are the other servers of a cluster the first one belongs to
	// (same implementation, same Redis), for the cluster scenarios.
	Peers []Peer
}

// Peer is another server of the cluster.
type Peer struct {
	Addr string      // 127.0.0.1:port, same Path as the first server
	Proc procSampler // pid 0: not sampled
}

// Sizes are the knobs of the scenarios.
type Sizes struct {
	IdleClients    int
	ConnectClients int
	Concurrency    int // dials in flight while connecting clients
	EchoClients    int
	InFlight       int // echo acks in flight per client
	BcastClients   int
	Rate           int // broadcasts per second from the driver
	Rooms          int
	RoomClients    int
	PollClients    int
	PollRate       int
	Duration       time.Duration // measured period
	Warmup         time.Duration
	Settle         time.Duration // idle: wait before sampling
}

func fullSizes() Sizes {
	return Sizes{
		IdleClients: 10000, ConnectClients: 5000, Concurrency: 50,
		EchoClients: 100, InFlight: 4,
		BcastClients: 1000, Rate: 100,
		Rooms: 10, RoomClients: 1000,
		PollClients: 50, PollRate: 50,
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Settle: 3 * time.Second,
	}
}

func quickSizes() Sizes {
	return Sizes{
		IdleClients: 300, ConnectClients: 300, Concurrency: 50,
		EchoClients: 100, InFlight: 4,
		BcastClients: 300, Rate: 100,
		Rooms: 10, RoomClients: 300,
		PollClients: 20, PollRate: 50,
		Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Settle: time.Second,
	}
}

// runScenario runs sc and logs how much CPU the load generator itself
// used: a client near one core per core of the machine distorts the
// latencies.
func runScenario(ctx context.Context, sc Scenario, env Env, sz Sizes) Result {
	self := cpuWindow{p: procSampler{pid: os.Getpid()}}
	self.Start()
	start := time.Now()
	res := sc.Run(ctx, env, sz)
	if used, ok := self.Stop(); ok {
		wall := time.Since(start)
		env.logf("  client CPU %v in %v (%.0f%% of one core)", used, wall.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds())
	}
	return res
}

// Scenario is one named load pattern.
type Scenario struct {
	Name string
	Run  func(ctx context.Context, env Env, sz Sizes) Result
	// Cluster scenarios need two servers of the same implementation
	// sharing a Redis (Env.Peers).
	Cluster bool
	// NoServer scenarios load no server (only Env.Log is used): the suite
	// runs them once per run, not once per server.
	NoServer bool
}

var scenarios = []Scenario{
	{Name: "idle", Run: runIdle},
	{Name: "connect", Run: runConnect},
	{Name: "echo", Run: func(ctx context.Context, env Env, sz Sizes) Result {
		return runEcho(ctx, env, "echo", false, sz.EchoClients, sz.InFlight, sz)
	}},
	{Name: "broadcast", Run: func(ctx context.Context, env Env, sz Sizes) Result {
		return runBroadcast(ctx, env, "broadcast", false, sz.BcastClients, sz.Rate, sz)
	}},
	{Name: "floor", Run: runFloor, NoServer: true}, // floor.go
	{Name: "room", Run: runRoom},
	{Name: "polling-echo", Run: func(ctx context.Context, env Env, sz Sizes) Result {
		return runEcho(ctx, env, "polling-echo", true, sz.PollClients, sz.InFlight, sz)
	}},
	{Name: "polling-broadcast", Run: func(ctx context.Context, env Env, sz Sizes) Result {
		return runBroadcast(ctx, env, "polling-broadcast", true, sz.PollClients, sz.PollRate, sz)
	}},
	{Name: "redis-broadcast", Run: runRedisBroadcast, Cluster: true},
}

func scenarioByName(name string) (Scenario, bool) {
	i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return scenarios[i], true
}

func (env Env) dialer(polling bool, n int) *Dialer {
	d := &Dialer{Addr: env.Addr, Path: env.Path, Polling: polling}
	if polling {
		d.poll = newPollingClient(n)
	}
	return d
}

func (env Env) logf(format string, args ...any) {
	if env.Log != nil {
		fmt.Fprintf(env.Log, format+"\n", args...)
	}
}

// fleet is the set of clients of a scenario.
type fleet struct {
	mu      sync.Mutex
	clients []*Client
}

func (f *fleet) add(c *Client) {
	f.mu.Lock()
	f.clients = append(f.clients, c)
	f.mu.Unlock()
}

func (f *fleet) all() []*Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.clients)
}

// lost counts the clients whose connection ended without Close.
func (f *fleet) lost() int {
	n := 0
	for _, c := range f.all() {
		if c.Lost() {
			n++
		}
	}
	return n
}

// closeAll closes every client, a few at a time, and waits for them.
func (f *fleet) closeAll() {
	clients := f.all()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.Close()
		})
	}
	wg.Wait()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for _, c := range clients {
		select {
		case <-c.done:
		case <-deadline.C:
			return
		}
	}
}

// connectMany dials n clients with conc dials in flight, each with the
// event handler handler(i) returns (nil: none). It stops at the first
// failure. Each dial's duration goes to lat when it is not nil.
func connectMany(ctx context.Context, d *Dialer, f *fleet, n, conc int, handler func(i int) eventFunc, lat *histogram) error {
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range max(min(conc, n), 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				var h eventFunc
				if handler != nil {
					h = handler(i)
				}
				start := time.Now()
				c, err := d.Dial(ctx, h)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("client %d: %w", i, err); cancel() })
					return
				}
				if lat != nil {
					lat.Record(time.Since(start))
				}
				c.index = i
				f.add(c)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gcStats is the acknowledgement of the contract's gc event. Goroutines
// is absent from the Node server's.
type gcStats struct {
	Goroutines *float64 `json:"goroutines"`
	Heap       float64  `json:"heap"`
}

func forceGC(ctx context.Context, c *Client) (gcStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	data, err := c.Call(ctx, "gc", "")
	if err != nil {
		return gcStats{}, err
	}
	var args []gcStats
	if err := json.Unmarshal(data, &args); err != nil || len(args) == 0 {
		return gcStats{}, fmt.Errorf("gc ack %q: not the contract's stats", truncate(data))
	}
	return args[0], nil
}

// runIdle measures the server's memory per idle WebSocket connection:
// RSS after a forced GC with N clients, minus the same with none (one
// control client, which calls gc, is connected in both samples).
func runIdle(ctx context.Context, env Env, sz Sizes) (r Result) {
	r.Scenario = "idle"
	d := env.dialer(false, 1)
	var f fleet
	defer f.closeAll()
	ctl, err := d.Dial(ctx, nil)
	if err != nil {
		r.problem("control client: %v", err)
		return r
	}
	f.add(ctl)
	gc0, err := forceGC(ctx, ctl)
	if err != nil {
		r.problem("gc: %v", err)
		return r
	}
	if sleep(ctx, sz.Settle) != nil {
		r.problem("interrupted")
		return r
	}
	rss0, rssOK := env.Proc.RSS()

	n := sz.IdleClients
	start := time.Now()
	if err := connectMany(ctx, d, &f, n, sz.Concurrency, nil, nil); err != nil {
		r.problem("connecting %d clients: %v", n, err)
		return r
	}
	env.logf("  %d clients connected in %v", n, time.Since(start).Round(time.Millisecond))
	if sleep(ctx, sz.Settle) != nil {
		r.problem("interrupted")
		return r
	}
	gcN, err := forceGC(ctx, ctl)
	if err != nil {
		r.problem("gc: %v", err)
		return r
	}
	if sleep(ctx, sz.Settle) != nil {
		r.problem("interrupted")
		return r
	}
	rssN, rssNOK := env.Proc.RSS()
	if lost := f.lost(); lost > 0 {
		r.problem("%d of %d idle connections dropped", lost, n+1)
	}
	r.add("connections", "", float64(n), true)
	if rssOK && rssNOK {
		r.add("RSS per connection", "KB", (rssN-rss0)/float64(n), false)
	}
	r.add("heap per connection", "KB", (gcN.Heap-gc0.Heap)/1024/float64(n), false)
	if gc0.Goroutines != nil && gcN.Goroutines != nil {
		r.add("goroutines per connection", "", (*gcN.Goroutines-*gc0.Goroutines)/float64(n), false)
	}
	return r
}

// runConnect measures how fast the server completes handshakes: M
// clients, C dials in flight, each counted when the namespace CONNECT
// reply arrives.
func runConnect(ctx context.Context, env Env, sz Sizes) (r Result) {
	r.Scenario = "connect"
	d := env.dialer(false, 1)
	var f fleet
	defer f.closeAll()
	var lat histogram
	cpu := cpuWindow{p: env.Proc}
	cpu.Start()
	start := time.Now()
	err := connectMany(ctx, d, &f, sz.ConnectClients, sz.Concurrency, nil, &lat)
	elapsed := time.Since(start)
	used, cpuOK := cpu.Stop()
	if err != nil {
		r.problem("connecting %d clients: %v", sz.ConnectClients, err)
	}
	n := lat.Count()
	if n == 0 {
		r.problem("no connection completed")
		return r
	}
	r.add("connections/s", "", float64(n)/elapsed.Seconds(), true)
	r.add("connect p50", "ms", lat.Quantile(0.50), false)
	r.add("connect p99", "ms", lat.Quantile(0.99), false)
	r.add("server CPU per connection", "µs", perUnit(used, cpuOK, n), false)
	return r
}

// echoPayload is the argument of every echo.
const echoPayload = `{"seq":1,"data":"0123456789abcdef0123456789abcdef"}`

// runEcho keeps inFlight echo acks outstanding on each of k clients (a new
// echo leaves as soon as one is acknowledged) and measures the acks of
// the measured period after warm-up.
func runEcho(ctx context.Context, env Env, name string, polling bool, k, inFlight int, sz Sizes) (r Result) {
	r.Scenario = name
	d := env.dialer(polling, k)
	defer d.release()
	var f fleet
	defer f.closeAll()
	if err := connectMany(ctx, d, &f, k, sz.Concurrency, nil, nil); err != nil {
		r.problem("connecting %d clients: %v", k, err)
		return r
	}
	var (
		lat       histogram
		measuring atomic.Bool
		stopping  atomic.Bool
		acked     atomic.Uint64 // during the measured period
		sendErrs  atomic.Uint64
		bad       atomic.Uint64 // acks that are not the payload echoed
	)
	var issue func(c *Client)
	issue = func(c *Client) {
		sent := time.Now()
		err := c.EmitAck("echo", echoPayload, func(data []byte) {
			rtt := time.Since(sent)
			if len(data) != len(echoPayload)+2 {
				bad.Add(1)
			}
			if measuring.Load() {
				lat.Record(rtt)
				acked.Add(1)
			}
			if !stopping.Load() {
				issue(c)
			}
		})
		if err != nil && !stopping.Load() {
			sendErrs.Add(1)
		}
	}
	for _, c := range f.all() {
		for range inFlight {
			issue(c)
		}
	}
	if sleep(ctx, sz.Warmup) != nil {
		r.problem("interrupted")
		return r
	}
	cpu := cpuWindow{p: env.Proc}
	cpu.Start()
	measuring.Store(true)
	start := time.Now()
	interrupted := sleep(ctx, sz.Duration) != nil
	measuring.Store(false)
	elapsed := time.Since(start)
	used, cpuOK := cpu.Stop()
	stopping.Store(true)
	if interrupted {
		r.problem("interrupted")
		return r
	}
	pending := waitPending(ctx, &f, 5*time.Second)

	n := acked.Load()
	if n == 0 {
		r.problem("no ack in the measured period")
	}
	if pending > 0 {
		r.problem("%d echo acks never arrived", pending)
	}
	if e := sendErrs.Load(); e > 0 {
		r.problem("%d emits failed", e)
	}
	if b := bad.Load(); b > 0 {
		r.problem("%d acks did not carry the echoed payload", b)
	}
	if lost := f.lost(); lost > 0 {
		r.problem("%d of %d clients dropped", lost, k)
	}
	r.add("acks/s", "", float64(n)/elapsed.Seconds(), true)
	r.add("p50", "ms", lat.Quantile(0.50), false)
	r.add("p99", "ms", lat.Quantile(0.99), false)
	r.add("server CPU per ack", "µs", perUnit(used, cpuOK, n), false)
	return r
}

// waitPending waits (bounded) until no client has an ack outstanding and
// returns how many remain.
func waitPending(ctx context.Context, f *fleet, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		pending := 0
		for _, c := range f.all() {
			if !c.Lost() {
				pending += c.PendingAcks()
			}
		}
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return pending
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliveries tallies the "bcast" events received by a set of clients.
type deliveries struct {
	measureFrom int64 // sequence numbers from this one on are measured
	lat         histogram
	received    atomic.Uint64 // all deliveries
	measured    atomic.Uint64 // deliveries of measured sequence numbers
	outOfOrder  atomic.Uint64 // a sequence number not above the previous one on a client
	malformed   atomic.Uint64
	wrongRoom   atomic.Uint64
	lastAt      atomic.Int64 // unix ns of the last measured delivery
}

// rate returns the measured deliveries per second: over the time from the
// first measured send to the last measured delivery, or over the sending
// schedule if that is longer (a driver that fell behind and caught up
// does not inflate the figure).
func (dv *deliveries) rate(measureStart time.Time, scheduled time.Duration) float64 {
	n := dv.measured.Load()
	if n == 0 {
		return 0
	}
	span := max(time.Duration(dv.lastAt.Load()-measureStart.UnixNano()), scheduled)
	return float64(n) / span.Seconds()
}

// handler returns the event handler of one client; room is the index of
// the client's room, or -1 to skip the room check.
func (dv *deliveries) handler(room int64) eventFunc { return dv.handlerAlso(room, nil) }

// handlerAlso is handler that also records the latency of the measured
// deliveries in also (when not nil).
func (dv *deliveries) handlerAlso(room int64, also *histogram) eventFunc {
	last := int64(-1)
	return func(_ *Client, name string, args []byte) {
		if name != "bcast" {
			return
		}
		now := time.Now().UnixNano()
		t, ok1 := jsonInt(args, "t")
		seq, ok2 := jsonInt(args, "seq")
		if !ok1 || !ok2 {
			if _, probe := jsonInt(args, "probe"); probe {
				return // a late cluster probe (awaitCluster), not a delivery
			}
			dv.malformed.Add(1)
			return
		}
		dv.received.Add(1)
		if seq <= last {
			dv.outOfOrder.Add(1)
		}
		last = seq
		if room >= 0 {
			if r, ok := jsonInt(args, "r"); !ok || r != room {
				dv.wrongRoom.Add(1)
			}
		}
		if seq >= dv.measureFrom {
			dv.measured.Add(1)
			dv.lat.Record(time.Duration(now - t))
			if also != nil {
				also.Record(time.Duration(now - t))
			}
			dv.lastAt.Store(now)
		}
	}
}

// drive emits total events at rate per second, the i-th built by build;
// onMeasure is called right before the first measured one (index from).
// It returns when that one was sent.
func drive(ctx context.Context, c *Client, total, from, rate int, build func(i int) (event, args string), onMeasure func()) (time.Time, error) {
	interval := time.Second / time.Duration(max(rate, 1))
	start := time.Now()
	var measureStart time.Time
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return time.Time{}, err
			}
		}
		if i == from {
			onMeasure()
			measureStart = time.Now()
		}
		event, args := build(i)
		if err := c.Emit(event, args); err != nil {
			return time.Time{}, fmt.Errorf("driver emit %d: %w", i, err)
		}
	}
	return measureStart, nil
}

// drainLimit bounds the wait for the last deliveries after the last send.
const drainLimit = 5 * time.Second

// waitDeliveries waits (bounded) until want deliveries have arrived.
func waitDeliveries(ctx context.Context, dv *deliveries, want uint64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for dv.received.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

func payload(i int, room int) string {
	b := make([]byte, 0, 64)
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	if room >= 0 {
		b = append(b, `,"r":`...)
		b = strconv.AppendInt(b, int64(room), 10)
	}
	return string(append(b, '}'))
}

// runBroadcast connects n receivers; one more (WebSocket) client, the
// driver, emits "bcast" at rate per second, which the server sends to
// every socket, the driver included.
func runBroadcast(ctx context.Context, env Env, name string, polling bool, n, rate int, sz Sizes) (r Result) {
	r.Scenario = name
	warm := int(sz.Warmup.Seconds() * float64(rate))
	total := warm + max(int(sz.Duration.Seconds()*float64(rate)), 1)
	dv := &deliveries{measureFrom: int64(warm)}
	d := env.dialer(polling, n)
	defer d.release()
	var f fleet
	defer f.closeAll()
	if err := connectMany(ctx, d, &f, n, sz.Concurrency, func(int) eventFunc { return dv.handler(-1) }, nil); err != nil {
		r.problem("connecting %d clients: %v", n, err)
		return r
	}
	driver, err := env.dialer(false, 1).Dial(ctx, dv.handler(-1))
	if err != nil {
		r.problem("driver: %v", err)
		return r
	}
	f.add(driver)
	receivers := uint64(n + 1)

	cpu := cpuWindow{p: env.Proc}
	measureStart, err := drive(ctx, driver, total, warm, rate,
		func(i int) (string, string) { return "bcast", payload(i, -1) },
		func() { cpu.Start() })
	if err != nil {
		r.problem("%v", err)
		return r
	}
	want := uint64(total) * receivers
	waitDeliveries(ctx, dv, want, drainLimit)
	used, cpuOK := cpu.Stop()
	got := dv.received.Load()
	measured := dv.measured.Load()

	checkDeliveries(&r, dv, want, got)
	if lost := f.lost(); lost > 0 {
		r.problem("%d of %d clients dropped", lost, n+1)
	}
	r.add("deliveries/s", "", dv.rate(measureStart, time.Duration(total-warm)*time.Second/time.Duration(max(rate, 1))), true)
	r.add("p50", "ms", dv.lat.Quantile(0.50), false)
	r.add("p99", "ms", dv.lat.Quantile(0.99), false)
	r.add("lost deliveries", "", float64(want)-float64(min(got, want)), false)
	r.add("server CPU per delivery", "µs", perUnit(used, cpuOK, measured), false)
	return r
}

func checkDeliveries(r *Result, dv *deliveries, want, got uint64) {
	switch {
	case got == 0:
		r.problem("no delivery")
	case got < want:
		r.problem("lost %d of %d deliveries (not received within %v of the last send)", want-got, want, drainLimit)
	case got > want:
		r.problem("%d deliveries more than sent", got-want)
	}
	if n := dv.outOfOrder.Load(); n > 0 {
		r.problem("%d deliveries out of order or repeated", n)
	}
	if n := dv.malformed.Load(); n > 0 {
		r.problem("%d malformed deliveries", n)
	}
	if n := dv.wrongRoom.Load(); n > 0 {
		r.problem("%d deliveries to a client outside the room", n)
	}
}

// runRoom splits the clients into rooms (client i joins room i mod G,
// acknowledged); the driver, in no room, emits "bcast-room" to room
// i mod G for its i-th event. Every delivery is checked against the
// receiver's room.
func runRoom(ctx context.Context, env Env, sz Sizes) (r Result) {
	r.Scenario = "room"
	n, g, rate := sz.RoomClients, max(sz.Rooms, 1), sz.Rate
	warm := int(sz.Warmup.Seconds() * float64(rate))
	total := warm + max(int(sz.Duration.Seconds()*float64(rate)), 1)
	dv := &deliveries{measureFrom: int64(warm)}
	var f fleet
	defer f.closeAll()
	if err := connectMany(ctx, env.dialer(false, n), &f, n, sz.Concurrency, func(i int) eventFunc { return dv.handler(int64(i % g)) }, nil); err != nil {
		r.problem("connecting %d clients: %v", n, err)
		return r
	}
	if err := joinRooms(ctx, &f, g); err != nil {
		r.problem("joining rooms: %v", err)
		return r
	}
	driver, err := env.dialer(false, 1).Dial(ctx, dv.handler(-2))
	if err != nil {
		r.problem("driver: %v", err)
		return r
	}
	f.add(driver)

	members := make([]uint64, g)
	for i := range n {
		members[i%g]++
	}
	var want uint64
	for i := range total {
		want += members[i%g]
	}
	cpu := cpuWindow{p: env.Proc}
	measureStart, err := drive(ctx, driver, total, warm, rate,
		func(i int) (string, string) {
			room := i % g
			return "bcast-room", `"r` + strconv.Itoa(room) + `",` + payload(i, room)
		},
		func() { cpu.Start() })
	if err != nil {
		r.problem("%v", err)
		return r
	}
	waitDeliveries(ctx, dv, want, drainLimit)
	used, cpuOK := cpu.Stop()
	got := dv.received.Load()
	measured := dv.measured.Load()

	checkDeliveries(&r, dv, want, got)
	if lost := f.lost(); lost > 0 {
		r.problem("%d of %d clients dropped", lost, n+1)
	}
	r.add("deliveries/s", "", dv.rate(measureStart, time.Duration(total-warm)*time.Second/time.Duration(max(rate, 1))), true)
	r.add("p50", "ms", dv.lat.Quantile(0.50), false)
	r.add("p99", "ms", dv.lat.Quantile(0.99), false)
	r.add("lost deliveries", "", float64(want)-float64(min(got, want)), false)
	r.add("wrong-room deliveries", "", float64(dv.wrongRoom.Load()), false)
	r.add("server CPU per delivery", "µs", perUnit(used, cpuOK, measured), false)
	return r
}

// joinRooms joins client i to room "r<i mod g>", all joins in flight at
// once, and waits (bounded) for every ack.
func joinRooms(ctx context.Context, f *fleet, g int) error {
	clients := f.all()
	var remaining atomic.Int64
	remaining.Store(int64(len(clients)))
	done := make(chan struct{})
	for _, c := range clients {
		err := c.EmitAck("join", `"r`+strconv.Itoa(c.index%g)+`"`, func([]byte) {
			if remaining.Add(-1) == 0 {
				close(done)
			}
		})
		if err != nil {
			return err
		}
	}
	if len(clients) == 0 {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("%d join acks missing after 15s", remaining.Load())
	case <-ctx.Done():
		return ctx.Err()
	}
}
