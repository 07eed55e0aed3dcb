// Package engineio is an Engine.IO server (protocol revisions 4 and 3): the
// transport layer under Socket.IO, usable on its own.
//
// A Server is an http.Handler serving HTTP long-polling (XHR, and JSONP for
// revision 3) and WebSocket, with the upgrade from polling to WebSocket,
// heartbeats, limits, CORS and the error replies of the Node.js reference
// server (engine.io 6.x). The layer above implements Handler to receive
// sessions and their messages.
//
// # Concurrency and resources
//
// Each session has one outbound queue. Send never blocks: on WebSocket the
// queued frames are written in one non-blocking write (several frames
// gathered in one buffer when they accumulate), on polling they wait for
// the client's next GET, which takes them all in one response. What is held
// for a client is bounded in bytes (Config.MaxWriteBuffer): a client that
// does not read is disconnected with ReasonWriteBufferFull rather than
// slowing down the others or growing the server's memory.
//
// Server.Shutdown stops a server gracefully: new sessions are refused, every
// client gets what is queued for it and then the close, and Shutdown returns
// once every handler call has returned. Server.Close is the immediate form.
//
// WebSocket connections on plain TCP are served by an event poller: an idle
// connection costs no goroutine and no read or write buffer. Incoming
// messages are handed to the Handler from a per-session goroutine that
// exists only while there are messages to deliver. Heartbeats of all
// sessions share one timing wheel (one goroutine per server) instead of
// timers per session.
//
// A Message is immutable and can be sent to many sessions; its WebSocket
// frame is built once and the same bytes are written to every recipient.
package engineio
