package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// conn is one HTTP/2 connection. Its serve goroutine reads and handles the
// client's frames; what the connection and its streams queue is sent in
// turns (writer.go), by a handler that finds none under way or by the
// connection's writer goroutine; each stream's handler runs in a
// goroutine of its own. Everything they share is under mu, held briefly:
// no one waits for the network or for a handler with it.
type conn struct {
	srv        *Server
	nc         net.Conn
	raw        net.Conn // beneath the TLS conn; nc without TLS
	handler    http.Handler
	ctx        context.Context // of the requests; cancelled when the conn ends
	cancel     context.CancelFunc
	tlsState   *tls.ConnectionState // shared by the conn's requests; nil without TLS
	remoteAddr string
	held       holder // beneath the TLS conn: keeps a write's records for one system call
	fr         *http2.Framer
	in         *budgetReader

	maxStreams    uint32
	maxBody       int32
	maxHeaderList uint32
	readHeaderTO  time.Duration
	idleTO        time.Duration
	writeTO       time.Duration

	wake        chan struct{} // the writer has something to do; capacity 1
	writerDone  chan struct{}
	deadlineSet time.Time // when the writer last moved the write deadline

	mu          sync.Mutex
	streams     map[uint32]*stream // open and half-closed streams
	maxClientID uint32             // the highest stream the client has opened
	handlers    int                // handlers running, reset streams' included
	goingAway   bool               // we sent GOAWAY: no new streams
	goAwayID    uint32             // the last stream our first GOAWAY served
	closing     bool               // the writer sends what is queued, then closes
	done        bool               // the last turn has begun: nothing more is sent
	writing     bool               // a turn is under way (writer.go)
	idleTimer   *time.Timer

	// Output, taken by the writer: ctrl holds encoded frames that go
	// before any stream's data (settings, acks, resets, headers, ends),
	// ready the streams with data to send, in turn.
	ctrl        []byte
	ctrlQueued  int // frames the client provoked in ctrl: bounded
	ready       streamQueue
	henc        *hpack.Encoder
	hbuf        []byte // the encoder's output, reused
	peerWindow  int64  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxData uint32 // the client's SETTINGS_MAX_FRAME_SIZE
	sendWindow  int64  // the connection's send window
	recvWindow  int64  // what the client may still send on the connection
	recvCredit  int64  // received bytes consumed or dropped, not yet given back

	resets, empties, settings budget // floods that cost us more than the client
}

// holder is what web's batching conn beneath a TLS conn offers: records
// written between Hold and Release leave in one system call.
type holder interface {
	Hold()
	Release() error
}

// Bounds of a connection's work for a client.
const (
	// maxQueuedControl bounds the frames that the client's own frames
	// make us queue (acks, resets) while it does not read them.
	maxQueuedControl = 1000
	// Rates and bursts of client resets and of empty DATA frames: more
	// is an attack (rapid reset, CVE-2023-44487; empty frame flood,
	// CVE-2019-9518) and ends the connection with ENHANCE_YOUR_CALM.
	resetRate, resetBurst = 100, 400
	emptyRate, emptyBurst = 100, 1000
	// SETTINGS frames a second, and at once.
	settingsRate, settingsBurst = 10, 100
	// recvCreditStep: received body bytes are given back to the
	// connection's window in steps of this much, or when a body ends.
	recvCreditStep = 16 << 10
	// maxWindow is the largest flow-control window (RFC 9113, 6.9.1).
	maxWindow = 1<<31 - 1
	// defaultWindow is the initial window of a connection and, until
	// SETTINGS say otherwise, of a stream.
	defaultWindow = 65535
)

var (
	errClientReset = errors.New("h2: stream reset by the client")
	errConnClosed  = errors.New("h2: connection closed")
	errStreamDone  = errors.New("h2: stream closed")
	errFlood       = errors.New("h2: client floods the connection with frames it does not read the answers to")
	errBadPreface  = errors.New("h2: bad client preface")
)

