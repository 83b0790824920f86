// Package h2 is an HTTP/2 server connection (RFC 9113) for the HTTPS
// listener of an http.Server: http.Server accepts the connection and does
// the TLS handshake, ALPN picks "h2", and Server.ServeConn serves the
// connection's streams with an http.Handler (see Server.Configure, which
// installs it as http.Server.TLSNextProto["h2"]).
//
// It exists for what Go's own HTTP/2 server cannot do cheaply: send the
// output of many streams in few system calls. Go's server hands every
// handler Write to the connection's goroutine and back, and writes every
// DATA frame (16 KiB at most) with a tls.Conn.Write of its own. Here a
// connection's output is written in turns: a turn gathers everything queued
// (control frames, headers, and the data of every stream that has data and
// window, round-robin) into one buffer and writes it with one
// tls.Conn.Write. A handler's Write queues its slice, whatever its size,
// and returns once a turn has taken all of it; if no turn is under way, the
// handler takes one itself, else the connection's writer goroutine takes
// the next.
//
// Frame parsing and HPACK are golang.org/x/net/http2's Framer and hpack
// package, the same code Go itself uses; the connection state, streams,
// flow control and the writer are this package's.
//
// What a connection may cost is bounded: streams (MaxConcurrentStreams),
// handlers still running after their streams were reset, header lists,
// request bodies (flow-controlled, at most MaxRequestBodySize a stream),
// control frames queued for a client that does not read, resets and empty
// frames per second. A connection that breaks the protocol or a bound gets
// a GOAWAY with the error's code and is closed; a bad stream gets an
// RST_STREAM.
//
// Unencrypted HTTP/2 (h2c) is not served by this package.
package h2
