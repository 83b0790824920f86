package web

import (
	"context"
	"sync/atomic"
)

// HTTP/2 and HTTP/3 carry many requests on one connection, at most as many
// at once as the server allows (SETTINGS_MAX_CONCURRENT_STREAMS, QUIC's
// stream credit). A client at that limit does not fail: it waits for a
// stream to end, which an endless live response never does. So live viewers
// on one connection are capped below the protocol's limit, by
// Limits.MaxViewersPerConn: the excess gets a quick refusal that says why,
// which ends its stream and gives the client back the credit, and the
// streams left over serve the page's other requests.

// streamHeadroom is how many more streams a connection may open than it
// may have live viewers: the Server's stream limits are the viewer cap plus
// this.
const streamHeadroom = 100

type connViewersKey struct{}

// withConnViewers gives a connection's context the count of its live
// viewers; the Server's ConnContext calls it for every connection.
func withConnViewers(ctx context.Context) context.Context {
	return context.WithValue(ctx, connViewersKey{}, new(atomic.Int64))
}

// joinConn counts a viewer on the request's connection, unless the
// connection already has max (0: no cap). It returns the function that
// counts it out, or nil when it is refused.
func joinConn(ctx context.Context, max int) func() {
	n, _ := ctx.Value(connViewersKey{}).(*atomic.Int64)
	if n == nil || max <= 0 {
		return func() {}
	}
	if n.Add(1) > int64(max) {
		n.Add(-1)
		return nil
	}
	return func() { n.Add(-1) }
}
