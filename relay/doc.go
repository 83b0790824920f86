// Package relay is the stream hub: streams by app and name, one publisher
// each, any number of viewers; publishers that leave and come back within a
// grace period; timestamps that viewers can always play, also across a
// change of source; and pulls of streams from origins over HTTP-FLV, with
// failover and origin health.
//
// # Names
//
// App and stream names are 1 to [MaxNameLen] (128) bytes of ASCII letters,
// digits, '_', '-', '.' and '~', and do not start with '.'. [CheckName] owns
// the rule: [Hub.Publish] refuses other names, and so do the publish, play
// and pull paths before they do any work for them, so that a name's length
// bounds every metric series, stats entry, log line and origin request
// about its stream.
//
// # Origin requests
//
// A pull's request path is the origin's configured base path joined with
// the escaped segments app and name.flv, so that no name can reach another
// path, a query or a fragment on the origin. The configured origin headers
// (credentials) go to the configured origins only: not to the URLs of
// static pulls, and never after a redirect, as none is followed; a 3xx is
// an origin failure, and the pull fails over to the next origin. What an
// origin says in an error body is logged, bounded and at a bounded rate,
// and never reaches viewers: they get a fixed text for the status.
package relay
