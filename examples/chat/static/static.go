// Package static is the chat page: index.html, app.js and style.css,
// embedded. examples/chat serves it, and so does every node of
// examples/cluster: the page is the same whether one server or a cluster
// answers it.
package static

import "embed"

// FS holds index.html, app.js and style.css at its root.
//
//go:embed index.html app.js style.css
var FS embed.FS
