// Command sio-bench is the load generator of the benchmarks: it compares
// sio with the Node.js reference server (socket.io 4.8) on the same
// machine, with the same client, and prints sio/Node ratios. BENCHMARKS.md
// explains the scenarios and their numbers.
//
// Against a running server (a single scenario, or several):
//
//	sio-bench -url http://127.0.0.1:3000/socket.io/ -server-pid 1234 -scenario echo
//
// The whole comparison, which starts bench/sio-server and
// bench/node-server.mjs itself, one after the other:
//
//	sio-bench -suite            # full sizes, median of 3 runs
//	sio-bench -suite -quick     # smoke: a few hundred connections, seconds per scenario
//
// The floor scenario measures no server: it times one write(2) per
// delivery of the broadcast's frames, from a child process of sio-bench,
// the least CPU per delivery any server making one write per delivery
// needs on the machine. The suite runs it with broadcast:
//
//	sio-bench -suite -scenario broadcast    # broadcast and its floor
//	sio-bench -scenario floor               # the floor alone
//
// The cluster scenario (redis-broadcast) runs on two servers of the same
// implementation sharing Redis (-redis, default 127.0.0.1:6379); by hand:
//
//	sio-bench -url http://127.0.0.1:3001/socket.io/ -peer-url http://127.0.0.1:3002/socket.io/ -scenario redis-broadcast
//
// A soak run (soak.go): churn, rooms, broadcasts, acks and cut connections
// against a sio server in a child process, checking every delivery and
// that the server's goroutines and heap return to baseline:
//
//	sio-bench -soak -duration 10m
//
// The client speaks Engine.IO 4 / Socket.IO 5 over WebSocket (a compact
// client on raw TCP) and long-polling (net/http), to 127.0.0.1 only. The
// exit status is 1 when a run had a problem: lost or misrouted
// deliveries, errors, dropped connections, no throughput.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-sio/sio/bench/benchserver"
)

