package h2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/flvedge/flvedge/internal/testutil"
)

// Interoperability with Go's HTTP/2 clients: net/http's Transport and
// golang.org/x/net/http2's, over TLS through http.Server.TLSNextProto.

type connKey struct{}

// newTLSServer serves h over HTTPS with a Server that edit may change,
// and returns it with clients of both kinds.
func newTLSServer(t *testing.T, h http.Handler, edit func(*Server)) (*httptest.Server, map[string]*http.Client) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	srv := &Server{}
	if edit != nil {
		edit(srv)
	}
	srv.Configure(ts.Config)
	ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c.RemoteAddr().String())
	}
	ts.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	ts.EnableHTTP2 = true
	ts.StartTLS()
	std := ts.Client()
	// x/net's client is deprecated for net/http's, but still used: it
	// is one of the clients this server must serve.
	xt := &http2.Transport{TLSClientConfig: std.Transport.(*http.Transport).TLSClientConfig} //lint:ignore SA1019 see above
	t.Cleanup(func() {
		std.CloseIdleConnections()
		ts.Close()
	})
	return ts, map[string]*http.Client{"net/http": std, "x/net/http2": {Transport: xt}}
}

func get(t *testing.T, c *http.Client, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body := testutil.Do(t, c, method, url, header...)
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s", resp.Proto)
	}
	return resp, body
}

// wantBody gets url with each client and wants content.
func wantBody(t *testing.T, clients map[string]*http.Client, url string, content []byte) {
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, c, http.MethodGet, url)
			if resp.StatusCode != http.StatusOK || sha256.Sum256(body) != sha256.Sum256(content) {
				t.Fatalf("%s, %d bytes, want %d", resp.Status, len(body), len(content))
			}
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b)
	return b
}

// TestServeContent: GET, HEAD and Range requests of http.ServeContent,
// as VOD serves them.
func TestServeContent(t *testing.T) {
	content := randomBytes(3<<20 + 17)
	modTime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "clip.flv", modTime, bytes.NewReader(content))
	}), nil)
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, c, http.MethodGet, ts.URL+"/clip.flv")
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
				t.Fatalf("GET: %s, %d bytes, want %d", resp.Status, len(body), len(content))
			}
			if resp.Header.Get("Date") == "" || resp.Header.Get("Content-Length") != fmt.Sprint(len(content)) {
				t.Fatalf("GET header %v", resp.Header)
			}
			resp, body = get(t, c, http.MethodHead, ts.URL+"/clip.flv")
			if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(content)) {
				t.Fatalf("HEAD: %s, %d bytes of body, length %d", resp.Status, len(body), resp.ContentLength)
			}
			resp, body = get(t, c, http.MethodGet, ts.URL+"/clip.flv", "Range", "bytes=1000-1999")
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[1000:2000]) {
				t.Fatalf("Range: %s, %d bytes", resp.Status, len(body))
			}
			if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(content)) {
				t.Fatalf("Content-Range %q", cr)
			}
			resp, _ = get(t, c, http.MethodGet, ts.URL+"/clip.flv", "If-Modified-Since", modTime.Format(http.TimeFormat))
			if resp.StatusCode != http.StatusNotModified {
				t.Fatalf("conditional: %s", resp.Status)
			}
		})
	}
}

// TestWritesOfEverySize: a body written in Writes of every size, from one
// byte to several frames, arrives whole and in order.
func TestWritesOfEverySize(t *testing.T) {
	content := randomBytes(8 << 20)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		rnd := rand.New(rand.NewPCG(1, 2))
		for p := content; len(p) > 0; {
			n := min(len(p), []int{1, 100, 4095, 4096, 4097, 16384, 40000, 300000}[rnd.IntN(8)])
			if _, err := w.Write(p[:n]); err != nil {
				return
			}
			p = p[n:]
		}
	}), nil)
	wantBody(t, clients, ts.URL, content)
}

// TestManyStreamsAtOnce: many requests at once on one connection, more
// than its stream limit, each get their own body.
func TestManyStreamsAtOnce(t *testing.T) {
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.URL.Path) * 1000
		w.Write(bytes.Repeat([]byte(r.URL.Path[1:2]), n))
	}), func(s *Server) { s.MaxConcurrentStreams = 50 })
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for i := range 300 {
				wg.Go(func() {
					path := "/" + string(rune('a'+i%26)) + strings.Repeat("x", i%40)
					resp, err := c.Get(ts.URL + path)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					body, err := io.ReadAll(resp.Body)
					if err != nil || !bytes.Equal(body, bytes.Repeat([]byte(path[1:2]), len(path)*1000)) {
						t.Errorf("%s: %d bytes, %v", path, len(body), err)
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestRequestAndResponseFields: what a handler gets and what the client
// sees, as net/http gives them.
func TestRequestAndResponseFields(t *testing.T) {
	type seen struct {
		proto, host, cookie, remote, connKey string
		major                                int
		tls                                  bool
		hijack                               error
	}
	got := make(chan seen, 1)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, err := http.NewResponseController(w).Hijack()
		key, _ := r.Context().Value(connKey{}).(string)
		got <- seen{r.Proto, r.Host, r.Header.Get("Cookie"), r.RemoteAddr, key, r.ProtoMajor, r.TLS != nil, err}
		io.WriteString(w, "<html><body>hello</body></html>")
	}), nil)
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, c, http.MethodGet, ts.URL+"/page?x=1", "Cookie", "a=1; b=2")
			s := <-got
			if s.proto != "HTTP/2.0" || s.major != 2 || !s.tls || s.host != ts.Listener.Addr().String() {
				t.Errorf("request %+v", s)
			}
			if s.cookie != "a=1; b=2" {
				t.Errorf("cookie %q", s.cookie)
			}
			if s.remote == "" || s.connKey != s.remote {
				t.Errorf("remote address %q, ConnContext's %q", s.remote, s.connKey)
			}
			if !errors.Is(s.hijack, http.ErrNotSupported) {
				t.Errorf("Hijack: %v, want http.ErrNotSupported", s.hijack)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("sniffed Content-Type %q", ct)
			}
			if resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" {
				t.Errorf("length %d of %d, Date %q", resp.ContentLength, len(body), resp.Header.Get("Date"))
			}
		})
	}
}

