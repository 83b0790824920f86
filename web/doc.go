// Package web serves streams over HTTP: live HTTP-FLV from a relay.Hub, with
// the CORS headers that browser players need.
package web
