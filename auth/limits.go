package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what one client may take. Zero fields mean no limit.
//
// A client is an IPv4 address or an IPv6 /64: an IPv6 subscriber usually
// holds a whole /64 and could otherwise pick a fresh address per request.
// Clients whose address is unknown are not limited.
type Limits struct {
	// MaxConnsPerClient bounds the play requests one client has open at
	// once.
	MaxConnsPerClient int
	// Rate is how many requests per second one client may start on
	// average, Burst how many at once (at least 1).
	Rate  float64
	Burst int
	// MaxClients bounds how many clients' rates are remembered. Past it the
	// one seen least recently is forgotten and starts afresh when it comes
	// back, so that a flood from many addresses costs fixed memory.
	// 0: DefaultMaxClients.
	MaxClients int
}

// DefaultMaxClients is the default of Limits.MaxClients: about 200 bytes each.
const DefaultMaxClients = 65536

func clientKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// rates holds a token bucket per client, the least recently seen forgotten
// first. The buckets are live state: a new rate or burst is put on them, and
// what they hold stays.
type rates struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	max     int
	clients map[netip.Addr]*list.Element // of *clientRate
	lru     list.List                    // front: the most recently seen
}

type clientRate struct {
	key     netip.Addr
	limiter *rate.Limiter
}

// setLimits applies l from now on: new buckets get its rate and burst, and
// every bucket kept takes them too, with the tokens it has saved up until
// now. Without a rate the buckets are left as they are, unused, until a rate
// comes back.
func (r *rates) setLimits(l Limits, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.max = l.MaxClients
	if r.max <= 0 {
		r.max = DefaultMaxClients
	}
	limit, burst := rate.Limit(l.Rate), max(l.Burst, 1)
	if l.Rate <= 0 || limit == r.limit && burst == r.burst {
		return
	}
	r.limit, r.burst = limit, burst
	for _, e := range r.clients {
		c := e.Value.(*clientRate)
		c.limiter.SetLimitAt(now, limit)
		c.limiter.SetBurstAt(now, burst)
	}
}

// allow takes one request from client's bucket.
func (r *rates) allow(client netip.Addr, now time.Time) bool {
	if !client.IsValid() {
		return true
	}
	key := clientKey(client)
	r.mu.Lock()
	defer r.mu.Unlock()
	var c *clientRate
	if e, ok := r.clients[key]; ok {
		r.lru.MoveToFront(e)
		c = e.Value.(*clientRate)
	} else {
		// A reload may have lowered the bound: forget down to it.
		for r.lru.Len() >= r.max {
			oldest := r.lru.Back()
			r.lru.Remove(oldest)
			delete(r.clients, oldest.Value.(*clientRate).key)
		}
		if r.clients == nil {
			r.clients = make(map[netip.Addr]*list.Element)
		}
		c = &clientRate{key: key, limiter: rate.NewLimiter(r.limit, r.burst)}
		r.clients[key] = r.lru.PushFront(c)
	}
	return c.limiter.AllowN(now, 1)
}

// gauge counts what is open now, by key. A key is only held while
// something is open, so the map is as large as the open requests and no
// larger.
type gauge[K comparable] struct {
	mu sync.Mutex
	n  map[K]int
}

// acquire counts one more for k unless k already has limit; a limit of 0
// or less is none.
func (g *gauge[K]) acquire(k K, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if limit > 0 && g.n[k] >= limit {
		return false
	}
	if g.n == nil {
		g.n = make(map[K]int)
	}
	g.n[k]++
	return true
}

func (g *gauge[K]) release(k K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[k] <= 1 {
		delete(g.n, k)
		return
	}
	g.n[k]--
}
