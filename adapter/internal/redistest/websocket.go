package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// DialWebSocket opens an Engine.IO 4 WebSocket connection to the
// Socket.IO server at addr (a host:port). The reader returned reads what
// follows the handshake.
func DialWebSocket(t testing.TB, addr, name string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, WaitLong)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	_ = conn.SetDeadline(time.Now().Add(WaitLong))
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		addr, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		_ = conn.Close()
		t.Fatalf("%s: websocket handshake: %v", name, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = conn.Close()
		t.Fatalf("%s: websocket handshake: %s", name, resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, br
}

// WriteFrame writes one masked frame, as a client does. Callers writing
// from several goroutines serialize the calls.
func WriteFrame(w io.Writer, op byte, payload []byte) error {
	frame := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n < 1<<16:
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	_, err := w.Write(frame)
	return err
}

// ReadFrame reads one message from the server (fragments joined).
func ReadFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	for {
		var h [2]byte
		if _, err = io.ReadFull(br, h[:]); err != nil {
			return 0, nil, err
		}
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("masked frame from the server")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err = io.ReadFull(br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err = io.ReadFull(br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		buf := make([]byte, n)
		if _, err = io.ReadFull(br, buf); err != nil {
			return 0, nil, err
		}
		if opcode := h[0] & 0x0f; opcode != 0 {
			op = opcode
		}
		payload = append(payload, buf...)
		if h[0]&0x80 != 0 {
			return op, payload, nil
		}
	}
}