func main() {
	if os.Getenv(soakServeEnv) != "" {
		os.Exit(soakServe(os.Args[1:], os.Stdout, os.Stderr)) // the server of a soak run
	}
	if len(os.Args) > 1 && os.Args[1] == floorWriterFlag {
		os.Exit(floorWriterMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)) // the writer of the floor measurement
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target    = fs.String("url", "http://127.0.0.1:3000/socket.io/", "server to load (single mode); 127.0.0.1 only")
		pid       = fs.Int("server-pid", 0, "pid of the server, for RSS and CPU from /proc (single mode; 0: not sampled)")
		peerURL   = fs.String("peer-url", "", "second server of the cluster scenarios, sharing the first one's Redis (single mode)")
		peerPID   = fs.Int("peer-pid", 0, "pid of the -peer-url server (single mode; 0: not sampled)")
		redisAddr = fs.String("redis", defaultRedis, "Redis (host:port) the servers of the cluster scenarios share in suite mode")
		scenList  = fs.String("scenario", "all", "comma-separated scenarios: "+scenarioNames()+", or all")
		suite     = fs.Bool("suite", false, "start each server in turn and compare them")
		quick     = fs.Bool("quick", false, "smoke sizes: a few hundred connections, a few seconds per scenario, 1 run")
		runs      = fs.Int("runs", 3, "runs per scenario and server in suite mode (the median is reported; -quick: 1)")
		servers   = fs.String("servers", "sio,node", "servers compared in suite mode")
		root      = fs.String("root", "", "module root holding bench/ and node_modules/ (default: found from the working directory)")
		sioBin    = fs.String("sio-server", "", "prebuilt bench/sio-server binary (default: go build it)")
		nodeBin   = fs.String("node", "node", "node executable")
		pingEvery = fs.Duration("ping-interval", 0, "heartbeat period for both servers in suite mode (0: their default, 25s)")

		duration    = fs.Duration("duration", 0, "measured period of echo, broadcast and room")
		warmup      = fs.Duration("warmup", 0, "warm-up before the measured period")
		settle      = fs.Duration("settle", 0, "idle: wait after connecting and after gc before sampling")
		idleN       = fs.Int("idle-clients", 0, "idle: connections held")
		connectN    = fs.Int("connect-clients", 0, "connect: connections opened")
		concurrency = fs.Int("concurrency", 0, "dials in flight while connecting")
		echoN       = fs.Int("echo-clients", 0, "echo: clients")
		inFlight    = fs.Int("inflight", 0, "echo: acks in flight per client")
		bcastN      = fs.Int("bcast-clients", 0, "broadcast: receiving clients")
		rate        = fs.Int("rate", 0, "broadcast and room: events per second from the driver")
		rooms       = fs.Int("rooms", 0, "room: number of rooms")
		roomN       = fs.Int("room-clients", 0, "room: clients (split across the rooms)")
		pollN       = fs.Int("poll-clients", 0, "polling-echo and polling-broadcast: clients")
		pollRate    = fs.Int("poll-rate", 0, "polling-broadcast: events per second")
	)
	soak := registerSoakFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sio-bench [-suite [-quick]] [-url URL -server-pid PID [-peer-url URL -peer-pid PID]] [-scenario LIST] [sizes]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}

	sz := fullSizes()
	if *quick {
		sz = quickSizes()
		runsSet := false
		fs.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
		if !runsSet {
			*runs = 1
		}
	}
	setInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setInt(&sz.IdleClients, *idleN)
	setInt(&sz.ConnectClients, *connectN)
	setInt(&sz.Concurrency, *concurrency)
	setInt(&sz.EchoClients, *echoN)
	setInt(&sz.InFlight, *inFlight)
	setInt(&sz.BcastClients, *bcastN)
	setInt(&sz.Rate, *rate)
	setInt(&sz.Rooms, *rooms)
	setInt(&sz.RoomClients, *roomN)
	setInt(&sz.PollClients, *pollN)
	setInt(&sz.PollRate, *pollRate)
	setDur(&sz.Duration, *duration)
	setDur(&sz.Warmup, *warmup)
	setDur(&sz.Settle, *settle)

	names, err := parseScenarios(*scenList)
	if err != nil {
		fmt.Fprintln(stderr, "sio-bench:", err)
		return 2
	}
	if err := benchserver.RaiseOpenFileLimit(); err != nil {
		fmt.Fprintln(stderr, "sio-bench: raising the open-file limit:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *soak.enabled {
		return runSoak(ctx, soak.config(*duration, stderr), stdout, stderr)
	}

	if *suite {
		dir := *root
		if dir == "" {
			wd, err := os.Getwd()
			if err == nil {
				dir, err = findRoot(wd)
			}
			if err != nil {
				fmt.Fprintln(stderr, "sio-bench:", err)
				return 2
			}
		}
		start := time.Now()
		problems, err := Suite(ctx, SuiteConfig{
			Root:       dir,
			Servers:    strings.Split(*servers, ","),
			Scenarios:  names,
			Runs:       max(*runs, 1),
			Sizes:      sz,
			Quick:      *quick,
			SioBinary:  *sioBin,
			Node:       *nodeBin,
			PingMillis: int(pingEvery.Milliseconds()),
			Redis:      *redisAddr,
			Log:        stderr,
		}, stdout)
		fmt.Fprintf(stderr, "suite took %v\n", time.Since(start).Round(time.Second))
		if err != nil {
			fmt.Fprintln(stderr, "sio-bench:", err)
			return 1
		}
		if len(problems) > 0 {
			return 1
		}
		return 0
	}

	env, err := envFromURL(*target)
	if err != nil {
		fmt.Fprintln(stderr, "sio-bench:", err)
		return 2
	}
	env.Proc = procSampler{pid: *pid}
	env.Log = stderr
	if *peerURL != "" {
		peer, err := envFromURL(*peerURL)
		if err != nil {
			fmt.Fprintln(stderr, "sio-bench:", err)
			return 2
		}
		if peer.Path != env.Path {
			fmt.Fprintf(stderr, "sio-bench: -peer-url path %s differs from -url path %s\n", peer.Path, env.Path)
			return 2
		}
		env.Peers = []Peer{{Addr: peer.Addr, Proc: procSampler{pid: *peerPID}}}
	}
	failed := false
	for _, name := range names {
		sc, _ := scenarioByName(name)
		if sc.Cluster && len(env.Peers) == 0 && (*scenList == "" || *scenList == "all") {
			fmt.Fprintf(stderr, "%s: skipped (needs a second server: -peer-url)\n", name)
			continue
		}
		fmt.Fprintf(stderr, "%s\n", name)
		res := runScenario(ctx, sc, env, sz)
		for _, m := range res.Metrics {
			fmt.Fprintf(stdout, "%-18s %-26s %10s %s\n", name, m.Name, formatValue(m.Value), m.Unit)
		}
		for _, p := range res.Problems {
			failed = true
			fmt.Fprintf(stdout, "%-18s PROBLEM: %s\n", name, p)
		}
		if ctx.Err() != nil {
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

func scenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func parseScenarios(list string) ([]string, error) {
	if list == "" || list == "all" {
		return strings.Split(strings.ReplaceAll(scenarioNames(), " ", ""), ","), nil
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := scenarioByName(name); !ok {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, scenarioNames())
		}
		names = append(names, name)
	}
	return names, nil
}

// envFromURL reads the server address and the Socket.IO path from a URL
// such as http://127.0.0.1:3000/socket.io/.
func envFromURL(raw string) (Env, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Env{}, err
	}
	if u.Scheme != "http" && u.Scheme != "ws" {
		return Env{}, fmt.Errorf("-url %q: want http://127.0.0.1:PORT/socket.io/", raw)
	}
	if u.Hostname() != "127.0.0.1" {
		return Env{}, fmt.Errorf("-url %q: the benchmark only loads 127.0.0.1", raw)
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/socket.io/"
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return Env{Addr: u.Host, Path: path}, nil
}
