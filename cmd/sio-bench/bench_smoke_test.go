package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/adapter/redis"
	"github.com/go-sio/sio/bench/benchserver"
	"github.com/go-sio/sio/socketio"
)

func tinySizes() Sizes {
	return Sizes{
		IdleClients: 50, ConnectClients: 50, Concurrency: 10,
		EchoClients: 20, InFlight: 4,
		// Above 2*fanoutPart recipients: the broadcast is written by
		// several goroutines.
		BcastClients: 600, Rate: 20,
		Rooms: 5, RoomClients: 50,
		PollClients: 5, PollRate: 50,
		Duration: time.Second, Warmup: 200 * time.Millisecond, Settle: 100 * time.Millisecond,
	}
}

// throughput names the metric of each scenario that must not be zero.
var throughput = map[string]string{
	"idle":              "heap per connection",
	"connect":           "connections/s",
	"echo":              "acks/s",
	"broadcast":         "deliveries/s",
	"floor":             "writes/s",
	"room":              "deliveries/s",
	"polling-echo":      "acks/s",
	"polling-broadcast": "deliveries/s",
	"redis-broadcast":   "deliveries/s",
}

// smokeConfig is the server configuration of the smoke tests: the short
// heartbeat makes the clients answer pings during the runs.
func smokeConfig() socketio.Config {
	return socketio.Config{PingInterval: 250 * time.Millisecond, PingTimeout: 2 * time.Second}
}

// serve mounts srv on a test HTTP server and returns its address.
func serve(t *testing.T, srv *socketio.Server) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

// TestSmoke runs every scenario with tiny sizes against the contract
// server in this process (so without RSS and CPU figures); the cluster
// scenarios run on two such servers with Redis adapters (see
// clusterEnv). The floor loads no server: its writer is this test
// binary in a child process (TestMain), whose CPU it reads from /proc.
func TestSmoke(t *testing.T) {
	srv, err := benchserver.New(smokeConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := serve(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			var log bytes.Buffer
			env := Env{Addr: addr, Path: "/socket.io/", Log: &log}
			if sc.Cluster {
				env = clusterEnv(t, &log)
			}
			res := sc.Run(ctx, env, tinySizes())
			for _, p := range res.Problems {
				t.Errorf("problem: %s", p)
			}
			want := throughput[sc.Name]
			found := false
			for _, m := range res.Metrics {
				t.Logf("%-26s %10s %s", m.Name, formatValue(m.Value), m.Unit)
				if m.Name == want {
					found = true
					if !(m.Value > 0) {
						t.Errorf("%s = %v, want > 0", m.Name, m.Value)
					}
				}
				if m.Name == "lost deliveries" || m.Name == "wrong-room deliveries" || m.Name == "lost frames" {
					if m.Value != 0 {
						t.Errorf("%s = %v, want 0", m.Name, m.Value)
					}
				}
				if sc.NoServer && m.Unit == "µs" && math.IsNaN(m.Value) {
					t.Errorf("%s: the writer's CPU was not sampled from /proc", m.Name)
				}
			}
			if !found {
				t.Errorf("no %q metric", want)
			}
			if t.Failed() {
				t.Log(log.String())
			}
		})
	}
	// Clients close at the end of each scenario; give the server a moment
	// to see the last ones go.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Engine().SessionCount() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := srv.Engine().SessionCount(); n != 0 {
		t.Errorf("%d sessions still open after every client closed", n)
	}
}

// needRedis skips the test when the Redis of the cluster scenarios does
// not answer (fails it under CI=true).
func needRedis(t *testing.T) {
	t.Helper()
	if pong, err := redisQuery(context.Background(), defaultRedis, "PING"); err != nil || pong != "PONG" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (required under CI=true): %v", defaultRedis, err)
		}
		t.Skipf("skipping: Redis at %s does not answer: %v", defaultRedis, err)
	}
}

// clusterEnv starts two contract servers in this process whose Redis
// adapters share a channel prefix of their own, and returns the
// environment of a cluster scenario on them. They stop when t ends.
func clusterEnv(t *testing.T, log io.Writer) Env {
	t.Helper()
	needRedis(t)
	key := fmt.Sprintf("sio-bench-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	var addrs []string
	for range 2 {
		rdb := goredis.NewClient(&goredis.Options{Addr: defaultRedis})
		t.Cleanup(func() { _ = rdb.Close() })
		cfg := smokeConfig()
		cfg.Adapter = redis.NewAdapter(rdb, redis.Options{Key: key})
		srv, err := benchserver.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		addrs = append(addrs, serve(t, srv))
	}
	return Env{Addr: addrs[0], Path: "/socket.io/", Log: log, Peers: []Peer{{Addr: addrs[1]}}}
}

// TestSuiteSpawned runs the suite code path: it builds bench/sio-server,
// starts it as a process on a free port, runs two scenarios with /proc
// sampling, stops it, and prints the table.
func TestSuiteSpawned(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts bench/sio-server")
	}
	runSuite(t, SuiteConfig{
		Root:      moduleRoot(t),
		Servers:   []string{"sio"},
		Scenarios: []string{"idle", "echo"},
		Sizes:     tinySizes(),
	}, []string{"| idle | RSS per connection (KB) |", "| echo | server CPU per ack (µs) |"},
		"| echo | server CPU per ack (µs) | n/a")
}

