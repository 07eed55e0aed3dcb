package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The soak's upgrading clients: they open a session over long-polling and
// move it to a WebSocket at once, as socket.io-client does, while their
// events keep flowing: "2probe" on the new WebSocket, "3probe" back, then
// polling pauses (the GET in flight returns, the POST in flight ends),
// "5" on the WebSocket, and from then on everything goes over it. What the
// client sends meanwhile waits, in order, for the WebSocket.

const (
	upPolling = iota
	upUpgrading
	upWebSocket
	upClosed
)

type upgradeTransport struct {
	c      *Client
	hc     *http.Client
	addr   string
	path   string
	sid    string
	url    string // polling URL with the sid
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	state int
	queue [][]byte
	ws    *wsTransport
	wake  chan struct{}

	pollDone  chan struct{}
	writeDone chan struct{}
	endOnce   sync.Once
}

// dialUpgrading connects a client over polling, starts its upgrade and
// returns once the namespace is joined; upgraded receives nil once the
// session is on the WebSocket, or why it is not.
func dialUpgrading(ctx context.Context, d *Dialer, onEvent eventFunc, upgraded chan<- error) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	c := newClient(onEvent)
	if err := startUpgrading(ctx, d, c, upgraded); err != nil {
		return nil, err
	}
	select {
	case <-c.connected:
		if c.connErr != nil {
			c.Close()
			return nil, c.connErr
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("connection ended before the namespace was joined: %w", c.endErr)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("waiting for the namespace: %w", ctx.Err())
	}
}

func startUpgrading(ctx context.Context, d *Dialer, c *Client, upgraded chan<- error) error {
	base := "http://" + d.Addr + d.Path + "?EIO=4&transport=polling"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		return err
	}
	resp, err := d.poll.hc.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	first, rest, _ := bytes.Cut(body, []byte{recordSeparator})
	var open struct {
		SID      string   `json:"sid"`
		Upgrades []string `json:"upgrades"`
	}
	if resp.StatusCode != http.StatusOK || len(first) < 2 || first[0] != '0' || json.Unmarshal(first[1:], &open) != nil || open.SID == "" {
		return fmt.Errorf("polling handshake: %s %q", resp.Status, truncate(body))
	}
	tctx, cancel := context.WithCancel(context.Background())
	t := &upgradeTransport{
		c: c, hc: d.poll.hc, addr: d.Addr, path: d.Path, sid: open.SID, url: base + "&sid=" + open.SID,
		ctx: tctx, cancel: cancel, wake: make(chan struct{}, 1),
		pollDone: make(chan struct{}), writeDone: make(chan struct{}),
	}
	c.tr = t
	for _, pkt := range append([][]byte{first}, bytes.Split(rest, []byte{recordSeparator})...) {
		if len(pkt) == 0 {
			continue
		}
		if err := c.onPacket(pkt); err != nil {
			t.close()
			return err
		}
	}
	go func() {
		defer close(t.pollDone)
		if err := t.pollLoop(); err != nil {
			t.fail(err)
		}
	}()
	go func() {
		defer close(t.writeDone)
		if err := t.writeLoop(); err != nil {
			t.fail(err)
		}
	}()
	go func() { upgraded <- t.upgrade() }()
	return nil
}

func (t *upgradeTransport) polling() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == upPolling
}

// fail ends the connection for err.
func (t *upgradeTransport) fail(err error) {
	t.mu.Lock()
	t.state = upClosed
	ws := t.ws
	t.mu.Unlock()
	t.cancel()
	if ws != nil {
		_ = ws.conn.Close()
	}
	t.endOnce.Do(func() { t.c.ended(err) })
}

func (t *upgradeTransport) pollLoop() error {
	pt := pollTransport{hc: t.hc, url: t.url}
	for t.polling() {
		if err := pt.poll(t.ctx, t.c.onPacket); err != nil {
			return err
		}
	}
	return nil
}

// writeLoop posts what is queued while the session polls.
func (t *upgradeTransport) writeLoop() error {
	var body []byte
	for {
		select {
		case <-t.ctx.Done():
			return nil
		case <-t.wake:
		}
		t.mu.Lock()
		if t.state != upPolling {
			t.mu.Unlock()
			return nil // the queue waits for the WebSocket
		}
		q := t.queue
		t.queue = nil
		t.mu.Unlock()
		if len(q) == 0 {
			continue
		}
		body = bytes.Join(q, []byte{recordSeparator})
		pt := pollTransport{hc: t.hc, url: t.url}
		if err := pt.post(t.ctx, body); err != nil {
			return err
		}
	}
}

