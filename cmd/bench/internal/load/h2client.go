package load

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 viewers' client. Go's net/http client gives flow-control
// window back after every Read of 4 KiB or more (x/net/http2's
// inflowMinRefresh): a WINDOW_UPDATE for the stream, and often one for the
// connection, for every 16 KiB or so a viewer reads. The server pays for
// reading them; in a profile of flvedge's HTTP/2 server they were a fifth
// of its CPU. Browsers do not send them that often: Chromium (as far as we
// know from net/spdy/spdy_session.cc and spdy_stream.cc) advertises a
// 15 MB connection window and a 6 MB stream window and gives window back
// only once more than half of it has been consumed, or when 5 s have passed
// since its last update (time_to_buffer_small_window_updates); curl, through
// nghttp2, also updates at half of a large window. This client does what
// Chromium does, so that the load tool bills the server what real viewers
// cost.
const (
	h2StreamWindow = 6 << 20  // Chromium's stream receive window
	h2ConnWindow   = 15 << 20 // Chromium's connection (session) receive window
	// h2UpdateAfter is Chromium's time_to_buffer_small_window_updates: a
	// slow stream still gives its window back every few seconds.
	h2UpdateAfter = 5 * time.Second
	// h2MaxStreams is SETTINGS_MAX_CONCURRENT_STREAMS for streams the
	// server would open (none: push is off), as Chromium advertises it; it
	// is also the most viewers a shared connection takes when no
	// Config.ViewersPerConn is given, the limit most servers set.
	h2MaxStreams = 100
	// h2MaxHeaderList bounds a response's header list.
	h2MaxHeaderList = 64 << 10
)

// recvWindow is the receiving side of one flow-control window, a stream's
// or the connection's: bytes are counted as consumed when they arrive, since
// a viewer parses them at once.
type recvWindow struct {
	size    int64     // the window advertised
	unacked int64     // consumed since the last WINDOW_UPDATE
	last    time.Time // of the last WINDOW_UPDATE, or of the window's start
}

// consume counts n bytes consumed at now and returns the increment of the
// WINDOW_UPDATE to send: 0 for none yet.
func (w *recvWindow) consume(n int64, now time.Time) uint32 {
	w.unacked += n
	if w.unacked == 0 || w.unacked <= w.size/2 && now.Sub(w.last) < h2UpdateAfter {
		return 0
	}
	inc := w.unacked
	w.unacked, w.last = 0, now
	return uint32(inc)
}

// h2Pool opens the HTTP/2 connections of one target's viewers: perConn
// viewers share each (1: a connection each), in the order they come, as
// the players of one page do.
type h2Pool struct {
	addr      string
	tls       *tls.Config // with ALPN "h2" only
	authority string
	path      string
	perConn   int

	mu      sync.Mutex
	current *h2Slot
	used    int
	all     []*h2Slot // shared connections, closed with the pool
}

// h2Slot is a shared connection, being dialled until ready closes.
type h2Slot struct {
	ready    chan struct{}
	conn     *h2Conn
	category string // the dial's failure
	err      error
}

// conn returns a connection for one viewer and a function that gives it
// up: the viewer's own connection is closed then, a shared one stays open
// until the pool closes. On failure, it returns a failure category.
func (p *h2Pool) conn(ctx context.Context) (*h2Conn, func(), string, error) {
	if p.perConn == 1 {
		c, category, err := p.dial(ctx)
		if err != nil {
			return nil, nil, category, err
		}
		return c, c.close, "", nil
	}
	p.mu.Lock()
	slot, dial := p.current, false
	if slot == nil || p.used == p.perConn {
		slot, dial = &h2Slot{ready: make(chan struct{})}, true
		p.current, p.used = slot, 0
		p.all = append(p.all, slot)
	}
	p.used++
	p.mu.Unlock()
	if dial {
		// The connection outlives this viewer: its dial must not end with
		// the viewer's context.
		slot.conn, slot.category, slot.err = p.dial(context.WithoutCancel(ctx))
		close(slot.ready)
	}
	select {
	case <-slot.ready:
	case <-ctx.Done():
		return nil, nil, "", ctx.Err()
	}
	if slot.err != nil {
		return nil, nil, slot.category, slot.err
	}
	return slot.conn, func() {}, "", nil
}

// dial makes a connection: TCP, TLS with ALPN "h2", then the preface,
// within dialTimeout.
func (p *h2Pool) dial(ctx context.Context) (*h2Conn, string, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, dialFailure(err), err
	}
	tc := tls.Client(nc, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, "TLS handshake failed", err
	}
	if proto := tc.ConnectionState().NegotiatedProtocol; proto != "h2" {
		nc.Close()
		return nil, "TLS handshake failed", fmt.Errorf("ALPN %q: the server does not offer HTTP/2", proto)
	}
	c, err := newH2Conn(tc, p.authority, p.path)
	if err != nil {
		return nil, "request not sent", err
	}
	return c, "", nil
}

