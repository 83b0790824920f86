package h2

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The writer: what is queued (the control frames and headers in c.ctrl,
// then DATA frames of the streams in c.ready, one frame of each in turn
// while they have data and window) is taken into one buffer and sent with
// one Write to the connection: a turn. One turn runs at a time (c.writing).
// A handler whose Write finds no turn running takes one itself, which
// spares the two goroutine switches of a handoff; everything else (and
// what is left when a handler's own data are taken) is the turn of the
// connection's writer goroutine. A stream without window leaves the turns
// until a WINDOW_UPDATE brings it back, so it holds no other stream back.

// writeBatch is how much data one turn gathers before it writes: several
// viewers' batches (about 40 KiB each at 1000 viewers of a 2 Mbit/s
// stream; a larger one, a new viewer's first GOP, takes several turns).
// The buffer is pooled, so an idle connection holds none.
const writeBatch = 128 << 10

var outPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBatch+maxDataFrame+64)
	return &b
}}

// maxDataFrame bounds DATA frames, whatever larger frames the client
// takes, so that a turn's buffer stays near writeBatch. The frames are
// written together, so their size does not decide the TLS records'.
const maxDataFrame = 16 << 10

// writeLoop takes the turns nobody else takes until the connection
// closes, then closes it.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer func() { _ = c.nc.Close() }()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.writing || !c.closing && !c.hasOutputLocked() {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if c.done {
			return
		}
		last := c.closing
		if err := c.turnLocked(); err != nil || last {
			return
		}
	}
}

// hasOutputLocked reports whether a turn would have something to send.
func (c *conn) hasOutputLocked() bool {
	return len(c.ctrl) > 0 || c.ready.size > 0 && c.sendWindow > 0
}

// turnLocked takes what is queued and writes it, without c.mu while it
// writes. A failed write ends the connection. Once a connection closes,
// the turn takes its last output and nothing more is queued.
func (c *conn) turnLocked() error {
	c.writing = true
	out := c.takeLocked()
	if c.closing {
		c.done = true
	}
	c.mu.Unlock()
	var err error
	if len(*out) > 0 {
		err = c.flush(*out)
	}
	*out = (*out)[:0]
	outPool.Put(out)
	c.mu.Lock()
	c.writing = false
	if err != nil {
		c.done, c.closing = true, true
		for _, st := range c.streams {
			c.closeStreamLocked(st, errConnClosed)
		}
		_ = c.nc.Close() // ends the reader
	}
	if c.closing || c.hasOutputLocked() {
		c.wakeWriter()
	}
	return err
}

// takeLocked takes the control frames and then, unless the connection is
// closing, the streams' data, in turn, into a pooled buffer.
func (c *conn) takeLocked() *[]byte {
	out := outPool.Get().(*[]byte)
	b := append((*out)[:0], c.ctrl...)
	if cap(c.ctrl) > 64<<10 {
		c.ctrl = nil // a burst of control frames is over: let its buffer go
	} else {
		c.ctrl = c.ctrl[:0]
	}
	c.ctrlQueued = 0
	for !c.closing && len(b) < writeBatch && c.sendWindow > 0 {
		st := c.ready.pop()
		if st == nil {
			break
		}
		st.queued = false
		if st.closed || st.left == 0 || st.sendWindow <= 0 {
			continue
		}
		n := int(min(int64(st.left), st.sendWindow, c.sendWindow, int64(min(c.peerMaxData, maxDataFrame))))
		b = appendFrameHeader(b, n, http2.FrameData, 0, st.id)
		b = st.appendPendingLocked(b, n)
		st.left -= n
		st.taken += n
		st.sendWindow -= int64(n)
		c.sendWindow -= int64(n)
		if st.left == 0 {
			st.pending = nil
			signal(st.wrote)
		} else {
			c.scheduleLocked(st)
		}
	}
	*out = b
	return out
}

