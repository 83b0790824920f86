package auth

import (
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
)

// Reason is why a request was refused. It is an error, so that callers can
// test with errors.Is or errors.As; the text is a metric label.
type Reason string

// Every reason a Guard refuses for.
const (
	TokenMissing   Reason = "token_missing"   // no token where one is required
	TokenMalformed Reason = "token_malformed" // a token that cannot have been signed by us
	TokenInvalid   Reason = "token_invalid"   // wrong signature: tampered, wrong secret, path or client
	TokenExpired   Reason = "token_expired"   // genuine, but too late
	KeyInvalid     Reason = "key_invalid"     // publish key absent or not in the list
	RefererDenied  Reason = "referer"
	AgentDenied    Reason = "user_agent"
	IPDenied       Reason = "ip"
	CountryDenied  Reason = "country"
	CallbackDenied Reason = "callback"       // the operator's service said no
	CallbackFailed Reason = "callback_error" // the operator's service did not answer in time, or not in HTTP
	RateLimited    Reason = "rate"           // too many requests from one client
	ClientBusy     Reason = "client_connections"
	StreamFull     Reason = "viewers"
)

var reasons = [...]Reason{
	TokenMissing, TokenMalformed, TokenInvalid, TokenExpired, KeyInvalid,
	RefererDenied, AgentDenied, IPDenied, CountryDenied, CallbackDenied,
	CallbackFailed, RateLimited, ClientBusy, StreamFull,
}

// AllReasons lists every Reason in a stable order, for metrics that export
// zero counts too.
func AllReasons() []Reason { return slices.Clone(reasons[:]) }

func (r Reason) Error() string { return string(r) }

// Status is the HTTP status a play request refused for r gets. Only expiry,
// limits and a failing callback are told apart: the client should not learn
// which part of a token or which rule failed.
func (r Reason) Status() int {
	switch r {
	case TokenExpired:
		return http.StatusGone
	case RateLimited, ClientBusy:
		return http.StatusTooManyRequests
	case StreamFull, CallbackFailed:
		return http.StatusServiceUnavailable
	}
	return http.StatusForbidden
}

// ReasonOf returns the Reason err carries, or "" if it carries none.
func ReasonOf(err error) Reason {
	var r Reason
	if errors.As(err, &r) {
		return r
	}
	return ""
}

// counters counts refusals by reason.
type counters [len(reasons)]atomic.Uint64

func reasonIndex(r Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return -1
}

func (c *counters) add(r Reason) {
	if i := reasonIndex(r); i >= 0 {
		c[i].Add(1)
	}
}

func (c *counters) snapshot() map[Reason]uint64 {
	m := make(map[Reason]uint64, len(reasons))
	for i, r := range reasons {
		m[r] = c[i].Load()
	}
	return m
}
