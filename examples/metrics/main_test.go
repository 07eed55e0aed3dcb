package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsEndpoint(t *testing.T) {
	h, sio, err := newHandler(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { sio.Close(); hs.Close() })

	// One polling session, joined to the main namespace.
	resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	open, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sid, _, _ := strings.Cut(strings.TrimPrefix(string(open), `0{"sid":"`), `"`)
	resp, err = http.Post(hs.URL+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The CONNECT reply: the socket is connected.
	resp, err = http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(reply), `40{"sid":`) {
		t.Fatalf("CONNECT reply %q", reply)
	}

	resp, err = http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`engineio_sessions{transport="polling"} 1`,
		`engineio_sessions_opened_total 1`,
		`socketio_namespaces 1`,
		`socketio_sockets{namespace="/"} 1`,
		`socketio_connects_total 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), "\n"+line) {
			t.Errorf("no %q in\n%s", line, body)
		}
	}
}
