package web

import (
	"bytes"
	"net/http"
	"testing"
	"time"
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

// A batch of tags leaves in one Write and one Flush, with its bytes in order.
func TestResponseWriterWritesABatchAtOnce(t *testing.T) {
	rec, w := newRecorded()
	batches := [][][]byte{
		{[]byte("FLV header"), []byte("tag one"), []byte("tag two"), []byte("tag three")},
		{bytes.Repeat([]byte{7}, 64<<10), []byte("after a big one")},
		{[]byte("x")},
	}
	var want bytes.Buffer
	for i, batch := range batches {
		n, err := w.WriteBatch(batch)
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, b := range batch {
			want.Write(b)
			size += len(b)
		}
		if n != int64(size) {
			t.Fatalf("batch %d: %d bytes reported, want %d", i, n, size)
		}
		if rec.writes != i+1 || rec.flushes != i+1 {
			t.Fatalf("after %d batches: %d writes and %d flushes, want one of each per batch", i+1, rec.writes, rec.flushes)
		}
	}
	if !bytes.Equal(rec.body.Bytes(), want.Bytes()) {
		t.Fatal("the bytes written are not the batches' in order")
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