// close closes the shared connections, once their dials are over.
func (p *h2Pool) close() {
	p.mu.Lock()
	all := p.all
	p.all, p.current = nil, nil
	p.mu.Unlock()
	for _, slot := range all {
		<-slot.ready
		if slot.conn != nil {
			slot.conn.close()
		}
	}
}

// h2Conn is one HTTP/2 connection of viewers. Its reader goroutine reads
// every frame and hands each DATA frame's payload to its stream's viewer
// (viewer.receive, as for the other protocols), so that while a stream is
// open the reader is the one that writes its viewer's fields; the viewer's
// goroutine waits for the stream's end, which hands them back.
type h2Conn struct {
	nc        net.Conn
	fr        *http2.Framer
	authority string
	path      string
	done      chan struct{} // closed when the reader has returned

	// wmu orders the writes of frames: the viewers' HEADERS, the reader's
	// answers and window updates. It is taken before mu, never after.
	wmu  sync.Mutex
	henc *hpack.Encoder
	hbuf bytes.Buffer

	mu      sync.Mutex // held while the reader hands a frame to a stream
	streams map[uint32]*h2Stream
	nextID  uint32
	goAway  bool       // no new streams
	err     error      // why the connection ended
	connWin recvWindow // the reader's only
}

// h2Stream is one viewer's request.
type h2Stream struct {
	v        *viewer
	r        *runner
	win      recvWindow
	response bool          // the response's header came
	end      chan h2Result // gets one result when the stream ends
}

type h2Result struct {
	category string
	err      error
}

// newH2Conn sends the client's preface and settings on nc and starts the
// connection's reader.
func newH2Conn(nc net.Conn, authority, path string) (*h2Conn, error) {
	c := &h2Conn{nc: nc, authority: authority, path: path, done: make(chan struct{}),
		streams: map[uint32]*h2Stream{}, nextID: 1}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = h2MaxHeaderList
	c.henc = hpack.NewEncoder(&c.hbuf)
	now := time.Now()
	c.connWin = recvWindow{size: h2ConnWindow, last: now}
	_, err := io.WriteString(nc, http2.ClientPreface)
	if err == nil {
		err = c.fr.WriteSettings(
			http2.Setting{ID: http2.SettingEnablePush, Val: 0},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: h2MaxStreams},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList})
	}
	if err == nil {
		// The connection's window starts at 65535 bytes whatever the
		// settings say; only a WINDOW_UPDATE widens it.
		err = c.fr.WriteWindowUpdate(0, h2ConnWindow-65535)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("HTTP/2 preface: %w", err)
	}
	go c.read()
	return c, nil
}

// close closes the connection and waits for its reader.
func (c *h2Conn) close() {
	c.nc.Close()
	<-c.done
}

// open sends v's request on a new stream.
func (c *h2Conn) open(v *viewer, r *runner) (uint32, *h2Stream, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.err != nil || c.goAway {
		err := cmp.Or(c.err, errGoAway)
		c.mu.Unlock()
		return 0, nil, err
	}
	id := c.nextID
	c.nextID += 2
	s := &h2Stream{v: v, r: r, win: recvWindow{size: h2StreamWindow, last: time.Now()}, end: make(chan h2Result, 1)}
	c.streams[id] = s
	c.mu.Unlock()

	c.hbuf.Reset()
	for _, f := range [...]hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: c.authority}, {Name: ":path", Value: c.path},
		{Name: "user-agent", Value: userAgent},
	} {
		c.henc.WriteField(f)
	}
	// The reader fails the stream if the connection breaks.
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true})
	return id, s, err
}

var errGoAway = errors.New("the server sent GOAWAY")

// cancel ends stream id for a viewer that goes: once it returns, the reader
// no longer touches the viewer.
func (c *h2Conn) cancel(id uint32) {
	c.mu.Lock()
	_, open := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if open {
		c.wmu.Lock()
		c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		c.wmu.Unlock()
	}
}

// read reads frames until the connection fails or closes, then ends every
// stream still open.
func (c *h2Conn) read() {
	defer close(c.done)
	err := c.readFrames()
	c.nc.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	for id, s := range c.streams {
		category := readFailure(err)
		if !s.response && errors.Is(err, io.EOF) {
			category = "closed before the response header"
		}
		s.end <- h2Result{category, err}
		delete(c.streams, id)
	}
}

func (c *h2Conn) readFrames() error {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.endStream(se.StreamID, "bad response header", err, true)
				continue
			}
			return err
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if err := c.onData(f); err != nil {
				return err
			}
		case *http2.MetaHeadersFrame:
			c.onHeaders(f)
		case *http2.RSTStreamFrame:
			c.endStream(f.StreamID, "reset by the server", fmt.Errorf("RST_STREAM %v", f.ErrCode), false)
		case *http2.SettingsFrame:
			if err := c.onSettings(f); err != nil {
				return err
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := c.write(func() error { return c.fr.WritePing(true, f.Data) }); err != nil {
					return err
				}
			}
		case *http2.GoAwayFrame:
			c.onGoAway(f)
		case *http2.PushPromiseFrame:
			return errors.New("PUSH_PROMISE with push disabled")
		}
	}
}

