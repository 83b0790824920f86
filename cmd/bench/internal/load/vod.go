package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// VODConfig says what a run of VOD readers does: many clients reading one
// stored file over HTTP/1.1 in Range requests on keep-alive connections,
// the way players and CDN clients read a large file.
type VODConfig struct {
	URL       string // http:// URL of the file
	Readers   int    // concurrent readers, one connection each
	RangeSize int64  // bytes asked for in each request (the last range of the file may be shorter)
	// Sequential makes each reader walk the file range after range from its
	// own starting point (readers spread evenly), wrapping at the end;
	// otherwise each range starts at a random offset.
	Sequential bool
	// Verify is a local copy of the file: every byte received is compared
	// with it. Empty: only statuses, Content-Range and lengths are checked.
	Verify   string
	Ramp     time.Duration // readers' starts are spread evenly over this
	Duration time.Duration // how long to measure once every reader has a first answer
	PID      int           // server process (and its children) to sample from /proc; 0: none
	Progress io.Writer     // a status line a second; nil: none
}

func (c VODConfig) check() error {
	switch {
	case c.URL == "":
		return errors.New("no URL to read")
	case c.Readers < 1:
		return fmt.Errorf("%d readers: at least one is needed", c.Readers)
	case c.RangeSize < 1:
		return fmt.Errorf("range size %d: must be positive", c.RangeSize)
	case c.Ramp < 0 || c.Duration <= 0:
		return fmt.Errorf("ramp %s, duration %s: the ramp cannot be negative, the duration must be positive", c.Ramp, c.Duration)
	}
	return nil
}

const (
	// vodReadBuffer is each reader's buffer: large reads keep the tool's
	// system calls few beside the server it measures.
	vodReadBuffer = 128 << 10
	// requestTimeout bounds one range request, from sending it to its last
	// byte.
	requestTimeout = 30 * time.Second
	// retryAfter spaces a reader's attempts after a failure, so that a
	// server that refuses connections is not spun on.
	retryAfter = 100 * time.Millisecond
)

// vodRun is what a run's readers share.
type vodRun struct {
	url       string
	start     time.Time
	addr      string
	prefix    []byte // the request up to its Range header
	size      int64  // the file's size; 0 until the probe has learnt it
	rangeSize int64
	seq       bool
	file      []byte // the --verify file, mapped; nil without
	measuring atomic.Bool
}

func (v *vodRun) now() int64 { return int64(time.Since(v.start) / time.Microsecond) }

// reader is one client reading ranges on one keep-alive connection at a
// time. Its goroutine is the only writer of its fields; the atomic ones are
// read while it runs, the others once it has returned.
type reader struct {
	bytes     atomic.Int64 // body bytes received
	requests  atomic.Int64 // ranges received whole and checked
	errors    atomic.Int64
	latency   liveHistogram // µs from sending a request to its last byte (measured window)
	firstByte liveHistogram // µs from sending a request to the first byte of the answer (measured window)

	reconnects int64              // connections the server closed after a good answer
	verified   int64              // bytes compared with the local file
	failures   map[string]Failure // by cause
	measured   int64              // ranges received whole in the measured window
	statuses   map[string]int64   // X-Cache-Status of answers in the measured window
	request    []byte
}

