package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/ratelog"
	"github.com/flvedge/flvedge/relay"
)

// Live serves /{app}/{stream}.flv from a relay.Hub: one endless FLV response
// per viewer. A name outside relay.CheckName's rules gets 400 and its
// reason, before any lookup or origin request.
type Live struct {
	Hub *relay.Hub
	// Pull, if set, pulls streams that are not published here from origins.
	Pull   *relay.Puller
	Logger *slog.Logger // nil: slog.Default()
	// AccessLog logs every finished viewer session at level info (else debug).
	AccessLog bool

	limits   atomic.Pointer[Limits]
	viewers  viewerCount
	load     viewerLoad
	initOnce sync.Once
	refusals *ratelog.Logger
}

// Limits are the settings of Live that a configuration reload changes for
// the viewers that come after it.
type Limits struct {
	// WriteTimeout bounds one write to a viewer; a viewer that accepts
	// nothing for that long is disconnected. Default 15 s.
	WriteTimeout time.Duration
	// Coalesce is the longest a viewer waits after a write before the
	// next, so that the tags of that time leave in one write: fewer
	// wake-ups and system calls for more latency. The next write leaves
	// with the first tag appended after the wait. 0: write at once.
	Coalesce time.Duration
	// CoalesceMode waits as the load asks (adaptive, see coalesce.go) or
	// always Coalesce (fixed).
	CoalesceMode CoalesceMode
	// CoalesceWrites is the adaptive mode's budget of writes per second,
	// below which viewers write at once. 0: DefaultCoalesceWrites per CPU.
	CoalesceWrites int
	// MaxViewers caps the viewers of all streams together; more get 503.
	// The cap keeps file descriptors for publishers, origins and new
	// requests when viewers would take them all. 0: no cap.
	MaxViewers int
	// MaxViewersPerConn caps the live viewers of one HTTP/2 or HTTP/3
	// connection (see streams.go); more get 429. 0: no cap.
	MaxViewersPerConn int
}

const defaultWriteTimeout = 15 * time.Second

// SetLimits applies limits to the viewers that come from now on.
func (l *Live) SetLimits(limits Limits) {
	if limits.WriteTimeout <= 0 {
		limits.WriteTimeout = defaultWriteTimeout
	}
	l.limits.Store(&limits)
}

func (l *Live) currentLimits() Limits {
	if p := l.limits.Load(); p != nil {
		return *p
	}
	return Limits{WriteTimeout: defaultWriteTimeout}
}

func (l *Live) init() {
	l.initOnce.Do(func() { l.refusals = ratelog.New(l.logger(), time.Second, 1) })
}

// Active is how many viewers are being served now. A viewer counts until
// its session ends.
func (l *Live) Active() int { return int(l.viewers.n.Load()) }

// Wait waits until no viewer is being served, or ctx ends.
func (l *Live) Wait(ctx context.Context) error { return l.viewers.wait(ctx) }

// drain refuses every new viewer from now on (503) and waits until no
// viewer is being served, or ctx ends: what a Server's Shutdown waits for.
func (l *Live) drain(ctx context.Context) error {
	l.viewers.close()
	return l.viewers.wait(ctx)
}

