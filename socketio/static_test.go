package socketio

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
)

var clientBundle = fstest.MapFS{
	"socket.io.js":             {Data: []byte("/* socket.io.js */")},
	"socket.io.js.map":         {Data: []byte(`{"version":3}`)},
	"socket.io.min.js":         {Data: []byte("/* min */")},
	"socket.io.esm.min.js":     {Data: []byte("/* esm */")},
	"socket.io.msgpack.min.js": {Data: []byte("/* msgpack */")},
	"other.js":                 {Data: []byte("not served")},
}

func staticGet(t *testing.T, ts *testServer, method, name string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.base+name, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestClientBundle(t *testing.T) {
	ts := newTestServer(t, Config{ClientFS: clientBundle})
	files := map[string]string{
		"socket.io.js":             "application/javascript; charset=utf-8",
		"socket.io.min.js":         "application/javascript; charset=utf-8",
		"socket.io.esm.min.js":     "application/javascript; charset=utf-8",
		"socket.io.msgpack.min.js": "application/javascript; charset=utf-8",
		"socket.io.js.map":         "application/json; charset=utf-8",
	}
	etags := map[string]bool{}
	for name, ctype := range files {
		resp, body := staticGet(t, ts, http.MethodGet, name, nil)
		if resp.StatusCode != http.StatusOK || body != string(clientBundle[name].Data) {
			t.Fatalf("%s: %d %q", name, resp.StatusCode, body)
		}
		etag := resp.Header.Get("ETag")
		if got := resp.Header.Get("Content-Type"); got != ctype {
			t.Errorf("%s: Content-Type %q", name, got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=0" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		if len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || etags[etag] {
			t.Errorf("%s: ETag %q", name, etag)
		}
		etags[etag] = true

		for _, inm := range []string{etag, "W/" + etag} {
			resp, body = staticGet(t, ts, http.MethodGet, name, http.Header{"If-None-Match": {inm}})
			if resp.StatusCode != http.StatusNotModified || body != "" {
				t.Errorf("%s If-None-Match %s: %d %q", name, inm, resp.StatusCode, body)
			}
		}
		resp, _ = staticGet(t, ts, http.MethodGet, name, http.Header{"If-None-Match": {`"stale"`}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s stale If-None-Match: %d", name, resp.StatusCode)
		}
	}
}

func TestClientBundleUnknownNamesFallThrough(t *testing.T) {
	ts := newTestServer(t, Config{ClientFS: clientBundle})
	const transportUnknown = `{"code":0,"message":"Transport unknown"}`
	for _, name := range []string{"other.js", "socket.io.slim.js", "sub/socket.io.js", "socket.io.jsx", "socket.io.js/"} {
		resp, body := staticGet(t, ts, http.MethodGet, name, nil)
		if resp.StatusCode != http.StatusBadRequest || body != transportUnknown {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}
	// A bundle name the file system lacks is not found.
	resp, _ := staticGet(t, ts, http.MethodGet, "socket.io.esm.min.js.map", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing bundle file: %d", resp.StatusCode)
	}
	// Only GET serves the bundle.
	resp, body := staticGet(t, ts, http.MethodPost, "socket.io.js", nil)
	if resp.StatusCode != http.StatusBadRequest || body != transportUnknown {
		t.Errorf("POST: %d %q", resp.StatusCode, body)
	}
	// Without ClientFS nothing is served.
	plain := newTestServer(t, Config{})
	resp, body = staticGet(t, plain, http.MethodGet, "socket.io.js", nil)
	if resp.StatusCode != http.StatusBadRequest || body != transportUnknown {
		t.Errorf("no ClientFS: %d %q", resp.StatusCode, body)
	}
	// The engine is still served under the same path.
	c := ts.dialPolling("")
	connect(t, c, "/", "")
}

func TestClientFSWithoutBundle(t *testing.T) {
	_, err := NewServer(Config{ClientFS: fstest.MapFS{"x.js": {}}, Logger: quietLogger()})
	if err == nil {
		t.Fatal("ClientFS without socket.io.js accepted")
	}
}
