package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// A compact WebSocket client (RFC 6455): the HTTP upgrade on a raw TCP
// connection, masked frames out, unmasked frames in, no extensions. One
// reader goroutine per connection; writes are serialized by a mutex and
// go out in one write call per frame.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	maxMessage   = 16 << 20
	writeTimeout = 30 * time.Second
)

type wsTransport struct {
	conn net.Conn
	br   *bufio.Reader

	wmu    sync.Mutex
	wbuf   []byte
	closed bool
	seed   uint64 // mask generator state
}

func dialWebSocket(ctx context.Context, d *Dialer, c *Client) error {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	wsKey := base64.StdEncoding.EncodeToString(key[:])
	req := "GET " + d.Path + "?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + d.Addr + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return err
	}
	br := bufio.NewReaderSize(conn, 4096)
	if err := readUpgradeResponse(br, wsKey); err != nil {
		conn.Close()
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	t := &wsTransport{conn: conn, br: br, seed: binary.LittleEndian.Uint64(seed[:]) | 1}
	c.tr = t
	go t.readLoop(c)
	return nil
}

func readUpgradeResponse(br *bufio.Reader, key string) error {
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		return fmt.Errorf("reading the upgrade response: %w", err)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("reading the upgrade response headers: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		return fmt.Errorf("upgrade refused: %s", status)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if hdr.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return errors.New("upgrade response: bad Sec-WebSocket-Accept")
	}
	return nil
}

// send writes one text frame.
func (t *wsTransport) send(pkt []byte) error { return t.writeFrame(opText, pkt, writeTimeout) }

// writeFrame writes one masked frame, failing after timeout: a server that
// stops reading must not block the client forever.
func (t *wsTransport) writeFrame(op byte, payload []byte, timeout time.Duration) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	b := t.wbuf[:0]
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	// xorshift64: the mask only has to vary, not to be secret.
	t.seed ^= t.seed << 13
	t.seed ^= t.seed >> 7
	t.seed ^= t.seed << 17
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], uint32(t.seed))
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	maskBytes(b[start:], mask)
	_ = t.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := t.conn.Write(b)
	if cap(b) <= 4096 {
		t.wbuf = b
	}
	return err
}

func maskBytes(b []byte, mask [4]byte) {
	m := binary.LittleEndian.Uint32(mask[:])
	m64 := uint64(m) | uint64(m)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^m64)
	}
	for ; i < len(b); i++ {
		b[i] ^= mask[i&3]
	}
}

// close sends a close frame and closes the connection.
func (t *wsTransport) close() {
	_ = t.writeFrame(opClose, []byte{0x03, 0xE8}, time.Second) // 1000
	t.wmu.Lock()
	t.closed = true
	t.wmu.Unlock()
	_ = t.conn.Close()
}

func (t *wsTransport) readLoop(c *Client) {
	var msg []byte
	var msgOp byte
	var hdr [8]byte
	err := func() error {
		for {
			if _, err := io.ReadFull(t.br, hdr[:2]); err != nil {
				return err
			}
			fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0F
			if hdr[1]&0x80 != 0 {
				return errors.New("masked frame from the server")
			}
			n := uint64(hdr[1] & 0x7F)
			switch n {
			case 126:
				if _, err := io.ReadFull(t.br, hdr[:2]); err != nil {
					return err
				}
				n = uint64(binary.BigEndian.Uint16(hdr[:2]))
			case 127:
				if _, err := io.ReadFull(t.br, hdr[:8]); err != nil {
					return err
				}
				n = binary.BigEndian.Uint64(hdr[:8])
			}
			if n > maxMessage || uint64(len(msg))+n > maxMessage {
				return fmt.Errorf("frame of %d bytes is too large", n)
			}
			if op >= opClose { // control frame, may interleave with a fragmented message
				payload := make([]byte, n)
				if _, err := io.ReadFull(t.br, payload); err != nil {
					return err
				}
				switch op {
				case opPing:
					if err := t.writeFrame(opPong, payload, writeTimeout); err != nil {
						return err
					}
				case opClose:
					_ = t.writeFrame(opClose, payload[:min(len(payload), 2)], time.Second)
					return errors.New("websocket closed by the server")
				}
				continue
			}
			if op != opContinuation {
				msgOp = op
			}
			start := len(msg)
			msg = append(msg, make([]byte, n)...)
			if _, err := io.ReadFull(t.br, msg[start:]); err != nil {
				return err
			}
			if !fin {
				continue
			}
			if msgOp == opText {
				if err := c.onPacket(msg); err != nil {
					return err
				}
			}
			msg = msg[:0]
			if cap(msg) > 64<<10 {
				msg = nil
			}
		}
	}()
	t.wmu.Lock()
	t.closed = true
	t.wmu.Unlock()
	_ = t.conn.Close()
	c.ended(err)
}