// TestRequestBodies: a small body is read; one declared too long gets
// 413 without the handler; one that turns out too long fails its Read.
func TestRequestBodies(t *testing.T) {
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var tooLong *http.MaxBytesError
		if errors.As(err, &tooLong) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			t.Errorf("body: %v", err)
		}
		fmt.Fprintf(w, "%d %x", len(body), sha256.Sum256(body))
	}), func(s *Server) { s.MaxRequestBodySize = 100 << 10 })
	small := randomBytes(70 << 10)
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Post(ts.URL, "application/octet-stream", bytes.NewReader(small))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("%d %x", len(small), sha256.Sum256(small)); string(body) != want {
				t.Fatalf("%s: %q, want %q", resp.Status, body, want)
			}
			resp, err = c.Post(ts.URL, "application/octet-stream", bytes.NewReader(make([]byte, 200<<10)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("declared too long: %s", resp.Status)
			}
			// No length: the body is read until the window is spent.
			resp, err = c.Post(ts.URL, "application/octet-stream", io.MultiReader(bytes.NewReader(make([]byte, 200<<10))))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("too long: %s", resp.Status)
				}
			}
			// The connection goes on.
			if resp, _ := get(t, c, http.MethodGet, ts.URL); resp.StatusCode != http.StatusOK {
				t.Fatalf("after: %s", resp.Status)
			}
		})
	}
}

// TestHandlerPanicResetsItsStream: a handler that panics has its stream
// reset, quietly for http.ErrAbortHandler, logged otherwise; the
// connection serves on.
func TestHandlerPanicResetsItsStream(t *testing.T) {
	var logged testutil.SyncBuffer
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/bug":
			panic("a bug")
		}
		io.WriteString(w, "ok")
	}), func(s *Server) { s.Logger = slog.New(slog.NewTextHandler(&logged, nil)) })
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/abort", "/bug"} {
				resp, err := c.Get(ts.URL + path)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Fatalf("%s: the response ended cleanly", path)
				}
			}
			if _, body := get(t, c, http.MethodGet, ts.URL); string(body) != "ok" {
				t.Fatalf("after the panics: %q", body)
			}
		})
	}
	if s := logged.String(); !strings.Contains(s, "a bug") || strings.Contains(s, "abort handler") {
		t.Fatalf("log: %s", s)
	}
}

// TestClientCancelEndsTheRequestContext: a client that gives up on a
// stream resets it, which ends the handler's context and fails its Write.
func TestClientCancelEndsTheRequestContext(t *testing.T) {
	ended := make(chan error, 1)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				<-r.Context().Done()
				ended <- err
				return
			}
		}
	}), nil)
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadFull(resp.Body, make([]byte, 100<<10))
			cancel()
			resp.Body.Close()
			select {
			case err := <-ended:
				if err == nil {
					t.Fatal("Write did not fail")
				}
			case <-time.After(time.Minute): // generous: an event, not a timing
				t.Fatal("the handler went on after the client's reset")
			}
		})
	}
}

// TestWriteDeadline: a Write that waits for a client that does not read
// fails at the deadline set through http.ResponseController.
func TestWriteDeadline(t *testing.T) {
	failed := make(chan error, 1)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		chunk := make([]byte, 64<<10)
		for {
			if err := rc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				failed <- err
				return
			}
			if _, err := w.Write(chunk); err != nil {
				failed <- err
				return
			}
		}
	}), nil)
	c := clients["net/http"]
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case err := <-failed:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write failed with %v, want a deadline error", err)
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("the Write to a client that does not read did not fail")
	}
}

// TestShutdownIsGraceful: http.Server.Shutdown sends a GOAWAY; the
// response under way runs to its end, then the connection closes and
// Shutdown returns.
func TestShutdownIsGraceful(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		close(started)
		<-release
		io.WriteString(w, "last")
	}), nil)
	resp, err := clients["net/http"].Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- ts.Config.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a response goes on", err)
	case <-time.After(100 * time.Millisecond): // a chance to fail, not a bound
	}
	close(release)
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "first last" {
		t.Fatalf("body %q, %v", body, err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("Shutdown did not return after the last stream")
	}
}

// TestWriteBuffers: a body written as batches of pieces, without copying
// them together, arrives whole and in order, and the pieces are left as
// they were.
func TestWriteBuffers(t *testing.T) {
	content := randomBytes(4 << 20)
	ts, clients := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/x-flv")
		w.(http.Flusher).Flush()
		bw := w.(interface {
			WriteBuffers([][]byte) (int64, error)
		})
		rnd := rand.New(rand.NewPCG(3, 4))
		for p := content; len(p) > 0; {
			var batch [][]byte
			for range 1 + rnd.IntN(20) {
				n := min(len(p), rnd.IntN(20000))
				batch = append(batch, p[:n])
				p = p[n:]
			}
			kept := bytes.Clone(bytes.Join(batch, nil))
			if _, err := bw.WriteBuffers(batch); err != nil {
				return
			}
			if !bytes.Equal(bytes.Join(batch, nil), kept) {
				t.Error("WriteBuffers changed its pieces")
				return
			}
		}
	}), nil)
	wantBody(t, clients, ts.URL, content)
}
