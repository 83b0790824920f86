// Package vodcache is the VOD slice cache of an edge: stored files pulled
// from origin HTTP servers by Range in fixed slices (as nginx's slice
// module does), kept on disk under a size bound, and read back by
// whatever serves them.
//
//   - Origins are configured per URL path prefix, several per prefix,
//     tried in order: a connection error, a timeout, a redirect (never
//     followed) or a 5xx moves on to the next. Requests are built from
//     the escaped segments of the path and carry the prefix's headers to
//     that prefix's origins only.
//   - A slice is fetched once however many readers want it at the same
//     time (request collapsing), so a crowd on a cold file costs the
//     origin about one copy of it; a reader reads only the slices it
//     needs, so a seek deep into a large file costs a slice or two.
//   - Each object is a sparse data file and a small meta file (slice
//     bitmap, validators, expiry) in the cache directory, so the cache
//     survives a restart. The total stays under a bound: the least
//     recently used objects leave first, whole. Readers of an object that
//     leaves read on from their open descriptors; an object larger than
//     the bound is served, and leaves as it is filled.
//   - Freshness follows the origin's Cache-Control (max-age, s-maxage,
//     no-cache, no-store, private) and Expires, else a default lifetime.
//     An expired object is revalidated with If-None-Match and
//     If-Modified-Since; an object whose ETag, Last-Modified or size
//     changed is dropped whole and fetched again, never mixed, also when
//     the change shows in the middle of filling it. While the origins
//     fail, an expired object is served stale for a configured time.
//   - Only 200 and 206 answers are stored; an origin's 4xx or 5xx is
//     passed on (see StatusError) and not kept.
//
// The package knows nothing of the formats it holds: package vod reads
// the objects through File, an io.ReaderAt that also hands out the data
// file for sendfile once the slices of a range are present.
package vodcache
