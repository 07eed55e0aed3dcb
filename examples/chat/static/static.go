// Package static is the chat page: index.html, app.js and style.css,
// embedded, and what serving it takes. examples/chat serves it, and so
// does every node of examples/cluster: the page is the same whether one
// server or a cluster answers it.
package static

import (
	"embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// FS holds index.html, app.js and style.css at its root.
//
//go:embed index.html app.js style.css
var FS embed.FS

// Handler serves the page with a Content Security Policy: scripts,
// styles and connections only from this server.
func Handler() http.Handler {
	files := http.FileServerFS(FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// CheckClient reports an error when clientDir has no socket.io.js. The
// page loads the client from /socket.io/socket.io.js, which the Socket.IO
// server serves from that directory (Config.ClientFS): the dist directory
// of the socket.io-client npm package, which `npm ci` in the repository
// root installs.
func CheckClient(clientDir string) error {
	if _, err := os.Stat(filepath.Join(clientDir, "socket.io.js")); err != nil {
		return fmt.Errorf("the socket.io client bundle is missing (no socket.io.js in %s): "+
			"run `npm ci` in the repository root to install it and start the server from there, "+
			"or point -client at a directory holding socket.io.js", clientDir)
	}
	return nil
}

// URL is the address to open the page at, for a server listening on a:
// with "localhost" when it listens on every interface.
func URL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
