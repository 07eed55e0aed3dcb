package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ErrorCode is an Engine.IO HTTP error code, part of the wire contract.
type ErrorCode int

// The error codes of the reference server.
const (
	UnknownTransport           ErrorCode = 0
	UnknownSID                 ErrorCode = 1
	BadHandshakeMethod         ErrorCode = 2
	BadRequest                 ErrorCode = 3
	Forbidden                  ErrorCode = 4
	UnsupportedProtocolVersion ErrorCode = 5
)

var errorMessages = [...]string{
	UnknownTransport:           "Transport unknown",
	UnknownSID:                 "Session ID unknown",
	BadHandshakeMethod:         "Bad handshake method",
	BadRequest:                 "Bad request",
	Forbidden:                  "Forbidden",
	UnsupportedProtocolVersion: "Unsupported protocol version",
}

// String returns the reference message for the code.
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(errorMessages) {
		return errorMessages[c]
	}
	return "Unknown error"
}

// RequestError describes a rejected request, as passed to
// Config.OnConnectionError hooks and written to the client.
type RequestError struct {
	Code    ErrorCode
	Message string // the message sent; defaults to Code.String()
	Context string // what went wrong, for logs (not sent)

	status int // HTTP status, when not the code's
}

// errShuttingDown refuses requests a server shutting down (or closed) no
// longer serves: 503 rather than a reference code, so that load balancers
// and clients retry elsewhere.
var errShuttingDown = &RequestError{Code: BadRequest, Message: "Server shutting down", status: http.StatusServiceUnavailable}

func (e *RequestError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Context != "" {
		return "engineio: " + msg + " (" + e.Context + ")"
	}
	return "engineio: " + msg
}

// ErrSessionClosed is returned by writes on a closed session.
var ErrSessionClosed = errors.New("engineio: session closed")

// ErrServerClosed is returned for operations on a closed server.
var ErrServerClosed = errors.New("engineio: server closed")

// ErrWriteBufferFull is the error given with ReasonWriteBufferFull.
var ErrWriteBufferFull = errors.New("engineio: write buffer full")

// writeRequestError answers an HTTP request the way the reference does:
// 403 for Forbidden, 400 otherwise, with {"code":N,"message":"..."}.
func writeRequestError(w http.ResponseWriter, e *RequestError) {
	status := e.httpStatus()
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	body := make([]byte, 0, 64)
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(e.Code), 10)
	body = append(body, `,"message":`...)
	quoted, _ := json.Marshal(msg)
	body = append(body, quoted...)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeUpgradeError answers a WebSocket upgrade request the way the
// reference does: 400 (403 for Forbidden) with the message as text and the
// connection closed.
func writeUpgradeError(w http.ResponseWriter, e *RequestError) {
	status := e.httpStatus()
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func (e *RequestError) httpStatus() int {
	switch {
	case e.status != 0:
		return e.status
	case e.Code == Forbidden:
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}
