package socketio

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// staticFiles serves the socket.io client bundle the way the reference's
// serveClient does: fixed file names, an ETag, 304 for a matching
// If-None-Match, and Cache-Control: public, max-age=0.
type staticFiles struct {
	fsys  fs.FS
	mu    sync.Mutex
	files map[string]*staticFile
}

type staticFile struct {
	body []byte
	etag string
}

var clientFileName = regexp.MustCompile(`^socket\.io(\.msgpack|\.esm)?(\.min)?\.js(\.map)?$`)

func newStaticFiles(fsys fs.FS) *staticFiles {
	return &staticFiles{fsys: fsys, files: map[string]*staticFile{}}
}

// serve answers a request for name (the path under the server's path) and
// reports whether it did.
func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request, name string) bool {
	if !clientFileName.MatchString(name) {
		return false
	}
	f, ok := sf.load(name)
	if !ok {
		http.NotFound(w, r)
		return true
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if inm == f.etag || inm == "W/"+f.etag {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=0")
	if strings.HasSuffix(name, ".map") {
		h.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/javascript; charset=utf-8")
	}
	h.Set("ETag", f.etag)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.body)
	return true
}

func (sf *staticFiles) load(name string) (*staticFile, bool) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if f, ok := sf.files[name]; ok {
		return f, f != nil
	}
	body, err := fs.ReadFile(sf.fsys, name)
	if err != nil {
		sf.files[name] = nil
		return nil, false
	}
	sum := sha256.Sum256(body)
	f := &staticFile{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	sf.files[name] = f
	return f, true
}