func (c *h2Conn) write(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return f()
}

// onData hands a DATA frame to its viewer and gives window back.
func (c *h2Conn) onData(f *http2.DataFrame) error {
	now := time.Now()
	// Padding counts against the windows too.
	n := int64(f.Header().Length)
	connInc := c.connWin.consume(n, now)
	var streamInc uint32
	var result *h2Result
	c.mu.Lock()
	if s := c.streams[f.StreamID]; s != nil {
		switch {
		case !s.response:
			result = &h2Result{"bad response header", errors.New("DATA before the response's HEADERS")}
		default:
			if category, err := s.v.receive(f.Data(), s.r.now(), s.r); err != nil {
				result = &h2Result{category, err}
			} else if f.StreamEnded() {
				result = &h2Result{"ended by the server", errBodyEnded}
			} else {
				streamInc = s.win.consume(n, now)
			}
		}
		if result != nil {
			s.end <- *result
			delete(c.streams, f.StreamID)
		}
	}
	c.mu.Unlock()
	return c.write(func() error {
		if result != nil && !f.StreamEnded() {
			if err := c.fr.WriteRSTStream(f.StreamID, http2.ErrCodeCancel); err != nil {
				return err
			}
		}
		if streamInc > 0 {
			if err := c.fr.WriteWindowUpdate(f.StreamID, streamInc); err != nil {
				return err
			}
		}
		if connInc > 0 {
			return c.fr.WriteWindowUpdate(0, connInc)
		}
		return nil
	})
}

// onHeaders takes a response's header: the status, as the other
// protocols' viewers check it. Trailers end the stream.
func (c *h2Conn) onHeaders(f *http2.MetaHeadersFrame) {
	c.mu.Lock()
	s := c.streams[f.StreamID]
	if s == nil {
		c.mu.Unlock()
		return
	}
	v, r := s.v, s.r
	var result *h2Result
	switch status := f.PseudoValue("status"); {
	case s.response:
		result = &h2Result{"ended by the server", errBodyEnded}
	case status == "200":
		s.response = true
		v.ttfb = max(r.now()-v.joined, 1)
		v.remaining = -1
		v.lastRecv.Store(r.now())
		v.state.Store(int32(viewerReceiving))
		if f.StreamEnded() {
			result = &h2Result{"ended by the server", errBodyEnded}
		}
	default:
		code, err := strconv.Atoi(status)
		switch {
		case err != nil || len(status) != 3:
			result = &h2Result{"bad response header", fmt.Errorf(":status %q", status)}
		case code >= 200:
			v.ttfb = max(r.now()-v.joined, 1)
			result = &h2Result{"http status " + status, fmt.Errorf("status %d", code)}
		}
		// 1xx: the response is still to come.
	}
	c.mu.Unlock()
	if result != nil {
		c.endStream(f.StreamID, result.category, result.err, !f.StreamEnded())
	}
}

// endStream ends stream id with a result, and resets it if reset.
func (c *h2Conn) endStream(id uint32, category string, err error, reset bool) {
	c.mu.Lock()
	s := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.end <- h2Result{category, err}
	if reset {
		c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeCancel) })
	}
}

func (c *h2Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	return c.write(func() error {
		if size, ok := f.Value(http2.SettingHeaderTableSize); ok {
			c.henc.SetMaxDynamicTableSizeLimit(size)
		}
		return c.fr.WriteSettingsAck()
	})
}

// onGoAway ends the streams the server will not serve; the others run on.
func (c *h2Conn) onGoAway(f *http2.GoAwayFrame) {
	c.mu.Lock()
	c.goAway = true
	var refused []uint32
	for id := range c.streams {
		if id > f.LastStreamID {
			refused = append(refused, id)
		}
	}
	c.mu.Unlock()
	for _, id := range refused {
		c.endStream(id, "closed by the server", fmt.Errorf("GOAWAY %v", f.ErrCode), false)
	}
}

// watchH2 is watch for HTTP/2: the viewer's stream on a connection of the
// target's pool.
func (v *viewer) watchH2(ctx context.Context, r *runner, pool *h2Pool) (string, error) {
	c, release, category, err := pool.conn(ctx)
	if err != nil {
		return category, err
	}
	defer release()
	id, s, err := c.open(v, r)
	if err != nil {
		c.cancel(id)
		return "request not sent", err
	}
	select {
	case res := <-s.end:
		return res.category, res.err
	case <-ctx.Done():
		c.cancel(id)
		return "", ctx.Err()
	}
}