// TestSuiteSpawnedCluster runs the suite code path of the cluster
// scenario: two bench/sio-server processes started with -redis.
func TestSuiteSpawnedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts bench/sio-server twice")
	}
	needRedis(t)
	sz := tinySizes()
	sz.BcastClients = 100
	runSuite(t, SuiteConfig{
		Root:      moduleRoot(t),
		Servers:   []string{"sio"},
		Scenarios: []string{"redis-broadcast"},
		Sizes:     sz,
		Redis:     defaultRedis,
	}, []string{"| redis-broadcast | lost deliveries | 0 |", "| redis-broadcast | p99 through Redis (ms) |"},
		"| redis-broadcast | server CPU per delivery (µs) | n/a")
}

// TestSuiteFloor runs the floor alone through the suite: no server is
// built or started, and the table has the floor's rows.
func TestSuiteFloor(t *testing.T) {
	sz := tinySizes()
	sz.BcastClients = 50
	log := runSuite(t, SuiteConfig{
		Root:      t.TempDir(), // no bench/ to build from: nothing is built
		Servers:   []string{"sio", "node"},
		Scenarios: []string{"floor"},
		Runs:      2,
		Sizes:     sz,
	}, []string{
		"| " + floorLabel + " | writes/s |",
		"| " + floorLabel + " | CPU per write (µs) |",
		"| " + floorLabel + " | lost frames | 0 | 0 |",
		"No Node broadcast figure",
	}, "| CPU per write (µs) | n/a")
	if strings.Contains(log, "building") {
		t.Error("the suite built a server for the floor alone")
	}
}

// moduleRoot is the module's root directory, holding bench/.
func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runSuite runs the suite in quick mode (one run unless cfg says more)
// within a minute, fails on any problem reported, checks that the table
// has every row of rows and not unsampled (a CPU figure that was not read
// from /proc), and returns the suite's log.
func runSuite(t *testing.T, cfg SuiteConfig, rows []string, unsampled string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var log, out bytes.Buffer
	cfg.Quick, cfg.Log = true, &log
	if cfg.Runs == 0 {
		cfg.Runs = 1
	}
	problems, err := Suite(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("suite: %v\n%s", err, log.String())
	}
	for _, p := range problems {
		t.Errorf("problem: %s", p)
	}
	table := out.String()
	t.Log(table)
	for _, want := range rows {
		if !strings.Contains(table, want) {
			t.Errorf("table has no %q", want)
		}
	}
	if strings.Contains(table, unsampled) {
		t.Errorf("CPU was not sampled from /proc (%q)", unsampled)
	}
	return log.String()
}

func TestWithFloor(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"echo,broadcast,room", "echo,broadcast,floor,room"},
		{"broadcast", "broadcast,floor"},
		{"floor,broadcast", "floor,broadcast"},
		{"echo", "echo"},
		{"floor", "floor"},
	} {
		if got := strings.Join(withFloor(strings.Split(c.in, ",")), ","); got != c.want {
			t.Errorf("withFloor(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestFloorTarget(t *testing.T) {
	for _, c := range []struct {
		sio, node, floor float64
		want             string
	}{
		{4.77, 7.41, 3.9, "The target, sio ≤ node/3, is 2.47 µs per delivery (node 7.41 µs): below the floor, by 1.43 µs; one write(2) per delivery cannot meet it on this machine. sio: 4.77 µs per delivery, 0.870 µs above the floor."},
		{2, 9, 2.5, "is 3 µs per delivery (node 9 µs): not below the floor (0.500 µs above it). sio: 2 µs per delivery, 0.500 µs below the floor."},
	} {
		var tab table
		tab.add("sio", "broadcast", Metric{Name: "server CPU per delivery", Unit: "µs", Value: c.sio})
		tab.add("node", "broadcast", Metric{Name: "server CPU per delivery", Unit: "µs", Value: c.node})
		tab.add("", floorLabel, Metric{Name: "CPU per write", Unit: "µs", Value: c.floor})
		var out bytes.Buffer
		writeTable(&out, SuiteConfig{Servers: []string{"sio", "node"}, Runs: 1}, &tab, nil)
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("table:\n%s\nwant %q", out.String(), c.want)
		}
		row := "| " + floorLabel + " | CPU per write (µs) | " + formatValue(c.floor) + " | " + formatValue(c.floor) + " |  |  |"
		if !strings.Contains(out.String(), row) {
			t.Errorf("table:\n%s\nwant the row %q", out.String(), row)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		if got := h.Quantile(c.q); math.Abs(got-c.want)/c.want > 0.04 {
			t.Errorf("q%v = %v ms, want %v ms within 4%%", c.q, got, c.want)
		}
	}
	h.Reset()
	if !math.IsNaN(h.Quantile(0.5)) {
		t.Error("quantile of an empty histogram should be NaN")
	}
}

func TestJSONInt(t *testing.T) {
	// Node re-serializes the nanosecond timestamp through a double.
	for _, c := range []struct {
		in   string
		key  string
		want int64
	}{
		{`,{"t":1780000000123456789,"seq":7}`, "t", 1780000000123456789},
		{`,{"t":1780000000123456800,"seq":7}`, "seq", 7},
		{`,{"t":1.78e18,"seq":7,"r":3}`, "t", 1780000000000000000},
		{`,{"t":1,"seq":7,"r":3}`, "r", 3},
	} {
		got, ok := jsonInt([]byte(c.in), c.key)
		if !ok || got != c.want {
			t.Errorf("jsonInt(%s, %q) = %d, %v; want %d", c.in, c.key, got, ok, c.want)
		}
	}
	if _, ok := jsonInt([]byte(`{"seq":1}`), "t"); ok {
		t.Error(`jsonInt found "t" in {"seq":1}`)
	}
}
