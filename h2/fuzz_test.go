package h2

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzServeConn feeds arbitrary bytes, after a valid preface, to a
// connection whose handler reads the body and answers. Whatever they
// are, nothing panics, the connection ends once the client has gone, and
// every handler returns.
func FuzzServeConn(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Read", "yes")
			w.Write(bytes.Repeat([]byte("x"), int(n%70000)))
		})
		cc, sc := net.Pipe()
		served := make(chan struct{})
		// ServeConn's insides: the handlers the connection started are
		// counted in c.handlers, those not yet running included.
		c := newConn(&Server{MaxConcurrentStreams: 10, WriteTimeout: time.Second}, context.Background(), sc, h, nil)
		go func() {
			defer close(served)
			c.serve()
		}()
		go io.Copy(io.Discard, cc)
		cc.Write([]byte(http2.ClientPreface))
		cc.Write(in)
		cc.Close()
		select {
		case <-served:
		case <-time.After(time.Minute): // generous: an event, not a timing
			t.Fatal("the connection did not end after the client closed it")
		}
		deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
		for {
			c.mu.Lock()
			n := c.handlers
			c.mu.Unlock()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d handlers still run after the connection ended", n)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// fuzzSeeds are frame sequences of a normal connection and of a few
// attacks, for the fuzzer to start from, beside testdata/fuzz.
func fuzzSeeds() [][]byte {
	seed := func(write func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		write(fr)
		return b.Bytes()
	}
	return [][]byte{
		seed(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock("/a"), EndStream: true, EndHeaders: true})
			fr.WriteWindowUpdate(0, 1000)
			fr.WritePing(false, [8]byte{1})
		}),
		seed(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock("/post"), EndHeaders: true})
			fr.WriteData(1, false, []byte("hello"))
			fr.WriteData(1, true, nil)
			fr.WriteRSTStream(1, http2.ErrCodeCancel)
		}),
		seed(func(fr *http2.Framer) {
			b := requestBlock("/c")
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b[:2], EndStream: true})
			fr.WriteContinuation(3, true, b[2:])
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
			fr.WriteWindowUpdate(3, 10)
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
	}
}

// requestBlock is the HPACK block of a GET of path.
func requestBlock(path string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", path}, {"cookie", "a=1"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return b.Bytes()
}
