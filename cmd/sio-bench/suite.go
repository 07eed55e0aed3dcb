package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A server process of the benchmark contract: started on a free port of
// 127.0.0.1, ready once it prints "LISTENING <port>", stopped (and killed
// if it does not stop) at the end.
type serverProc struct {
	name   string
	cmd    *exec.Cmd
	port   int
	out    *tailBuffer
	stdin  io.WriteCloser // startProcess only
	exited chan struct{}
}

// tailBuffer keeps the last bytes written to it, and hands complete
// lines to onLine.
type tailBuffer struct {
	mu     sync.Mutex
	buf    []byte
	line   []byte
	onLine func(string)
}

const tailSize = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	if t.onLine != nil {
		t.line = append(t.line, p...)
		for {
			i := bytes.IndexByte(t.line, '\n')
			if i < 0 {
				break
			}
			t.onLine(strings.TrimSpace(string(t.line[:i])))
			t.line = t.line[i+1:]
		}
		if len(t.line) > tailSize {
			t.line = t.line[:0]
		}
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func startServer(ctx context.Context, name string, argv []string, dir string, env []string) (*serverProc, error) {
	return startProcess(ctx, name, argv, dir, env, nil)
}

// startProcess is startServer for a process that also talks with the
// benchmark: when onLine is not nil, it sees every line the process
// prints, and the process's stdin is a pipe (serverProc.stdin).
func startProcess(ctx context.Context, name string, argv []string, dir string, env []string, onLine func(string)) (*serverProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	// The server dies with the benchmark even if the benchmark is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ports := make(chan int, 1)
	out := &tailBuffer{}
	out.onLine = func(line string) {
		if onLine != nil {
			onLine(line)
		}
		if rest, ok := strings.CutPrefix(line, "LISTENING "); ok {
			if p, err := strconv.Atoi(rest); err == nil {
				select {
				case ports <- p:
				default:
				}
			}
		}
	}
	cmd.Stdout = out
	cmd.Stderr = out
	var stdin io.WriteCloser
	if onLine != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &serverProc{name: name, cmd: cmd, out: out, stdin: stdin, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.port = <-ports:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %s\n%s", name, cmd.ProcessState, out)
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("%s did not print LISTENING within 30s:\n%s", name, out)
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

func (p *serverProc) PID() int { return p.cmd.Process.Pid }

func (p *serverProc) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// Stop asks the server to exit and kills it after 3 s.
func (p *serverProc) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Exited reports whether the server stopped on its own.
func (p *serverProc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// serverKind knows how to start one of the compared servers: alone
// (redis empty), or as a node of a cluster on the Redis at redis, under
// the channel prefix key.
type serverKind struct {
	Name  string
	start func(ctx context.Context, redis, key string) (*serverProc, error)
}

// SuiteConfig configures Suite.
type SuiteConfig struct {
	Root       string   // module root (holds bench/ and node_modules/)
	Servers    []string // "sio", "node"
	Scenarios  []string
	Runs       int
	Sizes      Sizes
	Quick      bool
	SioBinary  string // prebuilt bench/sio-server; empty: build it
	Node       string // node executable
	PingMillis int    // heartbeat for both servers (0: their default)
	Redis      string // Redis of the cluster scenarios (host:port)
	Log        io.Writer
}

// table collects the metrics of every run: one row per scenario and
// metric, in first-seen order, with each server's values.
type table struct {
	rows   []row
	values map[[3]string][]float64 // server, scenario, metric
}

// A row's noServer is true for the measurements of no server (the
// floor), added with server "".
type row struct {
	scenario, metric, unit string
	noServer               bool
}

func (t *table) add(server, scenario string, m Metric) {
	if t.values == nil {
		t.values = map[[3]string][]float64{}
	}
	r := row{scenario, m.Name, m.Unit, server == ""}
	if !slices.Contains(t.rows, r) {
		t.rows = append(t.rows, r)
	}
	k := [3]string{server, scenario, m.Name}
	t.values[k] = append(t.values[k], m.Value)
}

func (t *table) median(server, scenario, metric string) float64 {
	return median(t.values[[3]string{server, scenario, metric}])
}

// withFloor adds the floor right after broadcast when broadcast is in
// names and the floor is not.
func withFloor(names []string) []string {
	i := slices.Index(names, "broadcast")
	if i < 0 || slices.Contains(names, "floor") {
		return names
	}
	return slices.Insert(slices.Clone(names), i+1, "floor")
}

// Suite runs every scenario against each server, one server process at a
// time (a fresh one per scenario run), and writes the comparison table
// to out. It returns the problems found. The scenarios of no server (the
// floor, added after broadcast) run once per run, in the first server's
// turn.
func Suite(ctx context.Context, cfg SuiteConfig, out io.Writer) ([]string, error) {
	cfg.Scenarios = withFloor(cfg.Scenarios)
	needServers := slices.ContainsFunc(cfg.Scenarios, func(name string) bool {
		sc, ok := scenarioByName(name)
		return !ok || !sc.NoServer
	})
	env := os.Environ()
	if cfg.PingMillis > 0 {
		env = append(env, "PING_INTERVAL_MS="+strconv.Itoa(cfg.PingMillis))
	}
	var kinds []serverKind
	for _, name := range cfg.Servers {
		switch name {
		case "sio":
			bin := cfg.SioBinary
			if bin == "" && needServers {
				dir, err := os.MkdirTemp("", "sio-bench-")
				if err != nil {
					return nil, err
				}
				defer os.RemoveAll(dir)
				bin = filepath.Join(dir, "sio-server")
				fmt.Fprintf(cfg.Log, "building ./bench/sio-server\n")
				build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/sio-server")
				build.Dir = cfg.Root
				if msg, err := build.CombinedOutput(); err != nil {
					return nil, fmt.Errorf("building bench/sio-server: %v\n%s", err, msg)
				}
			}
			kinds = append(kinds, serverKind{"sio", func(ctx context.Context, redis, key string) (*serverProc, error) {
				argv := []string{bin, "-port", "0"}
				if redis != "" {
					argv = append(argv, "-redis", redis, "-redis-key", key)
				}
				return startServer(ctx, "sio", argv, cfg.Root, env)
			}})
		case "node":
			script := filepath.Join(cfg.Root, "bench", "node-server.mjs")
			kinds = append(kinds, serverKind{"node", func(ctx context.Context, redis, key string) (*serverProc, error) {
				argv := []string{cfg.Node, "--expose-gc", script, "--port", "0"}
				if redis != "" {
					argv = append(argv, "--redis", redis, "--redis-key", key)
				}
				return startServer(ctx, "node", argv, cfg.Root, env)
			}})
		default:
			return nil, fmt.Errorf("unknown server %q (want sio or node)", name)
		}
	}

	// The cluster scenarios need Redis: without it they fail at once.
	var redisErr error
	for _, name := range cfg.Scenarios {
		if sc, ok := scenarioByName(name); ok && sc.Cluster {
			if cfg.Redis == "" {
				cfg.Redis = defaultRedis
			}
			if pong, err := redisQuery(ctx, cfg.Redis, "PING"); err != nil || pong != "PONG" {
				redisErr = fmt.Errorf("no answer from Redis at %s (%v): start it, point -redis at it, or leave %s out (-scenario)", cfg.Redis, err, name)
			}
			break
		}
	}

	var tab table
	var problems []string
	noServerDone := map[string]bool{}
	for _, kind := range kinds {
		for _, name := range cfg.Scenarios {
			sc, ok := scenarioByName(name)
			if !ok {
				return nil, fmt.Errorf("unknown scenario %q", name)
			}
			if sc.NoServer {
				if !noServerDone[name] {
					noServerDone[name] = true
					problems = runNoServer(ctx, sc, cfg, &tab, problems)
				}
				continue
			}
			for run := 1; run <= cfg.Runs; run++ {
				if ctx.Err() != nil {
					return problems, ctx.Err()
				}
				fmt.Fprintf(cfg.Log, "%s %s run %d/%d\n", kind.Name, sc.Name, run, cfg.Runs)
				var res Result
				var err error
				switch {
				case !sc.Cluster:
					res, err = runOnce(ctx, kind, sc, cfg)
				case redisErr != nil:
					err = redisErr
				default:
					res, err = runCluster(ctx, kind, sc, cfg)
				}
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s %s run %d: %v", kind.Name, sc.Name, run, err))
					continue
				}
				for _, p := range res.Problems {
					problems = append(problems, fmt.Sprintf("%s %s run %d: %s", kind.Name, sc.Name, run, p))
				}
				for _, m := range res.Metrics {
					tab.add(kind.Name, sc.Name, m)
					fmt.Fprintf(cfg.Log, "  %-26s %10s %s\n", m.Name, formatValue(m.Value), m.Unit)
				}
			}
		}
	}
	writeTable(out, cfg, &tab, problems)
	return problems, nil
}

// runNoServer runs a scenario of no server cfg.Runs times and adds its
// metrics to tab under server "" (labelled floorLabel for the floor).
func runNoServer(ctx context.Context, sc Scenario, cfg SuiteConfig, tab *table, problems []string) []string {
	label := sc.Name
	if sc.Name == "floor" {
		label = floorLabel
	}
	for run := 1; run <= cfg.Runs && ctx.Err() == nil; run++ {
		fmt.Fprintf(cfg.Log, "%s run %d/%d\n", sc.Name, run, cfg.Runs)
		res := runScenario(ctx, sc, Env{Log: cfg.Log}, cfg.Sizes)
		for _, p := range res.Problems {
			problems = append(problems, fmt.Sprintf("%s run %d: %s", sc.Name, run, p))
		}
		for _, m := range res.Metrics {
			tab.add("", label, m)
			fmt.Fprintf(cfg.Log, "  %-26s %10s %s\n", m.Name, formatValue(m.Value), m.Unit)
		}
	}
	return problems
}

func runOnce(ctx context.Context, kind serverKind, sc Scenario, cfg SuiteConfig) (res Result, err error) {
	srv, err := kind.start(ctx, "", "")
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	env := Env{Addr: srv.Addr(), Path: "/socket.io/", Proc: procSampler{pid: srv.PID()}, Log: cfg.Log}
	res = runScenario(ctx, sc, env, cfg.Sizes)
	if srv.Exited() {
		res.problem("the server exited during the run: %s\n%s", srv.cmd.ProcessState, srv.out)
	} else if len(res.Problems) > 0 {
		if tail := strings.TrimSpace(srv.out.String()); tail != "" {
			res.problem("server output:\n%s", lastLines(tail, 20))
		}
	}
	return res, nil
}

// defaultRedis is where the cluster scenarios find Redis by default.
const defaultRedis = "127.0.0.1:6379"

// clusterRuns numbers the clusters of this process, for their Redis keys.
var clusterRuns atomic.Int64

// runCluster runs a cluster scenario on two fresh servers of kind that
// share the Redis of cfg under a channel prefix of their own (no other
// run, and nothing else on that Redis, hears them).
func runCluster(ctx context.Context, kind serverKind, sc Scenario, cfg SuiteConfig) (res Result, err error) {
	key := fmt.Sprintf("sio-bench-%d-%d", os.Getpid(), clusterRuns.Add(1))
	var procs []*serverProc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	for range 2 {
		p, err := kind.start(ctx, cfg.Redis, key)
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
	}
	env := Env{
		Addr:  procs[0].Addr(),
		Path:  "/socket.io/",
		Proc:  procSampler{pid: procs[0].PID()},
		Log:   cfg.Log,
		Peers: []Peer{{Addr: procs[1].Addr(), Proc: procSampler{pid: procs[1].PID()}}},
	}
	res = runScenario(ctx, sc, env, cfg.Sizes)
	failed := len(res.Problems) > 0
	for i, p := range procs {
		if p.Exited() {
			res.problem("server %d of 2 exited during the run: %s\n%s", i+1, p.cmd.ProcessState, p.out)
		} else if failed {
			if tail := strings.TrimSpace(p.out.String()); tail != "" {
				res.problem("output of server %d of 2:\n%s", i+1, lastLines(tail, 20))
			}
		}
	}
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

func median(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// A target from the benchmark issue, checked on the medians. An absolute
// target takes only sio's value; a relative one also needs Node's.
type target struct {
	text     string
	relative bool
	check    func(sio, node float64) bool
}

var targets = map[[2]string]target{
	{"idle", "RSS per connection"}:           {"sio ≤ 4 KB (at 10,000 connections)", false, func(s, _ float64) bool { return s <= 4 }},
	{"connect", "connections/s"}:             {"sio ≥ 2× node", true, func(s, n float64) bool { return s >= 2*n }},
	{"echo", "p99"}:                          {"sio ≤ node", true, func(s, n float64) bool { return s <= n }},
	{"echo", "server CPU per ack"}:           {"sio ≤ 0.4× node", true, func(s, n float64) bool { return s <= 0.4*n }},
	{"broadcast", "p99"}:                     {"sio < 15 ms", false, func(s, _ float64) bool { return s < 15 }},
	{"broadcast", "lost deliveries"}:         {"0", false, func(s, _ float64) bool { return s == 0 }},
	{"broadcast", "server CPU per delivery"}: {"sio ≤ 1/3 node", true, func(s, n float64) bool { return s <= n/3 }},
	{"room", "wrong-room deliveries"}:        {"0", false, func(s, _ float64) bool { return s == 0 }},
	{"room", "lost deliveries"}:              {"0", false, func(s, _ float64) bool { return s == 0 }},
	{"redis-broadcast", "lost deliveries"}:   {"0", false, func(s, _ float64) bool { return s == 0 }},
}

func writeTable(w io.Writer, cfg SuiteConfig, tab *table, problems []string) {
	mode := "full"
	if cfg.Quick {
		mode = "quick (smoke)"
	}
	fmt.Fprintf(w, "\n## sio vs Node.js socket.io: %s run, median of %d\n\n", mode, cfg.Runs)
	fmt.Fprintf(w, "Machine: %s\n\n", machine(cfg))
	sz := cfg.Sizes
	fmt.Fprintf(w, "Sizes: idle %d conns; connect %d conns (%d in flight); echo %d clients × %d in flight; "+
		"broadcast %d clients at %d/s; room %d clients in %d rooms at %d/s; polling %d clients (broadcast at %d/s); "+
		"redis-broadcast %d clients split over 2 servers at %d/s; %v measured after %v warm-up.\n\n",
		sz.IdleClients, sz.ConnectClients, sz.Concurrency, sz.EchoClients, sz.InFlight,
		sz.BcastClients, sz.Rate, sz.RoomClients, sz.Rooms, sz.Rate, sz.PollClients, sz.PollRate,
		sz.BcastClients, sz.Rate, sz.Duration, sz.Warmup)
	if cfg.Quick {
		fmt.Fprintf(w, "Quick sizes: a smoke run; the targets are set for the full sizes and only indicative here.\n\n")
	}
	fmt.Fprintln(w, "| scenario | metric | sio | node | sio/node | target |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, r := range tab.rows {
		metric := r.metric
		if r.unit != "" {
			metric += " (" + r.unit + ")"
		}
		if r.noServer {
			// One measurement that bounds both servers: in both columns.
			v := formatValue(tab.median("", r.scenario, r.metric))
			fmt.Fprintf(w, "| %s | %s | %s | %s |  |  |\n", r.scenario, metric, v, v)
			continue
		}
		s := tab.median("sio", r.scenario, r.metric)
		n := tab.median("node", r.scenario, r.metric)
		ratio := math.NaN()
		if !math.IsNaN(s) && !math.IsNaN(n) && n != 0 {
			ratio = s / n
		}
		tgt := ""
		if t, ok := targets[[2]string{r.scenario, r.metric}]; ok {
			verdict := "n/a"
			if !math.IsNaN(s) && (!t.relative || !math.IsNaN(n)) {
				verdict = "missed"
				if t.check(s, n) {
					verdict = "met"
				}
			}
			tgt = t.text + ": " + verdict
		}
		ratioText := formatValue(ratio)
		if !math.IsNaN(ratio) {
			ratioText += "×"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.scenario, metric, formatValue(s), formatValue(n), ratioText, tgt)
	}
	writeFloorTarget(w, tab)
	if len(problems) > 0 {
		fmt.Fprintf(w, "\nProblems (%d):\n\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(p, "\n", "\n  "))
		}
	} else {
		fmt.Fprintln(w, "\nNo problems: no lost or misrouted delivery, no error, every scenario had throughput.")
	}
}

// machine describes the host: CPU model, cores, kernel, Go, Node and
// socket.io versions.
func machine(cfg SuiteConfig) string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "Linux"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel += " " + strings.TrimSpace(string(data))
	}
	parts := []string{cpu, strconv.Itoa(runtime.NumCPU()) + " cores", kernel, runtime.Version()}
	cluster := slices.ContainsFunc(cfg.Scenarios, func(name string) bool {
		sc, ok := scenarioByName(name)
		return ok && sc.Cluster
	})
	if slices.Contains(cfg.Servers, "node") {
		if v, err := exec.Command(cfg.Node, "--version").Output(); err == nil {
			parts = append(parts, "node "+strings.TrimSpace(string(v)))
		}
		pkgs := []string{"socket.io"}
		if cluster {
			pkgs = append(pkgs, "@socket.io/redis-adapter", "redis")
		}
		for _, name := range pkgs {
			var pkg struct{ Version string }
			if data, err := os.ReadFile(filepath.Join(cfg.Root, "node_modules", name, "package.json")); err == nil && json.Unmarshal(data, &pkg) == nil {
				parts = append(parts, name+" "+pkg.Version)
			}
		}
	}
	if cluster && cfg.Redis != "" {
		if v := redisVersion(context.Background(), cfg.Redis); v != "" {
			parts = append(parts, "Redis "+v)
		}
	}
	return strings.Join(parts, ", ")
}

// findRoot returns the nearest directory at or above dir whose go.mod is
// this module's.
func findRoot(dir string) (string, error) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/go-sio/sio\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root of github.com/go-sio/sio not found (use -root)")
		}
		dir = parent
	}
}