func newConn(s *Server, ctx context.Context, nc net.Conn, h http.Handler, hs *http.Server) *conn {
	c := &conn{srv: s, nc: nc, handler: h, remoteAddr: nc.RemoteAddr().String(),
		maxStreams: s.maxStreams(), maxBody: s.maxBody(), maxHeaderList: s.maxHeaderListSize(),
		readHeaderTO: s.ReadHeaderTimeout, idleTO: s.IdleTimeout, writeTO: s.writeTimeout(),
		wake: make(chan struct{}, 1), writerDone: make(chan struct{}),
		streams:    map[uint32]*stream{},
		peerWindow: defaultWindow, peerMaxData: 16 << 10, sendWindow: defaultWindow, recvWindow: defaultWindow}
	if hs != nil {
		if c.readHeaderTO == 0 {
			c.readHeaderTO = hs.ReadHeaderTimeout
		}
		if c.idleTO == 0 {
			c.idleTO = hs.IdleTimeout
		}
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	inner := nc
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		inner = u.NetConn()
	}
	c.raw = inner
	c.held, _ = inner.(holder)
	c.henc = hpack.NewEncoder(hpackWriter{c})
	c.in = &budgetReader{r: nc}
	c.fr = http2.NewFramer(io.Discard, c.in)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = c.maxHeaderList
	c.fr.SetMaxReadFrameSize(16 << 10)
	now := time.Now()
	c.resets = budget{rate: resetRate, burst: max(resetBurst, float64(c.maxStreams)), last: now}
	c.resets.tokens = c.resets.burst
	c.empties = budget{rate: emptyRate, burst: emptyBurst, tokens: emptyBurst, last: now}
	c.settings = budget{rate: settingsRate, burst: settingsBurst, tokens: settingsBurst, last: now}
	return c
}

// serve reads and handles the client's frames until the connection ends,
// then ends its streams and waits for the writer to send what is queued
// (a GOAWAY) and close the connection.
func (c *conn) serve() {
	defer c.cancel()
	c.mu.Lock()
	c.queueSettingsLocked()
	c.mu.Unlock()
	go c.writeLoop()

	err := c.readFrames()

	c.mu.Lock()
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		c.queueGoAwayLocked(http2.ErrCode(ce))
		c.srv.logger().Debug("h2: connection error", "remote", c.remoteAddr, "code", http2.ErrCode(ce).String())
	}
	c.closing = true
	for _, st := range c.streams {
		c.closeStreamLocked(st, errConnClosed)
	}
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.mu.Unlock()
	if errors.Is(err, errFlood) {
		// The client does not read: the writer may be stuck in a write.
		_ = c.nc.Close()
	}
	c.wakeWriter()
	// The writer sends the GOAWAY and closes the connection; a client
	// that does not read gets little time for it.
	t := time.NewTimer(min(c.writeTO, goAwayGrace))
	defer t.Stop()
	select {
	case <-c.writerDone:
	case <-t.C:
		_ = c.nc.Close()
		<-c.writerDone
	}
}

// goAwayGrace is how long a failed connection's last output may take.
const goAwayGrace = time.Second

// readFrames reads the client's preface, then its frames, until the
// connection fails or ends; an http2.ConnectionError says why to the client.
func (c *conn) readFrames() error {
	if c.readHeaderTO > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.readHeaderTO))
	}
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.nc, preface[:]); err != nil {
		return err
	}
	if string(preface[:]) != http2.ClientPreface {
		return errBadPreface
	}
	first := true
	for {
		c.in.budget = 2*int64(c.maxHeaderList) + 4*(16<<10+9)
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) && !first {
				if err := c.streamFailed(se); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, http2.ErrFrameTooLarge) {
				return http2.ConnectionError(http2.ErrCodeFrameSize)
			}
			if first && errors.As(err, &se) {
				return http2.ConnectionError(http2.ErrCodeProtocol) // not the SETTINGS of the preface
			}
			return err
		}
		if first {
			// RFC 9113, 3.4: the preface ends with a SETTINGS frame.
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			_ = c.nc.SetReadDeadline(time.Time{})
			first = false
			c.mu.Lock()
			c.armIdleLocked()
			c.mu.Unlock()
		}
		if err := c.handle(f); err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if err := c.streamFailed(se); err != nil {
					return err
				}
				continue
			}
			return err
		}
	}
}

// handle acts on one frame of the client's. An http2.StreamError fails
// only its stream; any other error ends the connection.
func (c *conn) handle(f http2.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.queueControlLocked(appendPing(c.ctrl, f.Data))
	case *http2.GoAwayFrame:
		// The client is leaving: it is told which of its streams are
		// served, the rest are ignored, and the connection closes after
		// the last (otherwise a stream it opens next would run on a
		// connection closing without a word).
		c.goAwayLocked()
		return nil
	case *http2.PushPromiseFrame:
		// Only servers push (RFC 9113, 8.4).
		return http2.ConnectionError(http2.ErrCodeProtocol)
	default:
		// PRIORITY (deprecated) and frame types we do not know: ignored,
		// as RFC 9113, 5.3.2 and 4.1 say.
		return nil
	}
}

