package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/flv"
)

const (
	// windowAckSize is both what we ask the peer to acknowledge at and what
	// we assume the peer wants until it says otherwise.
	windowAckSize = 2_500_000
	// handshakeBytes counts toward the acknowledged byte total.
	handshakeBytes = 1 + 2*handshakeSize
)

var (
	// errRefused ends a connection whose publish was refused, which has been
	// logged already.
	errRefused = errors.New("publish refused")
	// errSink ends a connection whose Sink returned an error, which the
	// publish stop line reports.
	errSink = errors.New("sink")
)

// conn is one client connection. Everything runs on its own goroutine,
// except Close from a PublishRequest or the Server.
type conn struct {
	srv *Server
	nc  net.Conn
	br  *bufio.Reader
	cr  *ChunkReader
	cw  *ChunkWriter
	log *slog.Logger

	client netip.Prefix // what the server's per-client cap counts it against

	handshake    string // "plain" or "digest", for the log
	connected    bool
	app          string
	appQuery     url.Values
	tcURL        string
	lastStreamID uint32
	pub          *publication

	writeMu sync.Mutex  // serializes writes of the chunk writer
	ready   atomic.Bool // connected: the server may write to it from outside

	ackWindow   uint32
	ackedAt     uint64 // byte total at the last acknowledgement
	deadlineSet time.Time
}

// publication is an accepted publish, until its Sink is closed.
type publication struct {
	req   *PublishRequest
	sink  Sink
	start time.Time
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:       s,
		nc:        nc,
		br:        bufio.NewReader(nc),
		cw:        NewChunkWriter(nc),
		log:       s.logger.With("remote", nc.RemoteAddr().String()),
		ackWindow: windowAckSize,
	}
}

// serve runs the connection until it fails or closes; the caller closes the
// socket and the publication.
func (c *conn) serve() error {
	// This deadline covers the handshake and the connect command: a client
	// that does not get that far quickly is not an encoder.
	c.nc.SetDeadline(time.Now().Add(c.srv.handshakeTimeout()))
	digest, err := serverHandshake(c.br, c.nc)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	c.handshake = "plain"
	if digest {
		c.handshake = "digest"
	}
	// Until a publish is accepted, media has nowhere to go: every message
	// is held to the command limit, so that a client nobody authorized
	// holds little memory.
	c.cr = NewChunkReader(c.br, c.srv.maxCommandSize())
	c.cr.SetMaxCommandSize(c.srv.maxCommandSize())
	for {
		m, err := c.cr.ReadMessage()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if err := c.handle(m); err != nil {
			return err
		}
		if err := c.acknowledge(); err != nil {
			return err
		}
		if c.connected {
			c.extendDeadline()
		}
	}
}

func (c *conn) handle(m Message) error {
	switch m.Type {
	case TypeAudio, TypeVideo:
		// RTMP and FLV share these type numbers: FLV was made to hold RTMP messages.
		return c.writeTag(m.Type, m.Timestamp, m.Payload)
	case TypeDataAMF0, TypeDataAMF3:
		if data, ok := scriptData(m); ok {
			return c.writeTag(flv.TagScript, m.Timestamp, data)
		}
	case TypeCommandAMF0, TypeCommandAMF3:
		return c.handleCommand(m)
	case TypeUserControl:
		if len(m.Payload) >= 6 && binary.BigEndian.Uint16(m.Payload) == eventPingRequest {
			return c.send(userControl(eventPingResponse, binary.BigEndian.Uint32(m.Payload[2:])))
		}
	case TypeWindowAckSize:
		if len(m.Payload) >= 4 {
			c.ackWindow = binary.BigEndian.Uint32(m.Payload)
		}
	}
	return nil
}

// writeTag passes media to the Sink. Media outside a publication (before
// publish or after unpublish) has nowhere to go and is dropped. The message
// stream ID is not checked: a connection publishes one stream at most, and
// some encoders send their metadata on stream 0.
func (c *conn) writeTag(typ uint8, ts uint32, data []byte) error {
	// An empty message is no tag: players and keyframe detection expect at
	// least the tag's header byte.
	if c.pub == nil || len(data) == 0 {
		return nil
	}
	if err := c.pub.sink.WriteTag(flv.Tag{Type: typ, Timestamp: ts, Data: data}); err != nil {
		return fmt.Errorf("%w: %w", errSink, err)
	}
	return nil
}

// acknowledge sends an Acknowledgement each time the bytes received since
// the last one reach the peer's window.
func (c *conn) acknowledge() error {
	total := handshakeBytes + c.cr.BytesRead()
	if c.ackWindow == 0 || total-c.ackedAt < uint64(c.ackWindow) {
		return nil
	}
	c.ackedAt = total
	return c.send(controlMessage(TypeAck, uint32(total)))
}

// extendDeadline pushes the read deadline back while data flows. Doing it
// every quarter of the idle timeout instead of every message keeps timer
// updates off the media path.
func (c *conn) extendDeadline() {
	idle := c.srv.idleTimeout()
	now := time.Now()
	if now.Sub(c.deadlineSet) < idle/4 {
		return
	}
	c.deadlineSet = now
	c.nc.SetReadDeadline(now.Add(idle))
}

// send writes messages and flushes them, within the idle timeout so that a
// peer that stops reading cannot hold the goroutine.
func (c *conn) send(msgs ...Message) error {
	// The connection's goroutine sends its replies; the server may send a
	// reconnect request from another one.
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.idleTimeout()))
	for _, m := range msgs {
		if err := c.cw.WriteMessage(m); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := c.cw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// endPublish closes the Sink of a publication, if any, and logs its end.
func (c *conn) endPublish(reason error) {
	if c.pub == nil {
		return
	}
	p := c.pub
	c.pub = nil
	p.sink.Close()
	attrs := []any{"app", p.req.App, "stream", p.req.Stream, "duration", time.Since(p.start).Round(time.Millisecond)}
	if reason != nil {
		attrs = append(attrs, "reason", reason.Error())
	}
	c.log.Info("rtmp publish stop", attrs...)
}

// close ends the connection after serve returned err.
func (c *conn) close(err error) {
	c.endPublish(err)
	c.nc.Close()
	if quietEnd(err) {
		c.log.Debug("rtmp connection closed", "reason", err.Error())
		return
	}
	c.srv.warn(c.nc.RemoteAddr(), "rtmp connection failed",
		"remote", c.nc.RemoteAddr().String(), "err", fmt.Errorf("rtmp %s: %w", c.nc.RemoteAddr(), err).Error())
}

// quietEnd reports whether a connection ended in a way that needs no
// warning: the peer hung up between messages, we closed it, or the end was
// logged already.
func quietEnd(err error) bool {
	return errors.Is(err, errRefused) || errors.Is(err, errSink) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
