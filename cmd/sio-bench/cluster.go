package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// runRedisBroadcast is the broadcast scenario on a cluster of two servers
// of the same implementation sharing a Redis: the receivers are split
// between them (client i on server i mod 2) and the driver, on the first
// server, emits "bcast" at the broadcast rate. Its server delivers to its
// own clients and publishes the event on Redis; the second server
// receives it there and delivers to its clients. Every delivery is
// counted and checked as in broadcast; the CPU is the sum of both
// servers' (Redis's own is not counted).
func runRedisBroadcast(ctx context.Context, env Env, sz Sizes) (r Result) {
	r.Scenario = "redis-broadcast"
	if len(env.Peers) == 0 {
		r.problem("needs a second server sharing the first one's Redis (suite mode, or -peer-url)")
		return r
	}
	first := Peer{Addr: env.Addr, Proc: env.Proc}
	second := env.Peers[0]
	dialer := func(p Peer) *Dialer { return &Dialer{Addr: p.Addr, Path: env.Path} }

	// The servers may print LISTENING before their subscriptions are in
	// place (Node's adapter subscribes in the background): wait until a
	// broadcast crosses.
	start := time.Now()
	if err := awaitCluster(ctx, dialer(first), dialer(second)); err != nil {
		r.problem("cluster not ready: %v", err)
		return r
	}
	env.logf("  a broadcast crossed from the first server to the second after %v", time.Since(start).Round(time.Millisecond))

	n, rate := sz.BcastClients, sz.Rate
	warm := int(sz.Warmup.Seconds() * float64(rate))
	total := warm + max(int(sz.Duration.Seconds()*float64(rate)), 1)
	dv := &deliveries{measureFrom: int64(warm)}
	var remote histogram // deliveries by the second server
	var f fleet
	defer f.closeAll()
	onFirst, onSecond := (n+1)/2, n/2
	if err := connectMany(ctx, dialer(first), &f, onFirst, sz.Concurrency, func(int) eventFunc { return dv.handler(-1) }, nil); err != nil {
		r.problem("connecting %d clients to the first server: %v", onFirst, err)
		return r
	}
	if err := connectMany(ctx, dialer(second), &f, onSecond, sz.Concurrency, func(int) eventFunc { return dv.handlerAlso(-1, &remote) }, nil); err != nil {
		r.problem("connecting %d clients to the second server: %v", onSecond, err)
		return r
	}
	driver, err := dialer(first).Dial(ctx, dv.handler(-1))
	if err != nil {
		r.problem("driver: %v", err)
		return r
	}
	f.add(driver)
	receivers := uint64(n + 1)

	cpus := []*cpuWindow{{p: first.Proc}, {p: second.Proc}}
	measureStart, err := drive(ctx, driver, total, warm, rate,
		func(i int) (string, string) { return "bcast", payload(i, -1) },
		func() {
			for _, w := range cpus {
				w.Start()
			}
		})
	if err != nil {
		r.problem("%v", err)
		return r
	}
	want := uint64(total) * receivers
	waitDeliveries(ctx, dv, want, drainLimit)
	var used time.Duration
	cpuOK := true
	for _, w := range cpus {
		d, ok := w.Stop()
		used += d
		cpuOK = cpuOK && ok
	}
	got := dv.received.Load()
	measured := dv.measured.Load()

	checkDeliveries(&r, dv, want, got)
	if lost := f.lost(); lost > 0 {
		r.problem("%d of %d clients dropped", lost, n+1)
	}
	r.add("deliveries/s", "", dv.rate(measureStart, time.Duration(total-warm)*time.Second/time.Duration(max(rate, 1))), true)
	r.add("p50", "ms", dv.lat.Quantile(0.50), false)
	r.add("p99", "ms", dv.lat.Quantile(0.99), false)
	r.add("p99 through Redis", "ms", remote.Quantile(0.99), false)
	r.add("lost deliveries", "", float64(want)-float64(min(got, want)), false)
	r.add("server CPU per delivery", "µs", perUnit(used, cpuOK, measured), false)
	return r
}

// awaitCluster connects a client to each server and emits "bcast" with a
// probe argument from the first every 100 ms until the second's client
// receives one (bounded).
func awaitCluster(ctx context.Context, from, to *Dialer) error {
	got := make(chan struct{}, 1)
	recv, err := to.Dial(ctx, func(_ *Client, name string, _ []byte) {
		if name == "bcast" {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return fmt.Errorf("probe client of the second server: %w", err)
	}
	defer recv.Close()
	send, err := from.Dial(ctx, nil)
	if err != nil {
		return fmt.Errorf("probe client of the first server: %w", err)
	}
	defer send.Close()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := send.Emit("bcast", `{"probe":1}`); err != nil {
			return err
		}
		select {
		case <-got:
			return nil
		case <-tick.C:
		case <-deadline.C:
			return errors.New("no broadcast from the first server reached the second in 15s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// redisQuery sends one command to the Redis at addr and returns its reply
// when it is a simple or bulk string: enough to check that Redis answers
// (PING) and to read its version (INFO server), without a client library.
func redisQuery(ctx context.Context, addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("redis: unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("redis: unexpected reply %q", line)
	}
}

// redisVersion returns the redis_version field of INFO server, "" when
// Redis does not answer.
func redisVersion(ctx context.Context, addr string) string {
	info, err := redisQuery(ctx, addr, "INFO", "server")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}
