package web

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/h2"
)

// recorder is the ResponseWriter of an HTTP/2 or HTTP/3 viewer as the
// writer sees it: it counts Writes and Flushes.
type recorder struct {
	header  http.Header
	body    bytes.Buffer
	writes  int
	flushes int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(int)             {}
func (r *recorder) Write(p []byte) (int, error) { r.writes++; return r.body.Write(p) }
func (r *recorder) Flush()                      { r.flushes++ }

// SetWriteDeadline is there as in HTTP/2's and HTTP/3's writers.
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

func newRecorded() (*recorder, *responseWriter) {
	rec := &recorder{header: http.Header{}}
	return rec, &responseWriter{w: rec, rc: http.NewResponseController(rec), timeout: time.Second}
}

// A batch of tags leaves in one Write and one Flush, with its bytes in
// order; one larger than the pooled buffer in as few Writes as it takes.
func TestResponseWriterWritesABatchAtOnce(t *testing.T) {
	rec, w := newRecorded()
	small := func(n int) [][]byte {
		var b [][]byte
		for i := range n {
			b = append(b, bytes.Repeat([]byte{byte(i)}, 1000))
		}
		return b
	}
	for _, c := range []struct {
		name   string
		batch  [][]byte
		writes int
	}{
		{"tags", [][]byte{[]byte("FLV header"), []byte("tag one"), []byte("tag two"), []byte("tag three")}, 1},
		{"one tag", [][]byte{[]byte("x")}, 1},
		{"30 KiB of tags", small(30), 1},
		{"100 KiB of tags", small(100), 4},
		{"a keyframe among tags", append(append(small(3), bytes.Repeat([]byte{9}, 64<<10)), small(3)...), 3},
		{"a keyframe that fits among tags", append(append(small(3), bytes.Repeat([]byte{9}, 20<<10)), small(3)...), 1},
	} {
		rec.body.Reset()
		rec.writes, rec.flushes = 0, 0
		n, err := w.WriteBatch(c.batch)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Join(c.batch, nil)
		if n != int64(len(want)) || !bytes.Equal(rec.body.Bytes(), want) {
			t.Fatalf("%s: %d bytes reported, %d written, want %d in order", c.name, n, rec.body.Len(), len(want))
		}
		if rec.writes != c.writes || rec.flushes != 1 {
			t.Fatalf("%s: %d writes and %d flushes, want %d and 1", c.name, rec.writes, rec.flushes, c.writes)
		}
	}
}

// BenchmarkResponseWriterBatch measures an HTTP/2 or HTTP/3 viewer's batch
// of 8 tags of 4 KiB into its response: the copy into one pooled buffer,
// without the transport.
func BenchmarkResponseWriterBatch(b *testing.B) {
	rec, w := newRecorded()
	batch := make([][]byte, 8)
	for i := range batch {
		batch[i] = make([]byte, 4<<10)
	}
	b.ReportAllocs()
	b.SetBytes(8 * 4 << 10)
	for b.Loop() {
		rec.body.Reset()
		if _, err := w.WriteBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// countingConn is a taken-over connection that records what is written.
type countingConn struct {
	net.Conn
	body   bytes.Buffer
	writes int
}

func (c *countingConn) Write(p []byte) (int, error)      { c.writes++; return c.body.Write(p) }
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

// An HTTP/1.1 viewer over TLS, where a vectored write would become a record
// and a system call per tag, gets its chunk in one Write.
func TestTLSViewerChunkLeavesInOneWrite(t *testing.T) {
	conn := &countingConn{}
	w := &connWriter{conn: conn, chunked: true, gather: true, timeout: time.Second}
	n, err := w.WriteBatch([][]byte{[]byte("tag one"), []byte("tag two")})
	if err != nil || n != 14 {
		t.Fatalf("%d bytes, %v", n, err)
	}
	if got := conn.body.String(); got != "e\r\ntag onetag two\r\n" || conn.writes != 1 {
		t.Fatalf("%d writes of %q, want one chunk in one", conn.writes, got)
	}
}

// BenchmarkHTTP2Batches sends batches of tags (four video tags of 8000
// bytes and seven audio tags of 400, about what a viewer takes in 150 ms)
// over HTTP/2 and TLS on loopback, served by Go's HTTP/2 server (Writes of
// 32 KiB) or by package h2 (the batch in one WriteBuffers): the CPU time of both ends per batch (cpu-ns/op; ns/op is the
// wall time, which a busy machine stretches).
func BenchmarkHTTP2Batches(b *testing.B) {
	var batch [][]byte
	for range 4 {
		batch = append(batch, make([]byte, 8000))
	}
	for range 7 {
		batch = append(batch, make([]byte, 400))
	}
	for _, c := range []struct {
		name string
		ours bool
	}{{"go-http2", false}, {"h2", true}} {
		b.Run(c.name, func(b *testing.B) {
			n := b.N
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rw := &responseWriter{w: w, rc: http.NewResponseController(w), timeout: time.Minute, buffers: buffersWriterOf(w)}
				for range n {
					if _, err := rw.WriteBatch(batch); err != nil {
						return
					}
				}
			}))
			if c.ours {
				(&h2.Server{}).Configure(srv.Config)
				srv.TLS = &tls.Config{NextProtos: []string{"h2"}}
			}
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()
			b.SetBytes(int64(len(bytes.Join(batch, nil))))
			before := cpuTime(b)
			b.ResetTimer()
			resp, err := client.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != 2 {
				b.Fatalf("HTTP/%d", resp.ProtoMajor)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpuTime(b)-before)/float64(n), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConnWriterBatch measures an HTTP/1.1 viewer's batch
// (viewerBatch) as one chunk in one vectored write on a loopback TCP
// connection, whose other end discards it: the write deadline, the chunk
// framing and the system call.
func BenchmarkConnWriterBatch(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	read := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.Copy(io.Discard, c)
			c.Close()
		}
		read <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	batch := viewerBatch()
	w := &connWriter{conn: conn, chunked: true, timeout: time.Minute}
	b.ReportAllocs()
	b.SetBytes(4*8000 + 7*400)
	for b.Loop() {
		if _, err := w.WriteBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	conn.Close()
	if err := <-read; err != nil {
		b.Fatal(err)
	}
}

// bufferedResponse is a ResponseWriter that takes batches whole, as
// package h2's does.
type bufferedResponse struct {
	*httptest.ResponseRecorder
	batches int
}

func (b *bufferedResponse) WriteBuffers(bufs [][]byte) (int64, error) {
	b.batches++
	var n int64
	for _, p := range bufs {
		k, _ := b.ResponseRecorder.Write(p)
		n += int64(k)
	}
	return n, nil
}

// An HTTP/2 viewer's batch goes whole to a ResponseWriter that takes it
// so (package h2's), found beneath the metrics' wrapper, and its bytes
// arrive in order.
func TestBatchGoesWholeToAWriterOfBuffers(t *testing.T) {
	rec := &bufferedResponse{ResponseRecorder: httptest.NewRecorder()}
	wrapped := &statusRecorder{ResponseWriter: rec}
	w := &responseWriter{w: wrapped, rc: http.NewResponseController(wrapped), timeout: time.Second, buffers: buffersWriterOf(wrapped)}
	batch := [][]byte{[]byte("one "), bytes.Repeat([]byte("x"), 50<<10), []byte(" two")}
	if n, err := w.WriteBatch(batch); err != nil || n != int64(len(bytes.Join(batch, nil))) {
		t.Fatalf("%d bytes, %v", n, err)
	}
	if rec.batches != 1 || !bytes.Equal(rec.Body.Bytes(), bytes.Join(batch, nil)) {
		t.Fatalf("%d calls of WriteBuffers, the bytes arrived changed: %v", rec.batches, !bytes.Equal(rec.Body.Bytes(), bytes.Join(batch, nil)))
	}
	if buffersWriterOf(httptest.NewRecorder()) != nil {
		t.Fatal("a writer without WriteBuffers taken for one")
	}
}

// viewerBatch is about what an HTTP/1.1 viewer of a 2 Mbit/s stream takes
// in 150 ms: four video tags of 8000 bytes and seven audio tags of 400.
func viewerBatch() [][]byte {
	var batch [][]byte
	for range 4 {
		batch = append(batch, make([]byte, 8000))
	}
	for range 7 {
		batch = append(batch, make([]byte, 400))
	}
	return batch
}

// discardSocket stands for the TCP socket beneath an HTTPS viewer's TLS
// connection, so that a benchmark measures what TLS costs in user space
// without the system call, which plain HTTP pays too.
type discardSocket struct{ net.Conn }

func (discardSocket) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHTTPSBatch measures an HTTPS viewer's batch in user space: the
// chunk framing, the tags gathered into TLS records, the sealing, the
// records gathered beneath TLS for one write (to a socket that discards).
// With one connection, everything stays in the core's caches; with 500,
// written in turn, each batch finds its connection's TLS state and buffers
// as a live server does, gone from them. Beside it are two floors for the
// same bytes: BenchmarkHTTPSBatchTLSOnly, crypto/tls writing them as one
// contiguous Write straight to the socket (what crypto/tls costs at
// least), and BenchmarkHTTPSBatchSealOnly, AES-128-GCM sealing them in
// 16 KiB records and nothing else (what the cipher costs).
func BenchmarkHTTPSBatch(b *testing.B) {
	for _, conns := range []int{1, 500} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			writers := make([]*connWriter, conns)
			for i := range writers {
				p := newTLSPair(b)
				p.socket.Conn = discardSocket{p.socket.Conn}
				writers[i] = &connWriter{conn: p.server, chunked: true, gather: true, held: p.held, timeout: time.Minute}
				// Past dynamic record sizing's small records, as a
				// viewer is after its first 128 KiB.
				if _, err := writers[i].WriteBatch([][]byte{make([]byte, 200<<10)}); err != nil {
					b.Fatal(err)
				}
			}
			batch := viewerBatch()
			b.ReportAllocs()
			b.SetBytes(int64(len(bytes.Join(batch, nil))))
			i := 0
			for b.Loop() {
				if _, err := writers[i%conns].WriteBatch(batch); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkHTTPSBatchTLSOnly(b *testing.B) {
	p := newTLSPair(b)
	p.socket.Conn = discardSocket{p.socket.Conn}
	if _, err := p.server.Write(make([]byte, 200<<10)); err != nil {
		b.Fatal(err)
	}
	batch := bytes.Join(viewerBatch(), nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := p.server.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTTPSBatchSealOnly(b *testing.B) {
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	plain := bytes.Join(viewerBatch(), nil)
	record := make([]byte, 0, 16<<10+aead.Overhead())
	nonce := make([]byte, aead.NonceSize())
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		for rest := plain; len(rest) > 0; {
			n := min(len(rest), 16<<10)
			aead.Seal(record[:0], nonce, rest[:n], nil)
			rest = rest[n:]
		}
	}
}

// deadlineRecorder is a ResponseWriter that records the write deadlines
// http.ResponseController sets on it.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	set []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// An HTTP/2 or HTTP/3 viewer's write deadline is set once per sixteenth
// of the timeout, not for every batch (each setting moves a timer under
// the connection's lock), and every batch has at least the timeout.
func TestWriteDeadlineSetOncePerSixteenth(t *testing.T) {
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	const timeout = time.Hour
	w := &responseWriter{w: rec, rc: http.NewResponseController(rec), timeout: timeout}
	for range 100 {
		before := time.Now()
		if _, err := w.WriteBatch([][]byte{[]byte("tag")}); err != nil {
			t.Fatal(err)
		}
		if last := rec.set[len(rec.set)-1]; last.Before(before.Add(timeout)) {
			t.Fatalf("deadline %v, less than the timeout after the batch began", last.Sub(before))
		}
	}
	if len(rec.set) != 1 {
		t.Fatalf("%d deadlines set for 100 batches, want 1", len(rec.set))
	}
	// Once less than the timeout is left, the next batch sets it again.
	w.deadline.at = time.Now().Add(timeout - time.Second)
	if _, err := w.WriteBatch([][]byte{[]byte("tag")}); err != nil {
		t.Fatal(err)
	}
	if len(rec.set) != 2 {
		t.Fatalf("%d deadlines set, want a second one once less than the timeout was left", len(rec.set))
	}
}
