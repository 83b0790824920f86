// Package web is the HTTP side of the server: it owns the listeners and
// everything a request meets on its way in and out.
//
//   - Server: the HTTP (HTTP/1.1, and h2c if asked), HTTPS (HTTP/1.1,
//     HTTP/2) and HTTP/3 listeners and the admin listener; the TLS
//     certificate and its reload; Alt-Svc; header and idle timeouts; the
//     HTTP/2 and HTTP/3 stream limits made from the viewers' cap per
//     connection; and the drain (Shutdown), which waits for the viewers'
//     sessions. One http.Handler is served over all three HTTP versions.
//   - Live and Session: live HTTP-FLV from a relay.Hub, one endless
//     response per viewer. A Session holds a viewer's writer, cursor,
//     admission by the access rules and places in the counts, and gives
//     them back exactly once; Live counts the sessions (the one count of
//     viewers) and lets a drain wait for them.
//   - The writers: one batch of shared tag bytes per write (vectored on a
//     taken-over HTTP/1.x connection), with adaptive coalescing under load.
//   - The routes: the play routes behind the access rules (auth.Guard),
//     VOD mounts among them, CORS, the player page, the public stream list.
//   - Metrics (Prometheus), the stats API, readiness and the VOD cache's
//     admin API, on the admin handler.
//
// It stands on relay (and its buffer and flv), auth, vodcache and ratelog;
// VOD comes in as Mounts, handlers that internal/app builds from vod.
// internal/app builds a Server from the configuration and wires it to the
// hub; nothing in web reads the configuration file.
package web
