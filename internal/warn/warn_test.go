package warn

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// levels is a slog.Handler recording the level and message of each record.
type levels struct {
	mu  sync.Mutex
	got []string
}

func (h *levels) Enabled(context.Context, slog.Level) bool { return true }
func (h *levels) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levels) WithGroup(string) slog.Handler            { return h }
func (h *levels) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.got = append(h.got, r.Level.String()+" "+r.Message)
	h.mu.Unlock()
	return nil
}

func (h *levels) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got
	h.got = nil
	return got
}

func expect(t *testing.T, h *levels, want ...string) {
	t.Helper()
	got := h.take()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestOutage(t *testing.T) {
	h := &levels{}
	log := slog.New(h)
	var o Outage
	o.OK(log, "back")
	expect(t, h)
	for range 3 {
		o.Fail(log, "down")
	}
	expect(t, h, "WARN down", "DEBUG down", "DEBUG down")
	if !o.Down() {
		t.Fatal("not down")
	}
	o.OK(log, "back")
	o.OK(log, "back")
	expect(t, h, "INFO back")
	o.Fail(log, "down")
	expect(t, h, "WARN down")
}

func TestEvery(t *testing.T) {
	h := &levels{}
	log := slog.New(h)
	e := Every{Period: 50 * time.Millisecond}
	for range 3 {
		e.Warn(log, "bad")
	}
	expect(t, h, "WARN bad", "DEBUG bad", "DEBUG bad")
	time.Sleep(60 * time.Millisecond)
	e.Warn(log, "bad")
	e.Warn(log, "bad")
	expect(t, h, "WARN bad", "DEBUG bad")
}
