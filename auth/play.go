package auth

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/flvedge/flvedge/ratelog"
)

// Play wraps the handler of play paths (live and VOD alike) with Admit: a
// refused request gets its empty-handed answer, and an admitted one goes on
// to next, its admission given back when next returns. Wrap a handler that
// routes by path, such as a ServeMux, so that the path without an in-path
// token is what gets routed. A response that outlives its handler (a live
// viewer on a taken-over connection) calls Admit itself and holds its
// admission as long as the response goes on.
func (g *Guard) Play(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admitted, a, ok := g.Admit(w, r)
		if !ok {
			return
		}
		defer a.Release()
		next.ServeHTTP(w, admitted)
	})
}

// Admit runs the rules on a play request. A refused request is answered
// (403, 410, 429 or 503, nothing more) and ok is false. An admitted one
// comes back with an in-path token ("/TOKEN/EXPIRES/live/x.flv") taken off
// its path, and with its admission, which the caller holds while the
// response goes on and releases when it ends.
//
// Everything is checked when the request starts: a response that began
// before its token expired keeps flowing.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request) (admitted *http.Request, a *Admission, ok bool) {
	// One request is judged by one policy, even if a reload comes while it
	// is checked.
	p := g.policy.Load()
	client := p.client(r)
	admitted, release, err := g.admit(p, r, client)
	if err != nil {
		g.refuse(p, w, r, client, err)
		return nil, nil, false
	}
	return admitted, &Admission{release: release}, true
}

// Admission is an admitted request's place in the limits: one of the open
// requests of its client and of its path.
type Admission struct {
	once    sync.Once
	release func()
}

// Release gives the place back; more calls do nothing. A nil Admission (no
// guard in front) has nothing to give back.
func (a *Admission) Release() {
	if a != nil {
		a.once.Do(a.release)
	}
}

// Client returns the client address a request is judged by: its peer, or
// what trusted proxies say in X-Forwarded-For.
func (g *Guard) Client(r *http.Request) netip.Addr {
	return g.policy.Load().client(r)
}

func (p *Policy) client(r *http.Request) netip.Addr {
	return p.proxies.Client(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// admit runs every check of a play request. On success it returns the
// request to pass on and what to call when it ends.
func (g *Guard) admit(p *Policy, r *http.Request, client netip.Addr) (*http.Request, func(), error) {
	path := r.URL.Path
	sc := p.scopeFor(path)
	token, expires, rest, inPath := splitPathToken(path)
	if inPath {
		// Only a rule that asks for a token of that length makes the first
		// two segments a token rather than part of the path.
		if s := p.scopeFor(rest); s.token.Required() && len(token) == s.token.Scheme.encodedLen() {
			sc, path = s, rest
		} else {
			inPath = false
		}
	}
	if inPath {
		// The handler routes the path without the token.
		r = withPath(r, path)
	}
	if client.IsValid() && p.exempt.trusts(client) {
		return r, func() {}, nil
	}
	now := g.now()
	if p.limits.Rate > 0 && !g.rates.allow(client, now) {
		return nil, nil, RateLimited
	}
	if err := p.checkRules(sc, r, client); err != nil {
		return nil, nil, err
	}
	if sc.token.Required() {
		if !inPath {
			token, expires = tokenFromQuery(sc.token, r.URL.Query())
		}
		if err := sc.token.Verify(token, expires, path, client, now); err != nil {
			return nil, nil, err
		}
	}
	release, err := g.acquire(client, path, p.limits.MaxConnsPerClient, sc.maxViewers)
	if err != nil {
		return nil, nil, err
	}
	if sc.callback != nil {
		err := ask(r.Context(), g.http, sc.callback, CallbackRequest{
			Action: "play", Path: path, Client: addrString(client), Query: r.URL.RawQuery,
			Referer: r.Referer(), UserAgent: r.UserAgent(),
		})
		if err != nil {
			release()
			return nil, nil, err
		}
	}
	return r, release, nil
}

// checkRules runs the rules that need no secret, cheapest first.
func (p *Policy) checkRules(sc *scope, r *http.Request, client netip.Addr) error {
	if sc.ip != nil {
		if err := sc.ip.check(client); err != nil {
			return err
		}
	}
	if sc.country != nil && p.geo != nil { // without a database, the rule has no codes
		country, err := p.geo.Country(client)
		if err != nil {
			// A broken record is an unknown country: the rule decides.
			p.warn(client, "country lookup failed", "err", err)
		}
		if err := sc.country.check(country); err != nil {
			return err
		}
	}
	if sc.referer != nil {
		if err := sc.referer.check(r.Referer()); err != nil {
			return err
		}
	}
	if sc.agent != nil {
		if err := sc.agent.check(r.UserAgent()); err != nil {
			return err
		}
	}
	return nil
}

// acquire counts an open request of client for path, within the limits
// (0: none). It counts whether a limit applies or not, so that a limit a
// reload brings finds the requests already open.
func (g *Guard) acquire(client netip.Addr, path string, perClient, maxViewers int) (func(), error) {
	key := clientKey(client)
	counted := client.IsValid()
	if counted && !g.conns.acquire(key, perClient) {
		return nil, fmt.Errorf("%w: %d open", ClientBusy, perClient)
	}
	if !g.viewers.acquire(path, maxViewers) {
		if counted {
			g.conns.release(key)
		}
		return nil, fmt.Errorf("%w: %d on %s", StreamFull, maxViewers, ratelog.Clip(path))
	}
	return func() {
		if counted {
			g.conns.release(key)
		}
		g.viewers.release(path)
	}, nil
}

// withPath is r with another path, as http.StripPrefix does it.
func withPath(r *http.Request, path string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	r2.RequestURI = u.RequestURI()
	return r2
}

// refuse answers a refused play request with its status and nothing else,
// and logs and counts the reason.
func (g *Guard) refuse(p *Policy, w http.ResponseWriter, r *http.Request, client netip.Addr, err error) {
	reason := ReasonOf(err)
	g.playRefused.add(reason)
	p.warn(client, "play refused", "reason", string(reason), "path", ratelog.Clip(r.URL.Path), "err", err.Error())
	status := reason.Status()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "1")
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int(retryFull/time.Second)))
	}
	http.Error(w, http.StatusText(status), status)
}

// retryFull is when a client refused for a full stream or a silent callback
// may try again.
const retryFull = 5 * time.Second

func (p *Policy) warn(client netip.Addr, msg string, args ...any) {
	if p.log == nil {
		return
	}
	source := addrString(client)
	p.log.Warn(source, msg, append([]any{"client", source}, args...)...)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// tokenFromQuery reads the query form of a token.
func tokenFromQuery(t *TokenRule, q url.Values) (token, expires string) {
	return q.Get(t.Scheme.Param()), q.Get(ExpiresParam)
}
