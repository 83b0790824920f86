package vod

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sendChunk is how much one sendfile call may send before the write
// deadline is pushed back: a viewer must take this much per write timeout.
const sendChunk = 512 << 10

// sender is the ResponseWriter that http.ServeContent writes to. It gives
// every write a deadline, so that a viewer that stops reading is let go
// instead of holding a goroutine and a file forever, and it sends stored
// bytes with sendfile: the whole of a stored file, and the stored parts of
// a virtual one that go out unchanged.
type sender struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	size    int64 // of the content sent, for the Content-Range of a 416
}

func newSender(w http.ResponseWriter, timeout time.Duration, size int64) *sender {
	return &sender{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout, size: size}
}

// WriteHeader gives every 416 the size of the content, as RFC 9110
// §15.5.17 asks: http.ServeContent does so only for ranges that start past
// the end, not for invalid ones such as bytes=5-1.
func (s *sender) WriteHeader(code int) {
	if h := s.Header(); code == http.StatusRequestedRangeNotSatisfiable && h.Get("Content-Range") == "" {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(s.size, 10))
	}
	s.ResponseWriter.WriteHeader(code)
}

// byteRanges is r without its Range header when the header's unit is not
// bytes: RFC 9110 §14.2 has a server ignore a range unit it does not know
// (http.ServeContent would answer 416). Units compare case-insensitively,
// so "Bytes=" is read as "bytes=".
func byteRanges(r *http.Request) *http.Request {
	v := r.Header.Get("Range")
	if v == "" || strings.HasPrefix(v, "bytes=") {
		return r
	}
	r = r.Clone(r.Context())
	if unit, spec, ok := strings.Cut(v, "="); ok && strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		r.Header.Set("Range", "bytes="+spec)
	} else {
		r.Header.Del("Range")
	}
	return r
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *sender) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *sender) Write(p []byte) (int, error) {
	if err := s.deadline(); err != nil {
		return 0, err
	}
	return s.ResponseWriter.Write(p)
}

func (s *sender) deadline() error {
	err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// done clears the deadline, which would otherwise carry over to the next
// request on the connection.
func (s *sender) done() {
	_ = s.rc.SetWriteDeadline(time.Time{})
}

// ReadFrom is what io.CopyN in http.ServeContent calls with the content,
// limited to the range being sent.
func (s *sender) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		switch r := lr.R.(type) {
		case *os.File:
			n, err := s.sendFile(r, lr.N)
			lr.N -= n
			return n, err
		case *virtualFile:
			n, err := s.sendVirtual(r, lr.N)
			lr.N -= n
			return n, err
		case *movieFile:
			n, err := s.sendMovie(r, lr.N)
			lr.N -= n
			return n, err
		}
	}
	return s.copy(src)
}

// copy sends src through Write, for multipart bodies and virtual parts
// that are not stored bytes.
func (s *sender) copy(src io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	return io.CopyBuffer(writerOnly{s}, src, buf)
}

// writerOnly hides ReadFrom, so that io.CopyBuffer does not call it again.
type writerOnly struct{ io.Writer }

// sendFile sends n bytes of f from its current offset, with sendfile when
// the connection can, a chunk per deadline.
func (s *sender) sendFile(f *os.File, n int64) (int64, error) {
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return s.copy(io.LimitReader(f, n))
	}
	var sent int64
	for sent < n {
		if err := s.deadline(); err != nil {
			return sent, err
		}
		chunk := min(n-sent, sendChunk)
		m, err := rf.ReadFrom(&io.LimitedReader{R: f, N: chunk})
		sent += m
		if err != nil {
			return sent, err
		}
		if m < chunk {
			return sent, fmt.Errorf("vod: send %s: %w", f.Name(), io.ErrUnexpectedEOF)
		}
	}
	return sent, nil
}

// sendVirtual sends n bytes of v from its offset: in-memory and rebased
// parts through Write, stored parts through sendFile.
func (s *sender) sendVirtual(v *virtualFile, n int64) (int64, error) {
	var sent int64
	for sent < n && v.off < v.l.size {
		pt := v.l.parts[v.l.find(v.off)]
		in := v.off - pt.off
		m := min(pt.n-in, n-sent)
		var err error
		var k int64
		if pt.mem == nil && !pt.rebase && v.f != nil {
			if _, err = v.f.Seek(pt.foff+in, io.SeekStart); err == nil {
				k, err = s.sendFile(v.f, m)
			}
			v.off += k
		} else {
			k, err = s.copy(io.LimitReader(v, m))
		}
		sent += k
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