// writeFloorTarget compares the broadcast CPU target with the floor, when
// the floor was measured.
func writeFloorTarget(w io.Writer, tab *table) {
	floor := tab.median("", floorLabel, "CPU per write")
	if math.IsNaN(floor) {
		return
	}
	fmt.Fprintf(w, "\nThe %q rows measure no server: a child process of sio-bench writes the broadcast's frames, "+
		"one write(2) per frame, to as many loopback connections at the same rate, and does nothing else. "+
		"The one measurement is shown under both servers: it bounds the broadcast CPU per delivery of either.\n\n", floorLabel)
	const metric = "server CPU per delivery"
	sio := tab.median("sio", "broadcast", metric)
	node := tab.median("node", "broadcast", metric)
	fmt.Fprintf(w, "Broadcast CPU target and the floor: the floor is %s µs per write. ", formatValue(floor))
	if math.IsNaN(node) {
		fmt.Fprintf(w, "No Node broadcast figure, so no target (node/3) to compare with it.")
	} else {
		tgt := node / 3
		fmt.Fprintf(w, "The target, sio ≤ node/3, is %s µs per delivery (node %s µs): ", formatValue(tgt), formatValue(node))
		if tgt < floor {
			fmt.Fprintf(w, "below the floor, by %s µs; one write(2) per delivery cannot meet it on this machine.", formatValue(floor-tgt))
		} else {
			fmt.Fprintf(w, "not below the floor (%s µs above it).", formatValue(tgt-floor))
		}
	}
	switch {
	case math.IsNaN(sio):
	case sio >= floor:
		fmt.Fprintf(w, " sio: %s µs per delivery, %s µs above the floor.", formatValue(sio), formatValue(sio-floor))
	default:
		fmt.Fprintf(w, " sio: %s µs per delivery, %s µs below the floor.", formatValue(sio), formatValue(floor-sio))
	}
	fmt.Fprintln(w)
}
