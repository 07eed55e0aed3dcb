package gopool

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestRunsEveryTaskAndGoesIdle(t *testing.T) {
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		Go(func() {
			mu.Lock()
			n++
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if n != 1000 {
		t.Fatalf("ran %d tasks, want 1000", n)
	}
	// Idle workers are reused, then exit after IdleTimeout.
	deadline := time.Now().Add(IdleTimeout + 3*time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, baseline %d", runtime.NumGoroutine(), base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReusesIdleWorker(t *testing.T) {
	done := make(chan struct{})
	Go(func() { close(done) })
	<-done
	deadline := time.Now().Add(time.Second)
	for idle.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("worker never went idle")
		}
		time.Sleep(time.Millisecond)
	}
	before := runtime.NumGoroutine()
	done2 := make(chan struct{})
	Go(func() { close(done2) })
	<-done2
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("a new goroutine was started (%d -> %d) while one was idle", before, after)
	}
}

// BenchmarkHandoff is one task handed to a pooled goroutine and waited for.
func BenchmarkHandoff(b *testing.B) {
	done := make(chan struct{})
	f := func() { done <- struct{}{} }
	b.ReportAllocs()
	for b.Loop() {
		Go(f)
		<-done
	}
}
