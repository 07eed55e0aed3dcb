package main

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// histogram records durations in microseconds in log-linear buckets: exact
// below 64 µs, then 32 buckets per power of two (at most ~3% error).
// Record is safe for concurrent use and does not allocate.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Uint64
}

const (
	histLinear  = 64 // values below are exact
	histSub     = 32 // buckets per power of two above
	histPowers  = 40 // up to 2^45 µs
	histBuckets = histLinear + histPowers*histSub
)

func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // keeps the top 6 bits: 32..63
	i := histLinear + (shift-1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	shift := (i-histLinear)/histSub + 1
	low := uint64(histSub+(i-histLinear)%histSub) << shift
	return float64(low) + float64(uint64(1)<<shift)/2
}

func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func (h *histogram) Count() uint64 { return h.total.Load() }

// Quantile returns the q-quantile in milliseconds (NaN when empty).
func (h *histogram) Quantile(q float64) float64 {
	n := h.total.Load()
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(histValue(i), float64(h.max.Load())) / 1000
		}
	}
	return float64(h.max.Load()) / 1000
}

// Reset clears the histogram; call it while nothing records.
func (h *histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.max.Store(0)
}

// procSampler reads a server process's memory and CPU from /proc. A zero
// pid means no process to sample (the server runs in this process or
// elsewhere): every read reports ok=false.
type procSampler struct{ pid int }

// RSS returns VmRSS in KB.
func (p procSampler) RSS() (kb float64, ok bool) {
	if p.pid <= 0 {
		return 0, false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if rest, found := strings.CutPrefix(line, "VmRSS:"); found {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			v, err := strconv.ParseFloat(f[0], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPU returns the process's user+system CPU time so far.
func (p procSampler) CPU() (time.Duration, bool) {
	if p.pid <= 0 {
		return 0, false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, false
	}
	// The command name may contain spaces and parentheses: fields are
	// counted after its closing parenthesis. utime and stime are fields
	// 14 and 15 of the line, so 12 and 13 after the name.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * clockTick, true
}

// cpuWindow measures a process's CPU time between Start and Stop.
type cpuWindow struct {
	p     procSampler
	start time.Duration
	ok    bool
}

func (w *cpuWindow) Start() { w.start, w.ok = w.p.CPU() }

// Stop returns the CPU time spent since Start.
func (w *cpuWindow) Stop() (time.Duration, bool) {
	end, ok := w.p.CPU()
	if !ok || !w.ok {
		return 0, false
	}
	return end - w.start, true
}

// Metric is one measured value of a scenario.
type Metric struct {
	Name  string
	Unit  string
	Value float64
	// Higher is true when a larger value is better.
	Higher bool
}

// Result is the outcome of one scenario run. Problems are the things that
// make the run a failure (lost deliveries, errors, no throughput).
type Result struct {
	Scenario string
	Metrics  []Metric
	Problems []string
}

func (r *Result) add(name, unit string, v float64, higher bool) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Unit: unit, Value: v, Higher: higher})
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// perUnit returns the CPU time in µs per item, NaN when not measured.
func perUnit(cpu time.Duration, ok bool, n uint64) float64 {
	if !ok || n == 0 {
		return math.NaN()
	}
	return float64(cpu.Microseconds()) / float64(n)
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000 || (v == math.Trunc(v) && math.Abs(v) < 1e15):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
