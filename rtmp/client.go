package rtmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/flvedge/flvedge/flv"
)

const (
	defaultPort = "1935"
	// clientChunkSize is what OBS and ffmpeg announce: a video frame then
	// costs a few chunk headers instead of dozens at the default 128.
	clientChunkSize = 4096
	// clientWriteTimeout bounds one write once publishing: a server that
	// takes nothing for that long is gone.
	clientWriteTimeout = 30 * time.Second
	// clientCloseTimeout is how long Close waits for the server to hang up
	// after the unpublish commands, so that they are read before the socket
	// goes.
	clientCloseTimeout = 2 * time.Second
	clientFlashVer     = "FMLE/3.0 (compatible; flvedge)"
)

// Chunk streams for what a client sends, as ffmpeg numbers them; like the
// server's, they are a convention that no peer depends on.
const (
	csidAudio uint32 = 4
	csidVideo uint32 = 6
	csidData  uint32 = 8
)

// Transaction IDs of the commands a publisher sends, in order.
const (
	txnConnect = iota + 1
	txnReleaseStream
	txnFCPublish
	txnCreateStream
	txnPublish
	txnFCUnpublish
	txnDeleteStream
)

// Client publishes one stream to an RTMP server. WriteTag and Close may be
// called from different goroutines.
type Client struct {
	nc       net.Conn
	cr       *ChunkReader
	addr     string
	name     string // the publish name, with its query
	streamID uint32

	wmu          sync.Mutex // the reader goroutine also writes: pongs and acknowledgements
	cw           *ChunkWriter
	writeTimeout time.Duration // 0 during setup, which has a deadline of its own
	data         []byte        // reused for data messages

	// Used only by whoever reads: Dial, then the reader goroutine.
	ackWindow uint32
	ackedAt   uint64

	readDone chan struct{}

	mu      sync.Mutex
	err     error // why publishing failed, as the reader saw it
	closing bool

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to rawURL, rtmp://host[:port]/app/stream[?query], and
// starts publishing: handshake, connect, releaseStream, FCPublish,
// createStream, publish as "live". It returns once the server has answered
// NetStream.Publish.Start. A refusal is returned as an error wrapping a
// *[StatusError] with the server's code, such as NetStream.Publish.BadName.
// The query goes with the stream name, where servers look for stream keys.
//
// ctx bounds the connection and the whole exchange; without a deadline in
// ctx, the exchange is given [DefaultHandshakeTimeout].
func Dial(ctx context.Context, rawURL string) (*Client, error) {
	addr, app, name, tcURL, err := parseClientURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial: %w", err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtmp %s: dial: %w", addr, err)
	}
	c := &Client{
		nc:        nc,
		addr:      addr,
		name:      name,
		cw:        NewChunkWriter(nc),
		ackWindow: windowAckSize,
		readDone:  make(chan struct{}),
	}
	if err := c.setup(ctx, app, tcURL); err != nil {
		nc.Close()
		return nil, fmt.Errorf("rtmp %s: %w", addr, err)
	}
	c.writeTimeout = clientWriteTimeout
	go c.readLoop()
	return c, nil
}

// parseClientURL splits an rtmp URL into what the connection and the
// commands need.
func parseClientURL(rawURL string) (addr, app, name, tcURL string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", "", "", err
	}
	if u.Scheme != "rtmp" {
		return "", "", "", "", fmt.Errorf("scheme %q: only rtmp:// is supported", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", "", "", "", errors.New("URL has no host")
	}
	app, stream, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if app == "" || stream == "" {
		return "", "", "", "", fmt.Errorf("path %q is not /app/stream", u.Path)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	name = stream
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	return net.JoinHostPort(u.Hostname(), port), app, name, "rtmp://" + u.Host + "/" + app, nil
}

// setup runs the exchange up to NetStream.Publish.Start within ctx.
func (c *Client) setup(ctx context.Context, app, tcURL string) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultHandshakeTimeout)
	}
	c.nc.SetDeadline(deadline)
	// Cancellation interrupts whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	err := c.negotiate(app, tcURL)
	if !stop() {
		if err == nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if err != nil {
		return err
	}
	return c.nc.SetDeadline(time.Time{})
}

