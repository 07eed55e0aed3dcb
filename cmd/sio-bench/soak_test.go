package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the soak start this test binary as its server process,
// and the floor scenario as its writer process.
func TestMain(m *testing.M) {
	if os.Getenv(soakServeEnv) != "" {
		os.Exit(soakServe(os.Args[1:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == floorWriterFlag {
		os.Exit(floorWriterMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// trackerCase feeds events and acknowledgements to a tracker and counts
// the violations it records.
func trackerViolations(t *testing.T, steps func(tr *soakTracker)) (int64, []string) {
	t.Helper()
	var k soakCounters
	tr := newSoakTracker(&k, "c")
	steps(tr)
	return k.violations.Load(), k.firstNotes()
}

func ev(tr *soakTracker, name, args string) { tr.onEvent(nil, name, []byte(args)) }

func TestSoakTracker(t *testing.T) {
	cases := []struct {
		name  string
		want  int64
		steps func(tr *soakTracker)
	}{
		{"complete streams", 0, func(tr *soakTracker) {
			ev(tr, "g", `,{"g":7}`) // before the hello: allowed when it runs up to it
			ev(tr, "hello", `,{"g":7}`)
			ev(tr, "g", `,{"g":8}`)
			tr.joined(2, []byte(`[{"n":40}]`))
			ev(tr, "r", `,{"r":2,"n":41}`)
			ev(tr, "r", `,{"r":2,"n":42}`)
			tr.armBurst()
			ev(tr, "d", `,{"i":0}`)
			ev(tr, "d", `,{"i":1}`)
			tr.burstDone([]byte(`[{"n":2}]`))
			tr.joined(3, []byte(`[{"n":0}]`))
			tr.left(2, []byte(`[{"n":42}]`))
			ev(tr, "g", `,{"g":9}`)
			tr.echoed(`{"e":1}`, []byte(`[{"e":1}]`))
			tr.bye([]byte(`[{"g":9,"r0":5,"r2":50,"r3":0}]`))
		}},
		{"hello only", 0, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":0}`)
			tr.bye([]byte(`[{"g":0}]`))
		}},
		{"global gap", 1, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":3}`)
			ev(tr, "g", `,{"g":5}`)
		}},
		{"global duplicate", 1, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":3}`)
			ev(tr, "g", `,{"g":4}`)
			ev(tr, "g", `,{"g":4}`)
		}},
		{"global events before the hello stop short", 1, func(tr *soakTracker) {
			ev(tr, "g", `,{"g":5}`)
			ev(tr, "hello", `,{"g":6}`)
		}},
		{"global tail missing at bye", 1, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":3}`)
			ev(tr, "g", `,{"g":4}`)
			tr.bye([]byte(`[{"g":5}]`))
		}},
		{"second hello", 1, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":3}`)
			ev(tr, "hello", `,{"g":3}`)
		}},
		{"room event without a join", 1, func(tr *soakTracker) {
			ev(tr, "r", `,{"r":1,"n":1}`)
		}},
		{"room event after a leave", 1, func(tr *soakTracker) {
			tr.joined(1, []byte(`[{"n":0}]`))
			ev(tr, "r", `,{"r":1,"n":1}`)
			tr.left(1, []byte(`[{"n":1}]`))
			ev(tr, "r", `,{"r":1,"n":2}`)
		}},
		{"room events missing before a leave", 1, func(tr *soakTracker) {
			tr.joined(1, []byte(`[{"n":0}]`))
			ev(tr, "r", `,{"r":1,"n":1}`)
			tr.left(1, []byte(`[{"n":3}]`))
		}},
		{"room events reordered", 2, func(tr *soakTracker) {
			tr.joined(1, []byte(`[{"n":0}]`))
			ev(tr, "r", `,{"r":1,"n":2}`)
			ev(tr, "r", `,{"r":1,"n":1}`)
		}},
		{"room tail missing at bye", 1, func(tr *soakTracker) {
			ev(tr, "hello", `,{"g":0}`)
			tr.joined(4, []byte(`[{"n":10}]`))
			tr.bye([]byte(`[{"g":0,"r4":11}]`))
		}},
		{"short burst", 1, func(tr *soakTracker) {
			tr.armBurst()
			ev(tr, "d", `,{"i":0}`)
			tr.burstDone([]byte(`[{"n":2}]`))
		}},
		{"direct event outside a burst", 1, func(tr *soakTracker) {
			ev(tr, "d", `,{"i":0}`)
		}},
		{"burst out of order", 2, func(tr *soakTracker) {
			tr.armBurst()
			ev(tr, "d", `,{"i":1}`)
			ev(tr, "d", `,{"i":0}`)
		}},
		{"wrong echo", 1, func(tr *soakTracker) {
			tr.echoed(`{"e":1}`, []byte(`[{"e":2}]`))
		}},
		{"unknown event", 1, func(tr *soakTracker) {
			ev(tr, "surprise", ``)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, notes := trackerViolations(t, tc.steps)
			if got != tc.want {
				t.Fatalf("%d violations, want %d: %q", got, tc.want, notes)
			}
		})
	}
}

func shortSoak() SoakConfig {
	cfg := DefaultSoakConfig()
	cfg.Duration = 10 * time.Second
	cfg.Warmup = 3 * time.Second
	cfg.WSClients, cfg.PollClients, cfg.Upgrading, cfg.Silent = 8, 4, 3, 2
	cfg.PingInterval, cfg.PingTimeout = time.Second, 2*time.Second
	return cfg
}

// TestSoak runs a short soak with this test binary as the server: the mix
// must pass every check.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak run takes seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := RunSoak(ctx, shortSoak())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Text)
	if len(rep.Problems) > 0 {
		t.Fatalf("problems: %q", rep.Problems)
	}
	for _, want := range []string{"soak: PASS", "goroutines   baseline", "live heap    baseline"} {
		if !strings.Contains(rep.Text, want) {
			t.Errorf("report has no %q", want)
		}
	}
}

// TestSoakCatchesLeak runs the soak against a server that leaves a
// goroutine behind per connection: the soak must fail on it.
func TestSoakCatchesLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak run takes seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := shortSoak()
	cfg.Duration, cfg.Warmup, cfg.Silent = 5*time.Second, 2*time.Second, 0
	cfg.ServerArgs = []string{"-inject-leak"}
	cfg.Settle = 3 * time.Second
	cfg.GoroutineSlack = 5
	rep, err := RunSoak(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || strings.Contains(p, "goroutines did not return to baseline")
	}
	if !found || !strings.Contains(rep.Text, "soak: FAIL") {
		t.Fatalf("the leak was not reported:\n%s", rep.Text)
	}
	if !strings.Contains(rep.Text, "onConnection") {
		t.Errorf("the report does not show the leaked goroutines' stack:\n%s", rep.Text)
	}
}
