// Package auth decides who may play and who may publish: signed URLs
// (secure tokens, byte-compatible with the nginx secure_link convention, and
// an HMAC-SHA256 variant), publish keys and callbacks, referer / user-agent /
// IP / country rules, and per-client limits.
//
// It knows nothing of the rest of the server. A Config compiles into a
// Policy, what the rules say; a Guard enforces one Policy at a time and
// holds the live state: open requests per client and per path, rate
// buckets, refusal counts. A reload builds a new Policy and hands it to the
// same Guard, so it never resets a limit. The Guard's Admit method judges a
// play request (live and VOD alike) and hands back its Admission, its place
// in the limits, to hold while the response goes on (Play wraps a handler
// with it); its AuthorizePublish method is called by the RTMP glue.
// Every refusal carries a Reason, which picks the HTTP status and is counted
// for metrics; the client learns nothing more than the status.
package auth