// streamFailed resets the stream of a stream error: one that is open, or
// one the client meant to open (a malformed HEADERS), which counts as
// opened and closed.
func (c *conn) streamFailed(se http2.StreamError) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[se.StreamID]; st != nil {
		return c.resetStreamLocked(st, se.Code, errStreamDone)
	}
	if se.StreamID%2 == 1 && se.StreamID > c.maxClientID {
		c.maxClientID = se.StreamID
	}
	return c.queueControlLocked(appendRSTStream(c.ctrl, se.StreamID, se.Code))
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	// A client sends SETTINGS once or twice; a flood of them, each of
	// which may touch every stream, is an attack.
	if !c.settings.spend(time.Now()) {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	window := c.peerWindow
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			window = int64(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxData = s.Val
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSize(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if window != c.peerWindow {
		// The frame's last value changes every stream's window by the
		// difference, which may make windows negative (RFC 9113, 6.9.2):
		// once a frame, however many times it repeats the setting.
		delta := window - c.peerWindow
		for _, st := range c.streams {
			if st.sendWindow+delta > maxWindow {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			st.sendWindow += delta
			c.scheduleLocked(st)
		}
		c.peerWindow = window
		c.wakeWriter()
	}
	return c.queueControlLocked(appendSettingsAck(c.ctrl))
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment) // never 0: the Framer refuses that
	if f.StreamID == 0 {
		if c.sendWindow+inc > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.sendWindow += inc
		c.wakeWriter()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if c.idleLocked(f.StreamID) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil // a closed stream: the update crossed its end
	}
	if st.sendWindow+inc > maxWindow {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeFlowControl}
	}
	st.sendWindow += inc
	c.scheduleLocked(st)
	c.wakeWriter()
	return nil
}

func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	st := c.streams[f.StreamID]
	if st == nil {
		if c.idleLocked(f.StreamID) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	c.closeStreamLocked(st, errClientReset)
	if !c.resets.spend(time.Now()) {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

// idleLocked reports whether id is a stream the client has not opened yet,
// on which only HEADERS (and PRIORITY) may come.
func (c *conn) idleLocked(id uint32) bool {
	return id%2 == 0 || id > c.maxClientID
}

// queueControlLocked puts frames that the client's frames provoked, which
// b holds (c.ctrl appended to), in the output. A client that provokes
// more than maxQueuedControl of them without reading fails.
func (c *conn) queueControlLocked(b []byte) error {
	if c.done {
		return nil
	}
	c.ctrl = b
	c.ctrlQueued++
	c.wakeWriter()
	if c.ctrlQueued > maxQueuedControl {
		return errFlood
	}
	return nil
}

func (c *conn) queueSettingsLocked() {
	c.ctrl = appendSettings(c.ctrl, []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.maxStreams},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.maxBody)},
		{ID: http2.SettingMaxHeaderListSize, Val: c.maxHeaderList},
	})
}

// queueGoAwayLocked tells the client that no stream after the last it
// opened will be served, and why.
func (c *conn) queueGoAwayLocked(code http2.ErrCode) {
	if c.done {
		return
	}
	if !c.goingAway {
		// A later GOAWAY (an error after a graceful one) does not
		// claim the streams ignored since (RFC 9113, 6.8).
		c.goAwayID = c.maxClientID
	}
	c.goingAway = true
	c.ctrl = appendGoAway(c.ctrl, c.goAwayID, code)
	c.wakeWriter()
}

// goAway ends the connection gracefully: no new streams, the open ones
// run on; the connection closes after the last.
func (c *conn) goAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAwayLocked()
}

func (c *conn) goAwayLocked() {
	if !c.goingAway {
		c.queueGoAwayLocked(http2.ErrCodeNo)
	}
	c.closeIfDoneLocked()
}

// closeIfDoneLocked closes a connection that will have no more streams
// once its last has ended.
func (c *conn) closeIfDoneLocked() {
	if c.goingAway && len(c.streams) == 0 {
		c.closing = true
		c.wakeWriter()
	}
}

// armIdleLocked starts the idle timeout of a connection without streams.
func (c *conn) armIdleLocked() {
	if c.idleTO <= 0 || len(c.streams) > 0 {
		return
	}
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(c.idleTO, c.onIdle)
		return
	}
	c.idleTimer.Reset(c.idleTO)
}

func (c *conn) onIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.streams) == 0 && !c.closing {
		c.queueGoAwayLocked(http2.ErrCodeNo)
		c.closeIfDoneLocked()
	}
}

func (c *conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// budgetReader fails a read past its budget of bytes, which readFrames
// gives each frame: a header block in endless CONTINUATION frames (each
// empty, so that no header list limit is reached) ends there.
type budgetReader struct {
	r      io.Reader
	budget int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.budget <= 0 {
		return 0, fmt.Errorf("h2: a frame longer than its budget: %w", http2.ConnectionError(http2.ErrCodeEnhanceYourCalm))
	}
	if int64(len(p)) > b.budget {
		p = p[:b.budget]
	}
	n, err := b.r.Read(p)
	b.budget -= int64(n)
	return n, err
}

// budget is a token bucket: rate a second, at most burst saved.
type budget struct {
	tokens, rate, burst float64
	last                time.Time
}

func (b *budget) spend(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
