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
	// before runs once, before the header of a 200 or 206 goes out; an
	// error it returns is answered instead, and the body is dropped.
	before   func() error
	failed   bool
	status   int   // sent, for the access log
	sent     int64 // body bytes sent
	declared int64 // the Content-Length sent, or -1
	size     int64 // of the content sent, for the Content-Range of a 416
}

func newSender(w http.ResponseWriter, timeout time.Duration) *sender {
	return &sender{ResponseWriter: w, rc: http.NewResponseController(w), timeout: timeout, declared: -1}
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

var errAnswered = errors.New("vod: answered with an error instead")

// WriteHeader gives every 416 the size of the content, as RFC 9110
// §15.5.17 asks (http.ServeContent does so only for ranges that start past
// the end, not for invalid ones such as bytes=5-1), and runs before.
func (s *sender) WriteHeader(code int) {
	if s.status != 0 {
		return
	}
	if h := s.Header(); code == http.StatusRequestedRangeNotSatisfiable && h.Get("Content-Range") == "" {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(s.size, 10))
	}
	if before := s.before; before != nil && (code == http.StatusOK || code == http.StatusPartialContent) {
		s.before = nil
		if err := before(); err != nil {
			s.failed = true
			status, msg := http.StatusInternalServerError, "internal error"
			var re *requestError
			if errors.As(err, &re) {
				status, msg = re.status, re.msg
			}
			hdr := s.Header()
			for _, k := range []string{"Content-Length", "Content-Range", "Etag", "Last-Modified", "Accept-Ranges"} {
				hdr.Del(k)
			}
			hdr.Set("Content-Type", "text/plain; charset=utf-8")
			s.status = status
			s.ResponseWriter.WriteHeader(status)
			s.ResponseWriter.Write([]byte(msg + "\n"))
			return
		}
	}
	s.status = code
	if n, err := strconv.ParseInt(s.Header().Get("Content-Length"), 10, 64); err == nil {
		s.declared = n
	}
	s.ResponseWriter.WriteHeader(code)
}

// short reports whether the body of r's answer ended before its
// Content-Length: the file or its origin failed, or the client went, after
// the header had gone out. http.ServeContent does not report it.
func (s *sender) short(r *http.Request) bool {
	return r.Method != http.MethodHead && !s.failed && s.declared >= 0 && s.sent < s.declared
}

func (s *sender) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.failed {
		return 0, errAnswered
	}
	if err := s.deadline(); err != nil {
		return 0, err
	}
	n, err := s.ResponseWriter.Write(p)
	s.sent += int64(n)
	return n, err
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
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.failed {
		return 0, errAnswered
	}
	if lr, ok := src.(*io.LimitedReader); ok {
		switch r := lr.R.(type) {
		case *storedReader:
			n, err := s.sendStored(r, lr.N)
			lr.N -= n
			return n, err
		case *virtualFile:
			n, err := s.sendVirtual(r, lr.N)
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
		s.sent += m
		if err != nil {
			return sent, err
		}
		if m < chunk {
			return sent, fmt.Errorf("vod: send %s: %w", f.Name(), io.ErrUnexpectedEOF)
		}
	}
	return sent, nil
}

// sendVirtual sends n bytes of v from its offset: the parts held in
// memory through Write, stored parts through sendFile, and edited ones
// (the retimed tags of a clip) as v reads them.
func (s *sender) sendVirtual(v *virtualFile, n int64) (int64, error) {
	var sent int64
	for sent < n {
		off := v.Offset()
		p, ok := v.Layout().At(off)
		if !ok {
			break
		}
		m := min(p.Len, n-sent)
		var k int64
		var err error
		switch {
		case p.Mem != nil:
			var w int
			w, err = s.Write(p.Mem[:m])
			k = int64(w)
		case p.Edit != nil:
			k, err = s.copy(io.LimitReader(v, m))
		default:
			k, err = s.sendFrom(v.st, p.Src, m)
		}
		sent += k
		if _, serr := v.Seek(off+k, io.SeekStart); err == nil {
			err = serr
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// sendFrom sends n bytes of the stored file st at off, with sendfile, a
// chunk at a time: a source makes each chunk present before it goes.
func (s *sender) sendFrom(st *File, off, n int64) (int64, error) {
	var sent int64
	for sent < n {
		chunk := min(n-sent, sendChunk)
		f, err := st.fileAt(off+sent, chunk)
		if err != nil {
			return sent, err
		}
		k, err := s.sendFile(f, chunk)
		sent += k
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// storedReader is a stored file as http.ServeContent reads it.
type storedReader struct {
	*io.SectionReader
	st *File
}

func plainFile(st *File) *storedReader {
	return &storedReader{SectionReader: io.NewSectionReader(st, 0, st.size), st: st}
}

func (s *sender) sendStored(r *storedReader, n int64) (int64, error) {
	off, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	k, err := s.sendFrom(r.st, off, min(n, r.st.size-off))
	if _, serr := r.Seek(off+k, io.SeekStart); err == nil {
		err = serr
	}
	return k, err
}

// storedOffset maps an offset of what ServeContent reads to the stored
// file: for a virtual file's bytes held in memory (a new header, a moov),
// the stored bytes that follow them. It is false when no stored byte
// follows, and then the answer starts without the origin.
func storedOffset(content io.ReadSeeker, off int64) (int64, bool) {
	switch c := content.(type) {
	case *storedReader:
		return off, true
	case *virtualFile:
		return c.Layout().Stored(off)
	}
	return 0, false
}