func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	app, name, ok := liveStreamPath(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := relay.CheckName(app, name); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	want, err := wantedTracks(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s, err := l.stream(r, app, name)
	if s != nil {
		countStreamOf(r, app, name)
	}
	if err != nil {
		var ue *relay.UpstreamError
		if !errors.As(err, &ue) {
			ue = &relay.UpstreamError{Status: http.StatusBadGateway, Reason: err.Error()}
		}
		if ue.Status != http.StatusNotFound {
			l.logger().Info("viewer refused", "app", app, "stream", name, "remote", r.RemoteAddr, "status", ue.Status, "reason", ue.Reason)
		}
		http.Error(w, ue.Reason, ue.Status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "video/x-flv")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	limits := l.currentLimits()
	leaveConn := joinConn(r.Context(), limits.MaxViewersPerConn)
	if leaveConn == nil {
		l.init()
		l.refusals.Warn("conn", "viewer refused: too many live streams on one connection", "max_per_connection", limits.MaxViewersPerConn, "remote", r.RemoteAddr)
		http.Error(w, fmt.Sprintf("too many live streams on this connection (at most %d): open another connection", limits.MaxViewersPerConn), http.StatusTooManyRequests)
		return
	}
	if !l.viewers.add(limits.MaxViewers) {
		leaveConn()
		if l.viewers.closing() {
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
			return
		}
		l.init()
		l.refusals.Warn("capacity", "viewer refused: server at capacity", "max_viewers", limits.MaxViewers, "remote", r.RemoteAddr)
		http.Error(w, "server at capacity", http.StatusServiceUnavailable)
		return
	}
	// From here on the session holds the viewer's places in the counts,
	// its admission and the count of its request, and gives them back
	// when it ends, on every HTTP version.
	_, ex := exchangeOf(r)
	ex.taken = true
	sess := &Session{live: l, viewer: s.Join(want), ex: ex, leaveConn: leaveConn,
		app: app, stream: name, remote: r.RemoteAddr, done: make(chan struct{})}
	out, err := newFLVWriter(w, r, limits.WriteTimeout, sess.Close)
	if err != nil {
		sess.end()
		l.logger().Info("viewer: cannot start response", "remote", r.RemoteAddr, "err", err)
		return
	}
	sess.out = out
	sess.pace = newPacer(&l.viewers.n, &l.load, limits)
	if r.Header.Get(relay.ViaHeader) != "" {
		// Another tier of this server pulls the stream for its own viewers,
		// who coalesce there: delaying here too would add the delay once
		// per tier. (A viewer forging the header costs us only the
		// wake-ups coalescing saves.)
		sess.pace.most = 0
	}
	if out.detached() {
		// The connection is ours: the request may end now, which frees its
		// goroutine's deep stack and net/http's buffers for the viewer's
		// whole life. A fresh goroutine serves the stream; the session
		// keeps the viewer counted until it ends.
		go sess.run()
		return
	}
	// A viewer whose request ends (an HTTP/2 stream reset, a shutdown)
	// ends its session, which stops the wait for the next tag.
	defer context.AfterFunc(r.Context(), sess.Close)()
	sess.run()
}

// stream finds the stream a viewer asks for: published here, or pulled.
func (l *Live) stream(r *http.Request, app, name string) (*relay.Stream, error) {
	if s := l.Hub.Lookup(app, name); s != nil {
		return s, nil
	}
	if l.Pull == nil {
		return nil, &relay.UpstreamError{Status: http.StatusNotFound, Reason: "stream not found"}
	}
	return l.Pull.Stream(r.Context(), app, name, viaOf(r))
}

// maxVia bounds how much of a forged via header is read; any chain longer
// than the hop limit is refused anyway. An entry longer than maxViaID is
// no server's ID (config checks upstream.node_id against it): dropped, it
// does not go on to the origins in the pull's own via header.
const (
	maxVia   = 64
	maxViaID = 128
)

// viaOf lists the edges the request passed through.
func viaOf(r *http.Request) []string {
	var via []string
	for _, v := range r.Header.Values(relay.ViaHeader) {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" && len(id) <= maxViaID && len(via) < maxVia {
				via = append(via, id)
			}
		}
	}
	return via
}

// copyStream hands every batch the cursor has to out until the stream ends
// or the viewer fails or is stopped. After a write it waits as pace says,
// so that more tags leave in one write, for the first tag appended after
// that wait: the viewers due wake in the publisher's append, together,
// rather than each by a timer of its own (see buffer.Cursor.WaitUntil). It
// returns the bytes written and why it stopped.
//
// A viewer that has written all that was due waits at once, without asking
// the cursor for more first: that would find nothing nearly always, and
// cost each write another turn of the ring's lock, which every viewer and
// the publisher share. Tags that came during the write leave with the
// next write, like any others. A viewer of a stream that pauses does not
// wake again and again: once a wait has found nothing, it waits for the
// next tag.
func copyStream(cur *relay.Viewer, out flvWriter, pace pacer) (int64, string) {
	var written int64
	var bufs [][]byte
	for {
		var err error
		bufs, err = cur.Next(bufs[:0])
		wrote := len(bufs) > 0
		if wrote {
			n, werr := out.WriteBatch(bufs)
			written += n
			cur.Sent(n)
			pace.load.sent(len(bufs))
			clear(bufs) // do not keep tags alive after the window drops them
			if cap(bufs) > largeBatch && len(bufs) < largeBatch/4 {
				bufs = nil // see largeBatch
			}
			if werr != nil {
				out.Close()
				return written, "write: " + werr.Error()
			}
		}
		switch {
		case err == io.EOF:
			out.End()
			return written, streamEnded
		case err != nil:
			out.Close()
			return written, err.Error()
		case cur.Behind():
		case !wrote:
			// The wait ended with nothing new (its timer, or tags this
			// viewer does not get): the next tag leaves as it comes.
			cur.Wait()
		default:
			now := time.Now()
			if d := pace.wait(now); d > 0 {
				cur.WaitUntil(now.Add(d))
			} else {
				cur.Wait()
			}
		}
	}
}

// largeBatch is a batch larger than a viewer's usual ones (a few dozen
// tags at most while it keeps up); a viewer's first batch, its whole group
// of pictures, can be hundreds. A viewer's scratch slices for batches,
// kept for its whole life, shrink back after one, instead of keeping
// kilobytes per viewer that the next batches do not use.
const largeBatch = 64

// streamEnded is the reason copyStream gives when the stream ended, the
// one clean end of a viewer's response.
const streamEnded = "stream ended"

// liveStreamPath splits /{app}/{stream}.flv.
func liveStreamPath(r *http.Request) (app, name string, ok bool) {
	app, file := r.PathValue("app"), r.PathValue("file")
	name, found := strings.CutSuffix(file, ".flv")
	return app, name, found && app != "" && name != ""
}

func wantedTracks(r *http.Request) (buffer.Tracks, error) {
	audio, video, err := flv.WantedTracks(r.URL.Query())
	switch {
	case err != nil:
		return 0, err
	case !video:
		return buffer.TrackAudio, nil
	case !audio:
		return buffer.TrackVideo, nil
	}
	return buffer.AllTracks, nil
}

func (l *Live) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}
