package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// A page of many players, or a downstream server multiplexing its pulls,
// opens more than 100 live streams on one HTTP/2 or HTTP/3 connection: each
// is served, or refused at once with the reason, never left waiting for a
// stream that an endless response does not free. (quic-go's default of 100
// streams left the 101st waiting.)
func TestManyLiveStreamsOnOneConnection(t *testing.T) {
	for _, c := range []struct {
		name            string
		perConn         int
		streams, served int
	}{
		{"the default cap: all served", 1000, 150, 150},
		{"beyond the cap: refused", 5, 20, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSite(t, func(cfg *ServerConfig) { cfg.MaxViewersPerConn = c.perConn })
			p, err := s.hub.Publish("live", "many", func() {})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
			p.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})
			for _, proto := range []string{"HTTP/2.0", "HTTP/3.0"} {
				t.Run(proto, func(t *testing.T) {
					served, refused := openStreams(t, s.clients[proto], s.secureURL("many"), proto, c.streams)
					if served != c.served || refused != c.streams-c.served {
						t.Fatalf("%d served and %d refused of %d streams, want %d served", served, refused, c.streams, c.served)
					}
				})
			}
		})
	}
}

// openStreams opens n live responses at once on client's connection and
// holds the played ones open until every request has its answer. Any
// request without one after a generous time fails the test.
func openStreams(t *testing.T, client *http.Client, url, proto string, n int) (served, refused int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var answered, wg sync.WaitGroup
	answered.Add(n)
	done := make(chan struct{})
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err != nil {
				answered.Done()
				t.Errorf("no answer: %v", err)
				return
			}
			defer resp.Body.Close()
			if resp.Proto != proto {
				t.Errorf("answered over %s", resp.Proto)
			}
			switch resp.StatusCode {
			case http.StatusOK:
				var head [flv.HeaderSize]byte
				if _, err := io.ReadFull(resp.Body, head[:]); err != nil {
					t.Errorf("played stream: %v", err)
				}
				mu.Lock()
				served++
				mu.Unlock()
				answered.Done()
				<-done // keep the stream open while the others ask
			case http.StatusTooManyRequests:
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), "too many live streams on this connection") {
					t.Errorf("refusal without its reason: %q", body)
				}
				mu.Lock()
				refused++
				mu.Unlock()
				answered.Done()
			default:
				answered.Done()
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	answered.Wait()
	close(done)
	wg.Wait()
	return served, refused
}
