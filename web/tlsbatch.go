package web

import (
	"net"
	"sync"
)

// Batched TLS output: crypto/tls seals at most 16 KiB in a record and hands
// each record to its connection in a Write of its own, so a viewer's batch
// of 40 KiB over HTTPS costs three system calls where plain HTTP costs one
// writev, and on a busy edge those calls are most of the cost of HTTPS.
// newBatchListener puts a batchConn beneath each TLS connection: while a
// viewer's writer holds it (see connWriter), the records pile up in a
// pooled buffer and leave together when the writer lets go.

// newBatchListener wraps the TCP listener of an HTTPS server, beneath
// tls.NewListener or http.Server.ServeTLS, so that the live viewers it
// serves send each batch in as few system calls as its records fit in the
// buffer: HTTP/1.1 viewers hold it for a batch (connWriter), HTTP/2
// connections for each write of their writer (package h2). Connections
// nobody holds (the handshake, HTTP/1.1 VOD) write as before.
func newBatchListener(ln net.Listener) net.Listener { return batchListener{ln} }

type batchListener struct{ net.Listener }

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &batchConn{Conn: c}, nil
}

// batchBufferSize bounds what one viewer holds while its batch is sealed:
// four full TLS records, or about 150 ms of a 2 Mbit/s stream in one system
// call. A larger batch (a new viewer's first group of pictures) leaves in
// several.
const batchBufferSize = 4 * (16<<10 + 256)

var recordPool = sync.Pool{New: func() any {
	b := make([]byte, 0, batchBufferSize)
	return &b
}}

// batchConn is the TCP connection beneath a tls.Conn. Its Write is called
// by crypto/tls with one sealed record at a time, under the tls.Conn's
// output lock; mu orders them with Hold and Release, which another
// goroutine calls.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held *[]byte // pooled, while a writer holds the output
	// err is the first failed write of held records: crypto/tls took them
	// as sent, so nothing may follow them on the wire.
	err error
}

// Hold keeps the records written from now on until Release. It and
// Release are exported for the HTTP/2 server (package h2), which finds
// them beneath the TLS conn and holds each of its writes.
func (c *batchConn) Hold() {
	c.mu.Lock()
	if c.held == nil {
		c.held = recordPool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// Release writes the records kept since Hold in one Write, within the
// connection's write deadline, and writes the next ones at once again.
func (c *batchConn) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return c.err
	}
	err := c.flushLocked()
	*c.held = (*c.held)[:0]
	recordPool.Put(c.held)
	c.held = nil
	return err
}

func (c *batchConn) flushLocked() error {
	if c.err != nil {
		return c.err
	}
	if b := *c.held; len(b) > 0 {
		*c.held = b[:0]
		if _, err := c.Conn.Write(b); err != nil {
			c.err = err
			return err
		}
	}
	return nil
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.held == nil {
		return c.Conn.Write(p)
	}
	if len(*c.held)+len(p) > cap(*c.held) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(*c.held) {
			n, err := c.Conn.Write(p)
			if err != nil {
				c.err = err
			}
			return n, err
		}
	}
	// The record's buffer is crypto/tls's, reused for the next record.
	*c.held = append(*c.held, p...)
	return len(p), nil
}

// heldOutput is the batchConn beneath conn, if conn is a TLS connection
// accepted through newBatchListener.
func heldOutput(conn net.Conn) *batchConn {
	netConn, ok := conn.(interface{ NetConn() net.Conn })
	if !ok {
		return nil
	}
	bc, _ := netConn.NetConn().(*batchConn)
	return bc
}