func (c *Client) negotiate(app, tcURL string) error {
	br := bufio.NewReader(c.nc)
	if err := clientHandshake(br, c.nc); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	c.cr = NewChunkReader(br, 0)

	connect, err := commandMessage(csidCommand, 0, "connect", txnConnect, flv.Object{
		{Key: "app", Value: app},
		{Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: clientFlashVer},
		{Key: "tcUrl", Value: tcURL},
	})
	if err != nil {
		return err
	}
	if err := c.send(connect); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := c.await(txnConnect, "connect"); err != nil {
		return err
	}

	release, err := commandMessage(csidCommand, 0, "releaseStream", txnReleaseStream, nil, c.name)
	if err != nil {
		return err
	}
	fcPublish, err := commandMessage(csidCommand, 0, "FCPublish", txnFCPublish, nil, c.name)
	if err != nil {
		return err
	}
	create, err := commandMessage(csidCommand, 0, "createStream", txnCreateStream, nil)
	if err != nil {
		return err
	}
	if err := c.send(controlMessage(TypeSetChunkSize, clientChunkSize)); err != nil {
		return fmt.Errorf("set chunk size: %w", err)
	}
	c.cw.SetChunkSize(clientChunkSize)
	if err := c.send(release, fcPublish, create); err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	reply, err := c.await(txnCreateStream, "createStream")
	if err != nil {
		return err
	}
	id, ok := reply.numberArg(0)
	if !ok || id < 1 || id > 1<<32-1 || id != float64(uint32(id)) {
		return fmt.Errorf("%w: createStream: no usable stream ID in the reply %v", errProtocol, reply.args)
	}
	c.streamID = uint32(id)

	publish, err := commandMessage(csidCommand, c.streamID, "publish", txnPublish, nil, c.name, "live")
	if err != nil {
		return err
	}
	if err := c.send(publish); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return c.awaitPublishStart()
}

// await reads up to the reply to transaction txn. An error reply, or an
// error status on the way, is returned as an error wrapping a *StatusError.
func (c *Client) await(txn float64, what string) (command, error) {
	for {
		cmd, err := c.nextCommand()
		if err != nil {
			return command{}, fmt.Errorf("%s: %w", what, err)
		}
		switch {
		case cmd.name == "_result" && cmd.txn == txn:
			return cmd, nil
		case cmd.name == "_error" && cmd.txn == txn:
			return command{}, fmt.Errorf("%s: %w", what, replyStatus(cmd))
		case cmd.name == "onStatus" && replyLevel(cmd) == levelError:
			return command{}, fmt.Errorf("%s: %w", what, replyStatus(cmd))
		}
	}
}

// awaitPublishStart reads up to the onStatus that starts or refuses the
// publish. Other statuses (some servers send NetStream.Publish.Reset
// first) are passed over.
func (c *Client) awaitPublishStart() error {
	for {
		cmd, err := c.nextCommand()
		if err != nil {
			return fmt.Errorf("publish %s: %w", c.name, err)
		}
		isError := cmd.name == "onStatus" && replyLevel(cmd) == levelError ||
			cmd.name == "_error" && cmd.txn == txnPublish
		if isError {
			return fmt.Errorf("publish %s: %w", c.name, replyStatus(cmd))
		}
		if cmd.name == "onStatus" && replyStatus(cmd).Code == "NetStream.Publish.Start" {
			return nil
		}
	}
}

// nextCommand reads up to the next command, answering protocol control
// messages on the way.
func (c *Client) nextCommand() (command, error) {
	for {
		m, err := c.cr.ReadMessage()
		if err != nil {
			return command{}, fmt.Errorf("read: %w", err)
		}
		if err := c.handleControl(m); err != nil {
			return command{}, err
		}
		if m.Type == TypeCommandAMF0 || m.Type == TypeCommandAMF3 {
			return parseCommand(m)
		}
	}
}

// handleControl answers pings, follows the server's acknowledgement window
// and acknowledges what was received when the window is full.
func (c *Client) handleControl(m Message) error {
	switch m.Type {
	case TypeUserControl:
		if len(m.Payload) >= 6 && binary.BigEndian.Uint16(m.Payload) == eventPingRequest {
			if err := c.send(userControl(eventPingResponse, binary.BigEndian.Uint32(m.Payload[2:]))); err != nil {
				return fmt.Errorf("ping response: %w", err)
			}
		}
	case TypeWindowAckSize:
		if len(m.Payload) >= 4 {
			c.ackWindow = binary.BigEndian.Uint32(m.Payload)
		}
	}
	total := handshakeBytes + c.cr.BytesRead()
	if c.ackWindow == 0 || total-c.ackedAt < uint64(c.ackWindow) {
		return nil
	}
	c.ackedAt = total
	if err := c.send(controlMessage(TypeAck, uint32(total))); err != nil {
		return fmt.Errorf("acknowledgement: %w", err)
	}
	return nil
}

// replyLevel is the level of a reply's info object.
func replyLevel(cmd command) string {
	level, _ := replyInfo(cmd).Get("level")
	s, _ := level.(string)
	return s
}