// flush writes b with one Write, within the write timeout; beneath a TLS
// conn, its records are held so that they leave in one system call. The
// deadline is moved on when a quarter of the timeout has passed, not at
// every write: a client that reads nothing is cut off after 3/4 to all of
// the timeout.
func (c *conn) flush(b []byte) error {
	if now := time.Now(); now.Sub(c.deadlineSet) > c.writeTO/4 {
		if err := c.nc.SetWriteDeadline(now.Add(c.writeTO)); err != nil {
			return err
		}
		c.deadlineSet = now
	}
	if c.held != nil {
		c.held.Hold()
	}
	_, err := c.nc.Write(b)
	if c.held != nil {
		if rerr := c.held.Release(); err == nil {
			err = rerr
		}
	}
	return err
}

// queueHeadersLocked encodes a response's header, in the order the
// HEADERS frames are sent (HPACK's table depends on it), as one HEADERS
// frame and CONTINUATION frames if it is larger than the client's frames.
// A stream already ended gets none: nothing but PRIORITY may follow a
// stream's end (RFC 9113, 5.1). The frames count as provoked by the client
// (see onHeaders).
func (c *conn) queueHeadersLocked(st *stream, status int, h http.Header, end bool) {
	if c.done || st.closed {
		return
	}
	c.ctrlQueued++
	c.hbuf = c.hbuf[:0]
	_ = c.henc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	for k, vv := range h {
		name := lowerName(k)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue // not in HTTP/2 (RFC 9113, 8.2.2)
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				_ = c.henc.WriteField(hpack.HeaderField{Name: name, Value: v})
			}
		}
	}
	block := c.hbuf
	typ, flags := http2.FrameHeaders, http2.Flags(0)
	if end {
		flags = http2.FlagHeadersEndStream
	}
	for {
		n := min(len(block), int(c.peerMaxData))
		frag := block[:n]
		block = block[n:]
		if len(block) == 0 {
			flags |= http2.FlagHeadersEndHeaders
		}
		c.ctrl = appendFrameHeader(c.ctrl, n, typ, flags, st.id)
		c.ctrl = append(c.ctrl, frag...)
		if len(block) == 0 {
			break
		}
		typ, flags = http2.FrameContinuation, 0
	}
	c.wakeWriter()
}

// hpackWriter takes the encoder's output into c.hbuf, under c.mu.
type hpackWriter struct{ c *conn }

func (w hpackWriter) Write(p []byte) (int, error) {
	w.c.hbuf = append(w.c.hbuf, p...)
	return len(p), nil
}

// lowerNames spares the lowering of the usual header names.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept-Ranges", "Access-Control-Allow-Origin", "Alt-Svc", "Cache-Control",
		"Content-Encoding", "Content-Length", "Content-Range", "Content-Type", "Date", "Etag", "Expires",
		"Last-Modified", "Location", "Server", "Set-Cookie", "Vary", "X-Cache-Status", "X-Content-Type-Options"} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

func lowerName(k string) string {
	if l, ok := lowerNames[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// Frames (RFC 9113, 4.1 and 6), appended to b.

func appendFrameHeader(b []byte, length int, typ http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func appendData(b []byte, id uint32, flags http2.Flags, data []byte) []byte {
	return append(appendFrameHeader(b, len(data), http2.FrameData, flags, id), data...)
}

func appendRSTStream(b []byte, id uint32, code http2.ErrCode) []byte {
	return binary.BigEndian.AppendUint32(appendFrameHeader(b, 4, http2.FrameRSTStream, 0, id), uint32(code))
}

func appendSettings(b []byte, settings []http2.Setting) []byte {
	b = appendFrameHeader(b, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

func appendSettingsAck(b []byte) []byte {
	return appendFrameHeader(b, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
}

func appendPing(b []byte, data [8]byte) []byte {
	return append(appendFrameHeader(b, 8, http2.FramePing, http2.FlagPingAck, 0), data[:]...)
}

func appendGoAway(b []byte, lastID uint32, code http2.ErrCode) []byte {
	b = appendFrameHeader(b, 8, http2.FrameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, lastID&0x7fffffff)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

func appendWindowUpdate(b []byte, id, inc uint32) []byte {
	return binary.BigEndian.AppendUint32(appendFrameHeader(b, 4, http2.FrameWindowUpdate, 0, id), inc&0x7fffffff)
}
