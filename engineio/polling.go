package engineio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-sio/sio/parser/eio"
)

var errPollOverlap = errors.New("engineio: overlapping poll requests")
var errDataOverlap = errors.New("engineio: overlapping data requests")
var errPollAborted = errors.New("engineio: poll connection closed prematurely")

// servePoll answers a long-poll GET: at once when packets are queued,
// otherwise when the first one is, or when the session closes.
func (srv *Server) servePoll(w http.ResponseWriter, r *http.Request, s *Session, q url.Values) {
	srv.polls.Add(1)
	defer srv.polls.Add(-1)
	s.mu.Lock()
	if s.getActive {
		s.closeLocked(ReasonTransportError, errPollOverlap)
		srv.refuse(w, &RequestError{Code: BadRequest, Context: "overlapping poll"})
		return
	}
	if s.state == stateClosed {
		s.mu.Unlock()
		srv.refuse(w, &RequestError{Code: UnknownSID})
		return
	}
	s.getActive = true
	if len(s.queue) == 0 && s.state == stateOpen && !s.websocket {
		ch := make(chan struct{})
		s.pollWait = ch
		s.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		if s.pollWait == ch { // not woken: the client went away
			s.pollWait = nil
			s.getActive = false
			s.closeLocked(ReasonTransportError, errPollAborted)
			return
		}
	}
	var packets []*Message
	switch {
	case s.websocket:
		// Upgraded while this poll waited: release it with a noop and
		// leave the queue to the WebSocket.
		packets = []*Message{msgNoop}
	default:
		packets = s.take()
		switch {
		case s.state == stateOpen:
		case s.state == stateClosed && s.reason == ReasonTransportClose:
			// The client sent the close packet: its poll is released
			// with a noop, as the reference does.
			packets = append(packets, msgNoop)
		case s.state == stateClosing && len(packets) > 0:
			// A graceful close delivers what was queued first, and the
			// close packet on the next poll, as the reference does: a
			// client handles the packets before it sees the close
			// (socket.io-client hands decoded packets to its sockets on a
			// microtask, but closes them at once on a close packet of the
			// same payload).
		default:
			packets = append(packets, msgClose)
		}
	}
	closing := s.state == stateClosing && len(packets) > 0 && packets[len(packets)-1] == msgClose
	jsonp, noB64 := s.jsonp, s.noB64
	s.getActive = false
	s.mu.Unlock()
	if closing {
		s.fail(s.reason, nil)
	}
	srv.stats.sent(s, packets, nil)
	srv.writePayload(w, r, s.rev, packets, jsonp, noB64)
}

// writePayload encodes packets as a polling response.
func (srv *Server) writePayload(w http.ResponseWriter, r *http.Request, rev eio.Revision, msgs []*Message, jsonp string, supportsBinary bool) {
	var arr [8]eio.Packet
	pkts := arr[:0]
	compress := false
	for _, m := range msgs {
		pkts = append(pkts, m.packet())
		compress = compress || m.compress
	}
	buf := payloadBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 64<<10 {
			*buf = (*buf)[:0]
			payloadBuffers.Put(buf)
		}
	}()
	body, binary := eio.AppendPayload((*buf)[:0], rev, pkts, supportsBinary && jsonp == "")
	contentType := "text/plain; charset=UTF-8"
	if jsonp != "" {
		wrapped := eio.AppendJSONP(nil, jsonp, body)
		body = wrapped
		contentType = "text/javascript; charset=UTF-8"
	} else if binary {
		contentType = "application/octet-stream"
	}
	*buf = body[:0]
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	if hc := srv.cfg.HTTPCompression; compress && !hc.Disable && len(body) >= hc.Threshold {
		if enc := acceptedEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			var zb bytes.Buffer
			if err := compressBody(&zb, enc, body); err == nil {
				h.Set("Content-Encoding", enc)
				h.Set("Content-Length", strconv.Itoa(zb.Len()))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(zb.Bytes())
				return
			}
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

var payloadBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// serveData handles a POST carrying packets from the client.
func (srv *Server) serveData(w http.ResponseWriter, r *http.Request, s *Session, q url.Values) {
	s.mu.Lock()
	if s.postActive {
		s.closeLocked(ReasonTransportError, errDataOverlap)
		srv.refuse(w, &RequestError{Code: BadRequest, Context: "overlapping data request"})
		return
	}
	s.postActive = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.postActive = false
		s.mu.Unlock()
	}()

	binaryBody := r.Header.Get("Content-Type") == "application/octet-stream"
	if binaryBody && s.rev != eio.Rev3 {
		s.fail(ReasonTransportError, errors.New("engineio: binary content on revision 4"))
		srv.refuse(w, &RequestError{Code: BadRequest, Context: "invalid content type"})
		return
	}
	limit := srv.cfg.MaxHTTPBufferSize
	if s.jsonp != "" {
		limit = limit*3 + 2 // form encoding of the payload
	}
	if r.ContentLength > limit {
		s.fail(ReasonTransportError, errors.New("engineio: request body too large"))
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		s.fail(ReasonTransportError, fmt.Errorf("engineio: reading request body: %w", err))
		srv.refuse(w, &RequestError{Code: BadRequest, Context: "body read error"})
		return
	}
	if int64(len(body)) > limit {
		s.fail(ReasonTransportError, errors.New("engineio: request body too large"))
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if s.jsonp != "" {
		body, err = eio.DecodeJSONPBody(body)
		if err == nil && int64(len(body)) > srv.cfg.MaxHTTPBufferSize {
			s.fail(ReasonTransportError, errors.New("engineio: request body too large"))
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
	}
	if err == nil {
		err = eio.DecodePayload(s.rev, body, binaryBody, func(p eio.Packet) error {
			s.onPacket(p, false)
			return nil
		})
	}
	if err != nil {
		s.fail(ReasonParseError, err)
		srv.refuse(w, &RequestError{Code: BadRequest, Context: err.Error()})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

// acceptedEncoding picks gzip or deflate from an Accept-Encoding header.
func acceptedEncoding(h string) string {
	var gzipOK, deflateOK bool
	for part := range strings.SplitSeq(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip":
			gzipOK = true
		case "deflate":
			deflateOK = true
		}
	}
	switch {
	case gzipOK:
		return "gzip"
	case deflateOK:
		return "deflate"
	}
	return ""
}

var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
var zlibWriters = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return w }}

func compressZlib(dst *bytes.Buffer, body []byte) error {
	zw := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(zw)
	zw.Reset(dst)
	if _, err := zw.Write(body); err != nil {
		return err
	}
	return zw.Close()
}

func compressBody(dst *bytes.Buffer, enc string, body []byte) error {
	if enc == "gzip" {
		zw := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(zw)
		zw.Reset(dst)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		return zw.Close()
	}
	// HTTP "deflate" is the zlib format.
	return compressZlib(dst, body)
}

// CORS handling, with the semantics of the cors npm module.

func (c *CORS) allowed(origin string) bool {
	if c.AllowOrigin != nil {
		return c.AllowOrigin(origin)
	}
	return slices.Contains(c.Origins, "*") || slices.Contains(c.Origins, origin)
}

// apply sets the CORS headers of a polling request and answers preflight
// requests; it reports whether the request was answered.
func (c *CORS) apply(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	origin := r.Header.Get("Origin")
	wildcard := c.AllowOrigin == nil && slices.Contains(c.Origins, "*") && !c.Credentials
	switch {
	case wildcard:
		h.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && c.allowed(origin):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions {
		if len(c.ExposedHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ","))
		}
		return false
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ","))
	if len(c.AllowedHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowedHeaders, ","))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}