// RunVOD runs VOD readers. When ctx ends early, what was measured until
// then is reported, marked as interrupted.
func RunVOD(ctx context.Context, cfg VODConfig) (*VODReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	tg, err := parseTarget(cfg.URL, "h1", false, 0)
	if err == nil && tg.tls != nil {
		err = errors.New("scheme \"https\": VOD readers speak plain HTTP (http://)")
	}
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	v := &vodRun{url: cfg.URL, start: time.Now(), addr: tg.addr, rangeSize: cfg.RangeSize, seq: cfg.Sequential,
		// parseTarget's request without its final empty line.
		prefix: tg.request[:len(tg.request)-2]}
	if cfg.Verify != "" {
		unmap, err := v.mapFile(cfg.Verify)
		if err != nil {
			return nil, err
		}
		defer unmap()
	}
	var server *serverProbe
	if cfg.PID != 0 {
		if server, err = newServerProbe(cfg.PID); err != nil {
			return nil, err
		}
	}
	if err := v.probe(ctx); err != nil {
		return nil, err
	}
	if server != nil {
		if err := server.idle(); err != nil {
			return nil, err
		}
	}

	rep := &VODReport{URL: cfg.URL, FileSize: v.size, VerifiedAgainst: cfg.Verify, Readers: cfg.Readers,
		RangeSize: cfg.RangeSize, Order: map[bool]string{false: "random", true: "sequential"}[cfg.Sequential],
		RampSeconds: cfg.Ramp.Seconds()}
	readers := make([]reader, cfg.Readers)
	var launched atomic.Int64
	prog := startVODProgress(v, readers, &launched, server, cfg.Progress)
	rctx, stopReaders := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	all := readers // readers is cut to the launched below, while they run
	readers = readers[:rampUp(ctx, len(readers), cfg.Ramp, nil, &wg, &launched, func(i int) {
		all[i].run(rctx, v, i, cfg.Readers)
	})]
	rep.Launched = len(readers)

	settleReaders(ctx, readers)
	readerBytes := func(i int) int64 { return readers[i].bytes.Load() }
	start := takeSnapshot(len(readers), readerBytes, server)
	v.measuring.Store(true)
	timer := time.NewTimer(cfg.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		rep.Interrupted = true
	}
	end := takeSnapshot(len(readers), readerBytes, server)
	v.measuring.Store(false)
	stopReaders()
	wg.Wait()
	prog.stop()
	rep.fill(readers, start, end, server)
	return rep, nil
}

