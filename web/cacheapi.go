package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/vodcache"
)

// maxCacheRequest bounds the body of a prefetch request.
const maxCacheRequest = 64 << 10

// WithCacheAPI adds the VOD cache's routes to the admin handler next:
// GET /api/cache (entries, bytes, prefetches in progress, counts per
// prefix), POST /api/cache/prefetch with {"paths": ["/vod/a.flv", ...]}
// (202: the files load in the background) and DELETE
// /api/cache?path=/vod/a.flv, or a prefix ending in "/" (purge). The last
// two need the admin token as a bearer token when one is set; all need a
// Host that access allows, or the token, as the other admin routes do.
// Without a cache, next alone.
func WithCacheAPI(next http.Handler, c *vodcache.Cache, access AdminAccess) http.Handler {
	if c == nil {
		return next
	}
	adminToken := access.Token
	allowed := func(w http.ResponseWriter, r *http.Request) bool {
		if adminToken != "" && !bearerMatches(r, adminToken) {
			http.Error(w, "admin token required", http.StatusForbidden)
			return false
		}
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/cache", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, c.Stats())
	})
	mux.HandleFunc("POST /api/cache/prefetch", func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		var req struct {
			Paths []string `json:"paths"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCacheRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, fmt.Sprintf(`want {"paths": ["/vod/a.flv", ...]} of at most %d bytes: %v`, maxCacheRequest, err), http.StatusBadRequest)
			return
		}
		if err := c.Prefetch(req.Paths); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]int{"prefetching": len(req.Paths)})
	})
	mux.HandleFunc("DELETE /api/cache", func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		p := r.URL.Query().Get("path")
		if p == "" || p[0] != '/' || len(p) > 4096 || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			http.Error(w, "want ?path=/vod/a.flv, or a prefix ending in /", http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]int{"purged": c.Purge(p)})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/cache" && !strings.HasPrefix(r.URL.Path, "/api/cache/") {
			next.ServeHTTP(w, r)
			return
		}
		if !access.allowsHost(r.Host) && !bearerMatches(r, adminToken) {
			http.Error(w, "unknown host", http.StatusMisdirectedRequest)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cacheMetrics reads the cache's counts at scrape time: series per VOD
// origin prefix (configured, so bounded) and per cache status (a fixed
// set).
type cacheMetrics struct {
	c                                                 *vodcache.Cache
	requests, served, fetched, originReqs, originErrs *prometheus.Desc
	entries, bytes, maxBytes, prefetching             *prometheus.Desc
}

// NewCacheMetrics returns the collector of the VOD cache's metrics.
func NewCacheMetrics(c *vodcache.Cache) prometheus.Collector {
	p := []string{"prefix"}
	return &cacheMetrics{
		c:           c,
		requests:    prometheus.NewDesc("flvedge_vod_cache_requests_total", "VOD requests of origin prefixes, by X-Cache-Status (HIT, MISS, EXPIRED, REVALIDATED, STALE, BYPASS).", []string{"prefix", "status"}, nil),
		served:      prometheus.NewDesc("flvedge_vod_cache_served_bytes_total", "Bytes read from the cache for viewers.", p, nil),
		fetched:     prometheus.NewDesc("flvedge_vod_origin_fetched_bytes_total", "Bytes received from VOD origins.", p, nil),
		originReqs:  prometheus.NewDesc("flvedge_vod_origin_requests_total", "Requests sent to VOD origins.", p, nil),
		originErrs:  prometheus.NewDesc("flvedge_vod_origin_errors_total", "VOD origin requests that failed: no connection, timeout, redirect, 5xx, body cut short.", p, nil),
		entries:     prometheus.NewDesc("flvedge_vod_cache_entries", "Files in the VOD cache.", p, nil),
		bytes:       prometheus.NewDesc("flvedge_vod_cache_bytes", "Disk taken by the VOD cache's files.", p, nil),
		maxBytes:    prometheus.NewDesc("flvedge_vod_cache_max_bytes", "Bound of the VOD cache's disk.", nil, nil),
		prefetching: prometheus.NewDesc("flvedge_vod_cache_prefetching", "Files being prefetched or waiting to be.", nil, nil),
	}
}

func (m *cacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.requests, m.served, m.fetched, m.originReqs, m.originErrs, m.entries, m.bytes, m.maxBytes, m.prefetching} {
		ch <- d
	}
}

func (m *cacheMetrics) Collect(ch chan<- prometheus.Metric) {
	st := m.c.Stats()
	ch <- prometheus.MustNewConstMetric(m.maxBytes, prometheus.GaugeValue, float64(st.MaxBytes))
	ch <- prometheus.MustNewConstMetric(m.prefetching, prometheus.GaugeValue, float64(st.Prefetching))
	for _, p := range st.Prefixes {
		for _, status := range []string{vodcache.Hit, vodcache.Miss, vodcache.Expired, vodcache.Revalidated, vodcache.Stale, vodcache.Bypass} {
			ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(p.Requests[status]), p.Prefix, status)
		}
		ch <- prometheus.MustNewConstMetric(m.served, prometheus.CounterValue, float64(p.ServedBytes), p.Prefix)
		ch <- prometheus.MustNewConstMetric(m.fetched, prometheus.CounterValue, float64(p.FetchedBytes), p.Prefix)
		ch <- prometheus.MustNewConstMetric(m.originReqs, prometheus.CounterValue, float64(p.OriginRequests), p.Prefix)
		ch <- prometheus.MustNewConstMetric(m.originErrs, prometheus.CounterValue, float64(p.OriginErrors), p.Prefix)
		ch <- prometheus.MustNewConstMetric(m.entries, prometheus.GaugeValue, float64(p.Entries), p.Prefix)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(p.Bytes), p.Prefix)
	}
}
