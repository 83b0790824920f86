package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/config"
)

// closedByServer makes one HTTP/1.1 request on a connection that dial
// opens, then waits until the server closes the connection, at most bound.
func closedByServer(dial func() (net.Conn, error), path string, bound time.Duration) error {
	conn, err := dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		return fmt.Errorf("GET %s: the server did not keep the connection alive", path)
	}
	conn.SetReadDeadline(time.Now().Add(bound))
	_, err = br.ReadByte()
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("an idle keep-alive connection still open after %v", bound)
	}
	return nil
}

// hangUpWatch wraps a client's TCP connection under TLS and tells when it
// ends: its reads fail, or the client closes it after TLS read the
// server's close_notify (the TCP read never sees the end then).
type hangUpWatch struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *hangUpWatch) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.end()
	}
	return n, err
}

func (c *hangUpWatch) Close() error {
	c.end()
	return c.Conn.Close()
}

func (c *hangUpWatch) end() { c.once.Do(func() { close(c.closed) }) }

func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	const idle = time.Second
	const bound = time.Minute // generous: a loaded machine is slow, not a minute late
	s, clients := secureServer(t, func(c *config.Config) { c.HTTPTimeouts.Idle = idle })
	startDemo(t, s)

	// Viewers on every protocol, for longer than the idle timeout.
	viewers := map[string]*viewer{}
	for proto, client := range clients {
		viewers[proto] = watchWith(t, client, s.protoURL(proto, "demo"))
	}

	var wg sync.WaitGroup
	tlsConfig := clients["HTTP/2.0"].Transport.(*http.Transport).TLSClientConfig
	for _, l := range []struct {
		name, path string
		dial       func() (net.Conn, error)
	}{
		{"http", "/api/streams", func() (net.Conn, error) { return net.Dial("tcp", s.web.HTTPAddr().String()) }},
		{"admin", "/metrics", func() (net.Conn, error) { return net.Dial("tcp", s.web.AdminAddr().String()) }},
		{"https", "/api/streams", func() (net.Conn, error) {
			return tls.Dial("tcp", s.web.HTTPSAddr().String(), &tls.Config{RootCAs: tlsConfig.RootCAs, NextProtos: []string{"http/1.1"}})
		}},
	} {
		wg.Go(func() {
			if err := closedByServer(l.dial, l.path, bound); err != nil {
				t.Errorf("%s: %v", l.name, err)
			}
		})
	}
	wg.Go(func() {
		// HTTP/2: a client connection with no stream left. The client
		// closes it only when the server has (GOAWAY, then close_notify).
		watched := make(chan *hangUpWatch, 1)
		h2 := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: tlsConfig.Clone(),
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				w := &hangUpWatch{Conn: conn, closed: make(chan struct{})}
				watched <- w
				return w, nil
			}}
		h2.Protocols = new(http.Protocols)
		h2.Protocols.SetHTTP2(true)
		defer h2.CloseIdleConnections()
		get(t, &http.Client{Transport: h2}, "https://"+s.web.HTTPSAddr().String()+"/api/streams", "HTTP/2.0")
		select {
		case <-(<-watched).closed:
		case <-time.After(bound):
			t.Errorf("https h2: an idle keep-alive connection still open after %v", bound)
		}
	})
	wg.Go(func() {
		// HTTP/3: the client keeps QUIC alive with pings, so that only the
		// server's HTTP/3 idle timeout may end the connection.
		conns := make(chan *quic.Conn, 1)
		h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: tlsConfig.RootCAs},
			QUICConfig: &quic.Config{KeepAlivePeriod: idle / 4, MaxIdleTimeout: 5 * time.Minute},
			Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
				conn, err := quic.DialAddrEarly(ctx, addr, tlsCfg, cfg)
				if err == nil {
					conns <- conn
				}
				return conn, err
			}}
		defer h3.Close()
		get(t, &http.Client{Transport: h3}, "https://"+s.web.HTTPSAddr().String()+"/api/streams", "HTTP/3.0")
		select {
		case <-(<-conns).Context().Done():
		case <-time.After(bound):
			t.Errorf("http3: an idle keep-alive connection still open after %v", bound)
		}
	})
	wg.Wait()

	// Every idle connection is gone, so the viewers have played longer
	// than the idle timeout: they play on.
	for proto, v := range viewers {
		n := v.count()
		v.waitTags(t, n+20)
		select {
		case <-v.ended:
			t.Fatalf("%s viewer ended: %v", proto, v.err)
		default:
		}
	}
}

// get makes one request that must succeed over proto.
func get(t *testing.T, client *http.Client, url, proto string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != proto {
		t.Errorf("GET %s: %s over %s", url, resp.Status, resp.Proto)
	}
}

func TestDemoWithEmptyHTTPSListenHasNoHTTPS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls, done := runCommand(t, ctx, "--config", quickDrain(t), "--demo", "--https-listen", "",
		"--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for label, url := range urls {
		if strings.HasPrefix(url, "https:") {
			t.Errorf("--https-listen \"\" with --demo: %s %s", label, url)
		}
	}
}

// TestPublicListAndCORSFromTheConfig: the public stream list leaves out
// what needs a token, and CORS trusts only the configured origins.
func TestPublicListAndCORSFromTheConfig(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Access.SecureTokenSecrets = []string{"s3cret-s3cret"}
		c.CORS.CredentialOrigins = []string{"https://player.example"}
	})
	publishDemo(t, s)
	var admin, public []map[string]any
	getJSON(t, s.adminURL()+"/api/streams", &admin)
	getJSON(t, s.baseURL()+"/api/streams", &public)
	if len(admin) != 1 || len(public) != 0 {
		t.Fatalf("admin lists %v, the public list %v; want the stream that needs a token on the admin listener only", admin, public)
	}
	for origin, want := range map[string][2]string{
		"https://player.example": {"https://player.example", "true"},
		"https://other.example":  {"*", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, s.playURL("demo"), nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := [2]string{resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")}; got != want {
			t.Errorf("from %s: Allow-Origin, Allow-Credentials %q, want %q", origin, got, want)
		}
	}
}
