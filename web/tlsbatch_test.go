package web

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
)

// countedConn counts the writes that reach the socket.
type countedConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// tlsPair is an HTTP/1.1 viewer's taken-over TLS connection on loopback,
// with a batchConn beneath the server's side as newBatchListener gives it,
// and the client's side.
type tlsPair struct {
	server *tls.Conn
	held   *batchConn
	socket *countedConn
	client *tls.Conn
}

func newTLSPair(t testing.TB) tlsPair {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // only for its certificate
	srv.StartTLS()
	cert := srv.TLS.Certificates[0]
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	socket := &countedConn{Conn: raw}
	held := &batchConn{Conn: socket}
	p := tlsPair{
		server: tls.Server(held, &tls.Config{Certificates: []tls.Certificate{cert}}),
		held:   held,
		socket: socket,
		client: tls.Client(<-dialed, &tls.Config{RootCAs: roots, ServerName: "example.com"}),
	}
	t.Cleanup(func() {
		p.server.Close()
		p.client.Close()
	})
	handshake := make(chan error, 1)
	go func() { handshake <- p.client.Handshake() }()
	if err := p.server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-handshake; err != nil {
		t.Fatal(err)
	}
	return p
}

// pieces cuts size bytes of a pattern into tags of at most 7000 bytes.
func pieces(size int) [][]byte {
	var bufs [][]byte
	for i := 0; size > 0; i++ {
		n := min(size, 7000)
		bufs = append(bufs, bytes.Repeat([]byte{byte('a' + i%26)}, n))
		size -= n
	}
	return bufs
}

// A batch of several TLS records leaves in one write to the socket, and
// what the client decrypts is the chunk, whole and in order; a batch
// larger than the held buffer leaves in a few writes, not one per record.
func TestTLSBatchRecordsLeaveInOneWrite(t *testing.T) {
	p := newTLSPair(t)
	w := &connWriter{conn: p.server, chunked: true, gather: true, held: p.held, timeout: 10 * time.Second}
	for _, c := range []struct {
		size, most int // bytes of tags, writes allowed
	}{
		{40 << 10, 1},   // three records
		{100, 1},        // one
		{400 << 10, 10}, // 25 records
	} {
		batch := pieces(c.size)
		want := bytes.Join(batch, nil)
		received := make(chan []byte, 1)
		go func() {
			// chunk head, tags, CRLF
			head := len(want) + len(crlf) + len(strconvHex(len(want))) + len(crlf)
			got := make([]byte, head)
			if _, err := io.ReadFull(p.client, got); err != nil {
				t.Error(err)
			}
			received <- got
		}()
		before := p.socket.writes.Load()
		n, err := w.WriteBatch(batch)
		if err != nil || n != int64(len(want)) {
			t.Fatalf("%d bytes: %d written, %v", c.size, n, err)
		}
		writes := p.socket.writes.Load() - before
		got := <-received
		if chunk := append(append([]byte(strconvHex(len(want))+"\r\n"), want...), "\r\n"...); !bytes.Equal(got, chunk) {
			t.Fatalf("%d bytes: the client decrypted something else", c.size)
		}
		if writes < 1 || writes > int64(c.most) {
			t.Fatalf("%d bytes of tags took %d writes to the socket, want at most %d", c.size, writes, c.most)
		}
	}
	// Nothing is held between batches: the end of the body leaves at once.
	w.End()
	rest, err := io.ReadAll(p.client)
	if err != nil || string(rest) != "0\r\n\r\n" {
		t.Fatalf("after the batches: %q, %v", rest, err)
	}
}

func strconvHex(n int) string { return strconv.FormatInt(int64(n), 16) }

// A client that reads nothing is found by the write deadline while records
// are held, and nothing more is written after the failed batch: crypto/tls
// took its records as sent.
func TestTLSBatchKeepsTheWriteDeadline(t *testing.T) {
	p := newTLSPair(t)
	w := &connWriter{conn: p.server, chunked: true, gather: true, held: p.held, timeout: 100 * time.Millisecond}
	big := bytes.Repeat([]byte{1}, 64<<10)
	batch := make([][]byte, 1024) // 64 MiB: more than the socket buffers hold
	for i := range batch {
		batch[i] = big
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.WriteBatch(batch)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stuck client: %v, want the deadline", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the write to a client that reads nothing did not end")
	}
	if _, err := p.held.Write([]byte("more")); err == nil {
		t.Fatal("a write after a failed batch went on")
	}
	if p.held.held != nil {
		t.Fatal("the failed batch kept its buffer")
	}
}

// Another goroutine may write through the TLS connection (an alert) or
// close it while a batch is held: the race detector watches.
func TestTLSBatchConcurrentClose(t *testing.T) {
	p := newTLSPair(t)
	w := &connWriter{conn: p.server, chunked: true, gather: true, held: p.held, timeout: 10 * time.Second}
	go func() { _, _ = io.Copy(io.Discard, p.client) }()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, err := w.WriteBatch(pieces(50 << 10)); err != nil {
				return
			}
		}
	})
	wg.Go(func() { _ = p.server.CloseWrite() })
	p.server.Close()
	wg.Wait()
}

// Through the server: an HTTP/1.1 viewer over TLS on newBatchListener gets
// the stream intact.
func TestTLSBatchListenerServesViewers(t *testing.T) {
	hub := relay.NewHub(relay.Config{Grace: 0})
	srv := httptest.NewUnstartedServer(NewHandler(&Live{Hub: hub}))
	srv.Listener = newBatchListener(srv.Listener)
	srv.StartTLS()
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	s := &testServer{t: t, hub: hub, srv: srv}
	s.publish("live", "a")
	s.gop(2)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/live/a.flv", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/%d, want HTTP/1.1 over TLS", resp.ProtoMajor)
	}
	// The viewer's cursor starts at the first tag it is given, not when
	// its response's header arrives: once it has the configurations and
	// the first GOP, every tag written from then on comes, in order.
	fr := flv.NewReader(resp.Body)
	if _, err := fr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	nextTags(t, fr, 3+4)                                     // configs, the first GOP
	big := bytes.Repeat([]byte{0x27, 0x01, 0, 0, 0}, 10<<10) // 50 KiB: four records
	for range 5 {
		s.write(flv.TagVideo, big)
		s.gop(2)
	}
	for i, tag := range nextTags(t, fr, 5*(1+4)) {
		if i%5 == 0 && !bytes.Equal(tag.Data, big) {
			t.Fatalf("tag %d of several records arrived changed", i)
		}
	}
}
