package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Engine.IO 4 long-polling: one GET loop receives, one POST at a time sends
// what has queued since the previous POST (the server refuses overlapping
// requests of the same kind), packets separated by 0x1e.

const recordSeparator = 0x1e

// pollingClient is the HTTP client shared by the polling connections of a
// dialer (keep-alive; each connection uses two sockets).
type pollingClient struct {
	hc *http.Client
}

func newPollingClient(maxConns int) *pollingClient {
	tr := &http.Transport{
		MaxIdleConns:        2*maxConns + 16,
		MaxIdleConnsPerHost: 2*maxConns + 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &pollingClient{hc: &http.Client{Transport: tr}}
}

func (p *pollingClient) closeIdle() { p.hc.CloseIdleConnections() }

type pollTransport struct {
	hc     *http.Client
	url    string // with sid
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	queue   [][]byte
	closed  bool          // no more sends; a close packet is queued or the loops have stopped
	wake    chan struct{} // a send is queued
	written chan struct{} // the writer has stopped
}

func (p *pollingClient) dial(ctx context.Context, d *Dialer, c *Client) error {
	base := "http://" + d.Addr + d.Path + "?EIO=4&transport=polling"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"&t="+strconv.FormatInt(time.Now().UnixNano(), 36), nil)
	if err != nil {
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("polling handshake: %s: %s", resp.Status, truncate(body))
	}
	first, rest, _ := bytes.Cut(body, []byte{recordSeparator})
	if len(first) == 0 || first[0] != '0' {
		return fmt.Errorf("polling handshake: no open packet in %q", truncate(body))
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(first[1:], &open); err != nil || open.SID == "" {
		return fmt.Errorf("polling handshake: bad open packet %q", truncate(first))
	}
	tctx, cancel := context.WithCancel(context.Background())
	t := &pollTransport{
		hc:      p.hc,
		url:     base + "&sid=" + open.SID,
		ctx:     tctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		written: make(chan struct{}),
	}
	c.tr = t
	// The open packet asks for the namespace CONNECT; the rest of the
	// first payload (if any) is handled in order.
	if err := c.onPacket(first); err != nil {
		t.close()
		return err
	}
	for _, pkt := range bytes.Split(rest, []byte{recordSeparator}) {
		if len(pkt) > 0 {
			if err := c.onPacket(pkt); err != nil {
				t.close()
				return err
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	errs := make(chan error, 2)
	go func() { defer wg.Done(); errs <- t.pollLoop(c) }()
	go func() { defer wg.Done(); defer close(t.written); errs <- t.writeLoop() }()
	go func() {
		err := <-errs // the first loop to stop ends the connection
		t.shutdown()
		wg.Wait()
		c.ended(err)
	}()
	return nil
}

func (t *pollTransport) send(pkt []byte) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errors.New("polling transport closed")
	}
	t.queue = append(t.queue, bytes.Clone(pkt))
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

// close queues a close packet behind what is pending, gives the writer a
// bounded time to send it, and stops both loops.
func (t *pollTransport) close() {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		t.queue = append(t.queue, pktClose)
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	select {
	case <-t.written:
	case <-time.After(2 * time.Second):
	}
	t.shutdown()
}

func (t *pollTransport) shutdown() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
}

func (t *pollTransport) pollLoop(c *Client) error {
	for {
		if err := t.poll(t.ctx, c.onPacket); err != nil {
			return err
		}
	}
}

// poll makes one GET and hands each packet of the payload to onPacket.
func (t *pollTransport) poll(ctx context.Context, onPacket func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("poll: %s: %s", resp.Status, truncate(body))
	}
	for pkt := range bytes.SplitSeq(body, []byte{recordSeparator}) {
		if len(pkt) == 0 {
			continue
		}
		if err := onPacket(pkt); err != nil {
			return err
		}
	}
	return nil
}

func (t *pollTransport) writeLoop() error {
	var body []byte
	for {
		select {
		case <-t.ctx.Done():
			return t.ctx.Err()
		case <-t.wake:
		}
		t.mu.Lock()
		q, last := t.queue, t.closed
		t.queue = nil
		t.mu.Unlock()
		if len(q) == 0 {
			if last {
				return nil
			}
			continue
		}
		body = body[:0]
		for i, pkt := range q {
			if i > 0 {
				body = append(body, recordSeparator)
			}
			body = append(body, pkt...)
		}
		if err := t.post(t.ctx, body); err != nil || last {
			return err
		}
	}
}

func (t *pollTransport) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post: %s: %s", resp.Status, truncate(reply))
	}
	return nil
}
