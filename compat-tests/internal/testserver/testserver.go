// Package testserver is what the Go test servers of compat-tests have in
// common with each other: the way lib/server.mjs starts and stops them.
// A server listens on a port of 127.0.0.1 and prints
//
//	LISTENING 127.0.0.1:PORT
//
// as its first line on stdout; it stops on SIGINT or SIGTERM and, with
// -watch-stdin, when its standard input reaches end of file, so that it
// never outlives the test process that started it.
package testserver

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Logger logs to stderr: warnings and errors, or everything down to debug
// messages when verbose (the -v flag, which SIO_COMPAT_VERBOSE=1 sets).
func Logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Listen listens on addr and prints the LISTENING line. It exits the
// process when it cannot listen.
func Listen(addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LISTENING %s\n", ln.Addr())
	return ln
}

// Serve serves h on ln until the server is told to stop (SIGINT,
// SIGTERM, or the end of stdin when watchStdin is set), then calls stop,
// which must make hs.Serve return (hs.Close or hs.Shutdown), and returns
// once stop has returned.
func Serve(ln net.Listener, h http.Handler, watchStdin bool, stop func(hs *http.Server)) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			sig <- syscall.SIGTERM
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-sig
		stop(hs)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-done
}
