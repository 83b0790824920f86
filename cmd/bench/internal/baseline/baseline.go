// Package baseline is the floor that flvedge's fan-out is measured
// against: the simplest server that does the same job. Each tag is encoded
// once; the tags from the latest keyframe are kept for new viewers; each
// viewer has one goroutine that, woken by a broadcast, writes everything
// pending in one vectored write on its raw TCP connection. Nothing else:
// no filters, no metrics, no timestamp repair, no policy for slow viewers
// beyond dropping one whose write fails or times out.
package baseline

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
)

// Server takes streams from an rtmp.Server, as its Handler, and serves
// them as HTTP-FLV at /{app}/{stream}.flv. Set the fields before serving.
type Server struct {
	// Coalesce makes each viewer wait this long after a wake-up before
	// writing, so that the tags published meanwhile go in the same write.
	Coalesce time.Duration
	// WriteTimeout drops a viewer whose write takes longer; 0 never does.
	WriteTimeout time.Duration

	mu        sync.Mutex
	closed    bool
	streams   map[string]*stream
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

const requestTimeout = 10 * time.Second

var (
	responseHeader = []byte("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n" +
		"Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n")
	notFound         = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	methodNotAllowed = []byte("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	flvHeader        = flv.AppendHeader(nil, true, true)
	crlf             = []byte("\r\n")
	lastChunk        = []byte("0\r\n\r\n")
)

var errClosed = errors.New("baseline: server closed")

// Publish accepts a publisher unless its stream is being published.
func (s *Server) Publish(req *rtmp.PublishRequest) (rtmp.Sink, error) {
	key := req.App + "/" + req.Stream
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.streams[key] != nil {
		return nil, &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: key + " is already being published"}
	}
	if s.streams == nil {
		s.streams = make(map[string]*stream)
	}
	st := &stream{srv: s, key: key, gop: &gop{}}
	st.cond.L = &st.mu
	s.streams[key] = st
	return st, nil
}

// Serve answers viewers on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[net.Conn]struct{})
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, ln)
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// Close stops the listeners, ends every stream and viewer, and waits for
// the viewers' goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for nc := range s.conns {
		nc.Close()
	}
	streams := s.streams
	s.streams = nil
	s.mu.Unlock()
	for _, st := range streams {
		st.end()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) serveConn(nc net.Conn) {
	defer func() {
		nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	nc.SetReadDeadline(time.Now().Add(requestTimeout))
	req, err := http.ReadRequest(bufio.NewReaderSize(nc, 4096))
	if err != nil {
		return
	}
	nc.SetReadDeadline(time.Time{})
	if req.Method != http.MethodGet {
		nc.Write(methodNotAllowed)
		return
	}
	key, ok := strings.CutSuffix(strings.TrimPrefix(req.URL.Path, "/"), ".flv")
	s.mu.Lock()
	st := s.streams[key]
	s.mu.Unlock()
	if !ok || st == nil {
		nc.Write(notFound)
		return
	}
	st.play(nc, s.Coalesce, s.WriteTimeout)
}

// stream is one publisher's tags: a Sink for the RTMP server, a source
// for viewers.
type stream struct {
	srv *Server
	key string

	mu   sync.Mutex
	cond sync.Cond // broadcast on every tag and at the end
	// config is what a viewer needs before the latest keyframe's GOP:
	// onMetaData and the audio and video sequence headers, by
	// flv.TrackOf + 1; sent in the order of configOrder.
	config [3][]byte
	gop    *gop // the latest
	ended  bool
}

// configOrder is the order in which a new viewer gets the configuration,
// the relay's: onMetaData, video, audio.
var configOrder = [...]flv.Track{flv.NoTrack, flv.VideoTrack, flv.AudioTrack}

// gop holds the tags from one keyframe up to the next, encoded. Viewers
// behind hold older ones alive through next.
type gop struct {
	keyframe bool // false for the tags before the first keyframe
	tags     [][]byte
	next     *gop
}

func (st *stream) WriteTag(t flv.Tag) error {
	b := flv.AppendTag(make([]byte, 0, flv.EncodedSize(t)), t)
	config, keyframe := flv.IsConfig(t), flv.IsKeyframe(t)
	st.mu.Lock()
	if config {
		st.config[flv.TrackOf(t.Type)+1] = b
	}
	if keyframe {
		g := &gop{keyframe: true}
		st.gop.next = g
		st.gop = g
	}
	st.gop.tags = append(st.gop.tags, b)
	st.mu.Unlock()
	st.cond.Broadcast()
	return nil
}

// Close ends the stream: viewers get what is pending, then the end of the
// response.
func (st *stream) Close() {
	st.srv.mu.Lock()
	if st.srv.streams[st.key] == st {
		delete(st.srv.streams, st.key)
	}
	st.srv.mu.Unlock()
	st.end()
}

func (st *stream) end() {
	st.mu.Lock()
	st.ended = true
	st.mu.Unlock()
	st.cond.Broadcast()
}

// play sends the stream to one viewer until it ends or a write fails.
func (st *stream) play(nc net.Conn, coalesce, writeTimeout time.Duration) {
	bufs := [][]byte{responseHeader, nil, flvHeader} // nil: the first chunk's size line
	st.mu.Lock()
	g, i := st.gop, 0
	if g.keyframe {
		for _, tr := range configOrder {
			if c := st.config[tr+1]; c != nil {
				bufs = append(bufs, c)
			}
		}
	}
	st.mu.Unlock()
	sizeAt := 1
	var sizeLine [18]byte
	for {
		st.mu.Lock()
		waited := false
		for i == len(g.tags) && g.next == nil && !st.ended {
			st.cond.Wait()
			waited = true
		}
		if waited && coalesce > 0 && !st.ended {
			st.mu.Unlock()
			time.Sleep(coalesce)
			st.mu.Lock()
		}
		for {
			bufs = append(bufs, g.tags[i:]...)
			i = len(g.tags)
			if g.next == nil {
				break
			}
			g, i = g.next, 0
		}
		ended := st.ended
		st.mu.Unlock()

		size := 0
		for _, b := range bufs[sizeAt+1:] {
			size += len(b)
		}
		out := bufs[:sizeAt]
		if size > 0 {
			bufs[sizeAt] = append(strconv.AppendInt(sizeLine[:0], int64(size), 16), crlf...)
			out = append(bufs, crlf)
		}
		if ended {
			out = append(out, lastChunk)
		}
		if len(out) > 0 {
			if writeTimeout > 0 {
				nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			}
			nb := net.Buffers(out)
			if _, err := nb.WriteTo(nc); err != nil {
				return
			}
		}
		if ended {
			return
		}
		clear(bufs) // let go of tags this viewer has sent
		bufs = append(bufs[:0], nil)
		sizeAt = 0
	}
}