func (t *upgradeTransport) send(pkt []byte) error {
	t.mu.Lock()
	switch t.state {
	case upWebSocket:
		ws := t.ws
		t.mu.Unlock()
		return ws.send(pkt)
	case upClosed:
		t.mu.Unlock()
		return errors.New("connection closed")
	}
	t.queue = append(t.queue, bytes.Clone(pkt))
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

// upgrade moves the session to a WebSocket.
func (t *upgradeTransport) upgrade() error {
	var nd net.Dialer
	ctx, cancel := context.WithTimeout(t.ctx, 15*time.Second)
	defer cancel()
	conn, err := nd.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	var key [16]byte
	_, _ = crand.Read(key[:])
	wsKey := base64.StdEncoding.EncodeToString(key[:])
	_, err = io.WriteString(conn, "GET "+t.path+"?EIO=4&transport=websocket&sid="+t.sid+" HTTP/1.1\r\nHost: "+t.addr+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+wsKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReaderSize(conn, 4096)
	if err == nil {
		err = readUpgradeResponse(br, wsKey)
	}
	ws := &wsTransport{conn: conn, br: br, seed: binary.LittleEndian.Uint64(key[:8]) | 1}
	if err == nil {
		err = ws.send([]byte("2probe"))
	}
	if err == nil {
		err = expectProbeAnswer(br)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("probe: %w", err)
	}
	// Pause polling: the server answers the GET in flight (with a noop if
	// nothing else), the POST in flight ends.
	t.mu.Lock()
	if t.state != upPolling {
		t.mu.Unlock()
		conn.Close()
		return errors.New("connection ended before the upgrade")
	}
	t.state = upUpgrading
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	for _, ch := range []chan struct{}{t.pollDone, t.writeDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			conn.Close()
			return errors.New("polling did not pause")
		}
	}
	if err := ws.send([]byte("5")); err != nil {
		conn.Close()
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	// What was sent meanwhile goes first, in order.
	t.mu.Lock()
	if t.state != upUpgrading {
		t.mu.Unlock()
		conn.Close()
		return errors.New("connection ended during the upgrade")
	}
	for _, pkt := range t.queue {
		if err := ws.send(pkt); err != nil {
			t.mu.Unlock()
			conn.Close()
			return err
		}
	}
	t.queue = nil
	t.ws = ws
	t.state = upWebSocket
	t.mu.Unlock()
	go func() {
		ws.readLoop(t.c) // calls c.ended when the WebSocket ends
		t.cancel()
	}()
	return nil
}

// expectProbeAnswer reads frames until the text "3probe".
func expectProbeAnswer(br *bufio.Reader) error {
	var hdr [2]byte
	for range 16 {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := int(hdr[1] & 0x7F)
		if n > 125 {
			return fmt.Errorf("unexpected %d-byte frame before 3probe", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		switch op := hdr[0] & 0x0F; {
		case op == opText && string(payload) == "3probe":
			return nil
		case op == opClose:
			return errors.New("the server closed the probe")
		}
	}
	return errors.New("no 3probe")
}

// close ends the connection gracefully: a close packet on the current
// transport.
func (t *upgradeTransport) close() {
	t.mu.Lock()
	state, ws := t.state, t.ws
	if state == upPolling {
		t.queue = append(t.queue, pktClose)
	}
	t.mu.Unlock()
	switch state {
	case upWebSocket:
		ws.close()
	case upPolling:
		select {
		case t.wake <- struct{}{}:
		default:
		}
		select {
		case <-t.writeDone:
		case <-time.After(2 * time.Second):
		}
		t.fail(errors.New("closed"))
	default:
		t.fail(errors.New("closed"))
	}
}

// cut ends the connection without a close packet.
func (t *upgradeTransport) cut() {
	t.mu.Lock()
	ws := t.ws
	t.mu.Unlock()
	if ws != nil {
		ws.wmu.Lock()
		ws.closed = true
		ws.wmu.Unlock()
		_ = ws.conn.Close()
		return
	}
	t.fail(errors.New("cut"))
}