// mapFile maps the local copy of the file to compare received bytes with,
// without copying it, and returns what unmaps it.
func (v *vodRun) mapFile(path string) (func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if fi.Size() == 0 || fi.Size() > math.MaxInt {
		return nil, fmt.Errorf("verify: %s: %d bytes", path, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("verify: mmap %s: %w", path, err)
	}
	v.file = data
	return func() { syscall.Munmap(data) }, nil
}

// probe reads the first range once, to learn the file's size and find a
// wrong URL before the readers start. Refused connections are tried again
// for a while: the server may be starting.
func (v *vodRun) probe(ctx context.Context) error {
	deadline := time.Now().Add(probeTimeout)
	rd := new(reader)
	buf := make([]byte, vodReadBuffer)
	for {
		category, err := v.probeOnce(ctx, rd, buf)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline):
			return fmt.Errorf("probe: %s: %s: %w", v.url, category, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (v *vodRun) probeOnce(ctx context.Context, rd *reader, buf []byte) (string, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", v.addr)
	if err != nil {
		return dialFailure(err), err
	}
	defer conn.Close()
	_, category, err := rd.get(conn, buf, v, 0, v.rangeSize-1)
	return category, err
}

// settleReaders waits until every reader has had an answer or a failure,
// so that measuring starts in the steady state.
func settleReaders(ctx context.Context, readers []reader) {
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		waiting := false
		for i := range readers {
			if readers[i].requests.Load() == 0 && readers[i].errors.Load() == 0 {
				waiting = true
				break
			}
		}
		if !waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run reads ranges until ctx ends. Reader i of n starts its sequential
// walk at the i-th n-th of the file.
func (rd *reader) run(ctx context.Context, v *vodRun, i, n int) {
	rng := rand.New(rand.NewPCG(uint64(i), 0x766f64))
	buf := make([]byte, vodReadBuffer)
	next := v.size / int64(n) * int64(i) / v.rangeSize * v.rangeSize
	var conn net.Conn
	var stopConn func() bool
	closeConn := func() {
		if conn != nil {
			stopConn()
			conn.Close()
			conn = nil
		}
	}
	defer closeConn()
	for ctx.Err() == nil {
		if conn == nil {
			d := net.Dialer{Timeout: dialTimeout}
			c, err := d.DialContext(ctx, "tcp", v.addr)
			if err != nil {
				rd.fail(ctx, dialFailure(err), err)
				continue
			}
			conn = c
			// Ending the run closes the connection, which ends a blocked read.
			stopConn = context.AfterFunc(ctx, func() { c.Close() })
		}
		first := next
		if !v.seq {
			first = rng.Int64N(max(v.size-v.rangeSize, 0) + 1)
		}
		last := min(first+v.rangeSize, v.size) - 1
		if next = last + 1; next >= v.size {
			next = 0
		}
		keepAlive, category, err := rd.get(conn, buf, v, first, last)
		if err != nil {
			closeConn()
			rd.fail(ctx, category, err)
			continue
		}
		if !keepAlive {
			closeConn()
			rd.reconnects++
		}
	}
}

// fail counts a failure, unless the run is ending, and waits a little
// before the next attempt.
func (rd *reader) fail(ctx context.Context, category string, err error) {
	if ctx.Err() != nil {
		return
	}
	rd.errors.Add(1)
	if rd.failures == nil {
		rd.failures = make(map[string]Failure)
	}
	f := rd.failures[category]
	if f.Count == 0 {
		f.Example = err.Error()
	}
	f.Count++
	rd.failures[category] = f
	t := time.NewTimer(retryAfter)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

var errVOD = errors.New("wrong answer")

// get asks for bytes first to last and reads the whole answer, checking
// it: 206, the Content-Range asked for (when the size is not known yet,
// the probe's, the last byte may be the file's), as many body bytes as
// that, and with a local copy, the bytes themselves. It says whether the
// connection can be used again; on failure, a category and the error.
func (rd *reader) get(conn net.Conn, buf []byte, v *vodRun, first, last int64) (keepAlive bool, category string, err error) {
	rd.request = append(append(rd.request[:0], v.prefix...), "Range: bytes="...)
	rd.request = strconv.AppendInt(rd.request, first, 10)
	rd.request = append(rd.request, '-')
	rd.request = strconv.AppendInt(rd.request, last, 10)
	rd.request = append(rd.request, "\r\n\r\n"...)
	if err := conn.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return false, "request not sent", err
	}
	sent := v.now()
	if _, err := conn.Write(rd.request); err != nil {
		return false, "request not sent", err
	}
	var firstByte int64
	head, body, category, err := readHead(conn, buf, func() { firstByte = v.now() })
	if err != nil {
		return false, category, err
	}
	if head.status != 206 {
		return false, "http status " + strconv.Itoa(head.status), fmt.Errorf("%w: status %d for bytes %d-%d", errVOD, head.status, first, last)
	}
	cr, err := parseContentRange(head.contentRange)
	if err != nil {
		return false, "bad Content-Range", err
	}
	if v.size == 0 {
		last = min(last, cr.total-1)
	}
	switch {
	case v.file != nil && cr.total != int64(len(v.file)):
		return false, "not the local copy's size", fmt.Errorf("%w: the server's file is %d bytes, the local copy %d", errVOD, cr.total, len(v.file))
	case cr.first != first || cr.last != last || v.size != 0 && cr.total != v.size:
		return false, "wrong Content-Range", fmt.Errorf("%w: Content-Range %q for bytes %d-%d of %d", errVOD, head.contentRange, first, last, v.size)
	case head.chunked || head.length != last-first+1:
		return false, "wrong Content-Length", fmt.Errorf("%w: Content-Length %d (chunked %t) for bytes %d-%d", errVOD, head.length, head.chunked, first, last)
	}
	pos, end := first, last+1
	for {
		if int64(len(body)) > end-pos {
			return false, "bytes after the body", fmt.Errorf("%w: %d bytes after bytes %d-%d", errVOD, int64(len(body))-(end-pos), first, last)
		}
		if len(body) > 0 {
			if v.file != nil {
				want := v.file[pos : pos+int64(len(body))]
				if !bytes.Equal(body, want) {
					at := pos
					for i := range body {
						if body[i] != want[i] {
							at += int64(i)
							break
						}
					}
					return false, "wrong bytes", fmt.Errorf("%w: byte %d differs from the file's (bytes %d-%d)", errVOD, at, first, last)
				}
				rd.verified += int64(len(body))
			}
			rd.bytes.Add(int64(len(body)))
			pos += int64(len(body))
		}
		if pos == end {
			break
		}
		n, err := conn.Read(buf)
		body = buf[:n]
		if err != nil && n == 0 {
			if err == io.EOF {
				return false, "closed inside the body", fmt.Errorf("%w: %d of %d bytes", io.ErrUnexpectedEOF, pos-first, end-first)
			}
			return false, readFailure(err), err
		}
	}
	if v.size == 0 {
		v.size = cr.total
	}
	rd.requests.Add(1)
	if v.measuring.Load() {
		now := v.now()
		rd.latency.add(now - sent)
		rd.firstByte.add(firstByte - sent)
		if rd.statuses == nil {
			rd.statuses = make(map[string]int64)
		}
		rd.statuses[head.cacheStatus]++
		rd.measured++
	}
	return !head.close, "", nil
}

// contentRange is a Content-Range header of a 206 answer.
type contentRange struct{ first, last, total int64 }

// parseContentRange reads "bytes FIRST-LAST/TOTAL" (RFC 9110 14.4); a
// total of "*" is refused, since a reader needs it.
func parseContentRange(s string) (contentRange, error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	span, total, ok2 := strings.Cut(rest, "/")
	firstText, lastText, ok3 := strings.Cut(span, "-")
	if !ok || !ok2 || !ok3 {
		return contentRange{}, fmt.Errorf("%w: Content-Range %q", errVOD, s)
	}
	var cr contentRange
	for _, f := range []struct {
		text string
		to   *int64
	}{{firstText, &cr.first}, {lastText, &cr.last}, {total, &cr.total}} {
		// Digits only: ParseInt would take a sign.
		if f.text == "" || strings.Trim(f.text, "0123456789") != "" {
			return contentRange{}, fmt.Errorf("%w: Content-Range %q", errVOD, s)
		}
		n, err := strconv.ParseInt(f.text, 10, 64)
		if err != nil {
			return contentRange{}, fmt.Errorf("%w: Content-Range %q: %w", errVOD, s, err)
		}
		*f.to = n
	}
	if cr.first > cr.last || cr.last >= cr.total {
		return contentRange{}, fmt.Errorf("%w: Content-Range %q", errVOD, s)
	}
	return cr, nil
}

// vodProgress prints a line a second and samples the server.
type vodProgress struct {
	quit, done chan struct{}
}

func startVODProgress(v *vodRun, readers []reader, launched *atomic.Int64, server *serverProbe, out io.Writer) *vodProgress {
	p := &vodProgress{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		prev := progressState{at: time.Now()}
		var prevRequests int64
		if server != nil {
			prev.cpu, _ = readProc(server.pid)
		}
		for {
			select {
			case <-p.quit:
				return
			case <-tick.C:
			}
			now := time.Now()
			var bytes, requests, errs int64
			n := int(launched.Load())
			for i := range n {
				bytes += readers[i].bytes.Load()
				requests += readers[i].requests.Load()
				errs += readers[i].errors.Load()
			}
			elapsed := now.Sub(prev.at)
			rate, reqs := mbps(bytes-prev.bytes, elapsed)/1e3, float64(requests-prevRequests)/elapsed.Seconds()
			prev.at, prev.bytes, prevRequests = now, bytes, requests
			line := server.sample(&prev.cpu, elapsed)
			if out != nil {
				fmt.Fprintf(out, "%5.0fs  readers %d/%d  %6.2f Gbit/s  %6.0f req/s  errors %d%s\n",
					math.Round(time.Since(v.start).Seconds()), n, len(readers), rate, reqs, errs, line)
			}
		}
	}()
	return p
}

func (p *vodProgress) stop() {
	close(p.quit)
	<-p.done
}