// replyStatus turns a reply's info object into an error naming its code.
func replyStatus(cmd command) *StatusError {
	info := replyInfo(cmd)
	code, _ := info.Get("code")
	desc, _ := info.Get("description")
	e := &StatusError{}
	e.Code, _ = code.(string)
	e.Description, _ = desc.(string)
	if e.Code == "" {
		e.Code = cmd.name + " without a code"
	}
	return e
}

// replyInfo finds the info object of a reply: the first argument after the
// command object, which servers send as null or as their properties.
func replyInfo(cmd command) flv.Object {
	for _, a := range cmd.args {
		if o, ok := a.(flv.Object); ok {
			return o
		}
	}
	return nil
}

// numberArg returns argument i if it is a number.
func (c command) numberArg(i int) (float64, bool) {
	if i < len(c.args) {
		f, ok := c.args[i].(float64)
		return f, ok
	}
	return 0, false
}

// send writes messages and flushes them.
func (c *Client) send(msgs ...Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.sendLocked(msgs...)
}

func (c *Client) sendLocked(msgs ...Message) error {
	if c.writeTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	for _, m := range msgs {
		if err := c.cw.WriteMessage(m); err != nil {
			return err
		}
	}
	return c.cw.Flush()
}

// WriteTag sends one tag: audio and video as messages of their own type,
// script data as a data message behind @setDataFrame, which asks the
// server to keep it for viewers that come later. The timestamp goes as
// it is: it is absolute, like a tag's. t.Data is not kept after the call.
//
// Once the server has ended the publish (with an error status, or by
// hanging up), WriteTag returns why.
func (c *Client) WriteTag(t flv.Tag) error {
	if err := c.failure(); err != nil {
		return err
	}
	m := Message{Type: t.Type, StreamID: c.streamID, Timestamp: t.Timestamp, Payload: t.Data}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch t.Type {
	case flv.TagAudio:
		m.CSID = csidAudio
	case flv.TagVideo:
		m.CSID = csidVideo
	case flv.TagScript:
		m.CSID, m.Type = csidData, TypeDataAMF0
		if !bytes.HasPrefix(t.Data, setDataFrame) {
			c.data = append(append(c.data[:0], setDataFrame...), t.Data...)
			m.Payload = c.data
		}
	default:
		return fmt.Errorf("rtmp %s: write tag: type %d is neither audio, video nor script data", c.addr, t.Type)
	}
	if err := c.sendLocked(m); err != nil {
		if ferr := c.failure(); ferr != nil {
			return ferr // the server said why, which says more than a broken pipe
		}
		return fmt.Errorf("rtmp %s: write tag: %w", c.addr, err)
	}
	return nil
}

// readLoop reads what the server sends while we publish: control messages
// to answer, and statuses that end the publish.
func (c *Client) readLoop() {
	defer close(c.readDone)
	for {
		cmd, err := c.nextCommand()
		if err != nil {
			c.fail(fmt.Errorf("rtmp %s: publish %s: %w", c.addr, c.name, err))
			return
		}
		if cmd.name == "onStatus" && replyLevel(cmd) == levelError {
			c.fail(fmt.Errorf("rtmp %s: publish %s: %w", c.addr, c.name, replyStatus(cmd)))
		}
	}
}

// fail records the first reason publishing ended, unless Close ended it.
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !c.closing {
		c.err = err
	}
}

func (c *Client) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the publish with FCUnpublish and deleteStream, unless the
// session has failed already, and closes the connection.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Client) close() error {
	c.mu.Lock()
	failed := c.err != nil
	c.closing = true
	c.mu.Unlock()

	var err error
	if !failed {
		err = c.unpublish()
		if err == nil {
			if hc, ok := c.nc.(interface{ CloseWrite() error }); ok {
				hc.CloseWrite()
			}
			timer := time.NewTimer(clientCloseTimeout)
			select {
			case <-c.readDone:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	cerr := c.nc.Close()
	<-c.readDone
	if err != nil {
		return fmt.Errorf("rtmp %s: unpublish %s: %w", c.addr, c.name, err)
	}
	if cerr != nil {
		return fmt.Errorf("rtmp %s: close: %w", c.addr, cerr)
	}
	return nil
}

func (c *Client) unpublish() error {
	fcUnpublish, err := commandMessage(csidCommand, 0, "FCUnpublish", txnFCUnpublish, nil, c.name)
	if err != nil {
		return err
	}
	deleteStream, err := commandMessage(csidCommand, 0, "deleteStream", txnDeleteStream, nil, c.streamID)
	if err != nil {
		return err
	}
	return c.send(fcUnpublish, deleteStream)
}
