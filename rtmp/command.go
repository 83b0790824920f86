package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/ratelog"
)

// command is an RTMP command message: a name, a transaction ID, a command
// object (nil when the peer sent null) and the arguments after it.
type command struct {
	name string
	txn  float64
	obj  flv.Object
	args []any
}

// commandBudget bounds the decoding of a command, whose length the chunk
// reader has bounded already (Server.MaxCommandSize): a real command holds
// a few dozen values, nested three deep at most (enhanced RTMP's
// videoFourCcInfoMap). Within it no command costs more than about 200 KiB
// of memory, whatever its bytes.
var commandBudget = flv.AMF0Limits{MaxValues: 1024, MaxDepth: 16}

// parseCommand decodes a command message. An AMF3 command (type 17) as sent
// by encoders is AMF0 behind one leading zero byte.
func parseCommand(m Message) (command, error) {
	p := m.Payload
	if m.Type == TypeCommandAMF3 && len(p) > 0 && p[0] == 0 {
		p = p[1:]
	}
	vals, err := commandBudget.Decode(p)
	if err != nil {
		return command{}, fmt.Errorf("%w: command: %w", errProtocol, err)
	}
	if len(vals) == 0 {
		return command{}, fmt.Errorf("%w: empty command", errProtocol)
	}
	name, ok := vals[0].(string)
	if !ok {
		return command{}, fmt.Errorf("%w: command name is %T, not a string", errProtocol, vals[0])
	}
	cmd := command{name: name}
	if len(vals) > 1 {
		cmd.txn, _ = vals[1].(float64)
	}
	if len(vals) > 2 {
		cmd.obj, _ = vals[2].(flv.Object)
	}
	if len(vals) > 3 {
		cmd.args = vals[3:]
	}
	return cmd, nil
}

// stringArg returns argument i if it is a string.
func (c command) stringArg(i int) string {
	if i < len(c.args) {
		s, _ := c.args[i].(string)
		return s
	}
	return ""
}

// stringProp returns the command object's property key if it is a string.
func (c command) stringProp(key string) string {
	v, _ := c.obj.Get(key)
	s, _ := v.(string)
	return s
}

// AMF0 encodings of the data frame markers a publisher puts before a data
// message's own name.
var (
	setDataFrame   = []byte("\x02\x00\x0d@setDataFrame")
	clearDataFrame = []byte("\x02\x00\x0f@clearDataFrame")
)

// scriptData turns a data message into a script tag body: without the
// leading zero of the AMF3 form and without @setDataFrame, which asks the
// server to keep the data (as we do with every script tag). It reports false
// for a message that carries no data to pass on.
func scriptData(m Message) ([]byte, bool) {
	p := m.Payload
	if m.Type == TypeDataAMF3 && len(p) > 0 && p[0] == 0 {
		p = p[1:]
	}
	if bytes.HasPrefix(p, clearDataFrame) {
		return nil, false
	}
	p = bytes.TrimPrefix(p, setDataFrame)
	return p, len(p) > 0
}

// commandMessage encodes a command for the peer.
func commandMessage(csid, streamID uint32, vals ...any) (Message, error) {
	p, err := flv.AppendAMF0(nil, vals...)
	if err != nil {
		return Message{}, fmt.Errorf("encode %v: %w", vals[0], err)
	}
	return Message{CSID: csid, Type: TypeCommandAMF0, StreamID: streamID, Payload: p}, nil
}

// Status levels of an onStatus info object.
const (
	levelStatus = "status"
	levelError  = "error"
)

func statusInfo(level, code, description string) flv.Object {
	return flv.Object{
		{Key: "level", Value: level},
		{Key: "code", Value: code},
		{Key: "description", Value: description},
	}
}

// Values of the connect reply that Flash-era clients look for.
const (
	fmsVersion   = "FMS/3,0,1,123"
	capabilities = 31
)

func connectResult(txn float64) (Message, error) {
	props := flv.Object{{Key: "fmsVer", Value: fmsVersion}, {Key: "capabilities", Value: capabilities}}
	info := append(statusInfo(levelStatus, "NetConnection.Connect.Success", "Connection succeeded."),
		flv.Property{Key: "objectEncoding", Value: 0})
	return commandMessage(csidCommand, 0, "_result", txn, props, info)
}

func onStatus(streamID uint32, info flv.Object) (Message, error) {
	return commandMessage(csidStatus, streamID, "onStatus", 0, nil, info)
}

func (c *conn) handleCommand(m Message) error {
	cmd, err := parseCommand(m)
	if err != nil {
		return err
	}
	if !c.connected && cmd.name != "connect" {
		return fmt.Errorf("%w: %q before connect", errProtocol, cmd.name)
	}
	switch cmd.name {
	case "connect":
		return c.onConnect(cmd)
	case "createStream":
		c.lastStreamID++
		return c.reply(commandMessage(csidCommand, 0, "_result", cmd.txn, nil, c.lastStreamID))
	case "releaseStream":
		// Asks to drop a stale publisher of the name; takeover is the
		// Handler's call at publish time.
	case "FCPublish":
		return c.reply(commandMessage(csidCommand, 0, "onFCPublish", 0, nil,
			statusInfo(levelStatus, "NetStream.Publish.Start", cmd.stringArg(0))))
	case "publish":
		return c.onPublish(m.StreamID, cmd)
	case "FCUnpublish":
		c.endPublish(nil)
		return c.reply(commandMessage(csidCommand, 0, "onFCUnpublish", 0, nil,
			statusInfo(levelStatus, "NetStream.Unpublish.Success", cmd.stringArg(0))))
	case "deleteStream", "closeStream":
		c.endPublish(nil)
	case "play":
		if err := c.reply(onStatus(m.StreamID, statusInfo(levelError, "NetStream.Play.Failed", "play is not supported"))); err != nil {
			return err
		}
		return errors.New("play is not supported")
	default:
		c.log.Debug("rtmp command ignored", "command", cmd.name)
	}
	return nil
}

// reply sends a message built by one of the encoders above.
func (c *conn) reply(m Message, err error) error {
	if err != nil {
		return err
	}
	return c.send(m)
}

func (c *conn) onConnect(cmd command) error {
	if c.connected {
		return fmt.Errorf("%w: second connect", errProtocol)
	}
	app, rawQuery, _ := strings.Cut(cmd.stringProp("app"), "?")
	c.app = strings.Trim(app, "/")
	c.appQuery, _ = url.ParseQuery(rawQuery) // keep what parses: the Handler judges
	c.tcURL = cmd.stringProp("tcUrl")

	chunkSize := c.srv.chunkSize()
	result, err := connectResult(cmd.txn)
	if err != nil {
		return err
	}
	if err := c.send(
		controlMessage(TypeWindowAckSize, windowAckSize),
		setPeerBandwidth(windowAckSize, peerBandwidthDynamic),
		controlMessage(TypeSetChunkSize, chunkSize),
	); err != nil {
		return err
	}
	c.cw.SetChunkSize(chunkSize)
	if err := c.send(result); err != nil {
		return err
	}
	c.connected = true
	c.ready.Store(true)
	c.log.Debug("rtmp connect", "app", c.app, "tcUrl", c.tcURL, "handshake", c.handshake)
	return nil
}

func (c *conn) onPublish(streamID uint32, cmd command) error {
	if c.pub != nil {
		return fmt.Errorf("%w: publish while publishing %s/%s", errProtocol, c.pub.req.App, c.pub.req.Stream)
	}
	stream, rawQuery, _ := strings.Cut(cmd.stringArg(0), "?")
	query, _ := url.ParseQuery(rawQuery)
	for k, vs := range c.appQuery {
		query[k] = append(query[k], vs...)
	}
	req := &PublishRequest{
		App:        c.app,
		Stream:     stream,
		Query:      query,
		TcURL:      c.tcURL,
		RemoteAddr: c.nc.RemoteAddr(),
		conn:       c.nc,
	}
	sink, err := c.authorize(req)
	if err != nil {
		code, desc := "NetStream.Publish.BadName", "Publish refused."
		if se := (*StatusError)(nil); errors.As(err, &se) {
			code, desc = se.Code, se.Description
		}
		// The names are not checked yet, maybe refused for their length.
		app, stream := ratelog.Clip(req.App), ratelog.Clip(req.Stream)
		c.srv.warn(req.RemoteAddr, "rtmp publish refused", "remote", req.RemoteAddr.String(),
			"app", app, "stream", stream, "err", err.Error())
		if err := c.reply(onStatus(streamID, statusInfo(levelError, code, desc))); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s/%s: %w", errRefused, app, stream, err)
	}
	c.pub = &publication{req: req, sink: sink, start: time.Now()}
	c.cr.SetMaxMessageSize(c.srv.MaxMessageSize)
	c.log.Info("rtmp publish start", "app", req.App, "stream", req.Stream)
	start, err := onStatus(streamID, statusInfo(levelStatus, "NetStream.Publish.Start", "Publishing "+stream+"."))
	if err != nil {
		return err
	}
	return c.send(userControl(eventStreamBegin, streamID), start)
}

// authorize asks the Handler, refusing what it cannot pass on.
func (c *conn) authorize(req *PublishRequest) (Sink, error) {
	if req.Stream == "" {
		return nil, &StatusError{Code: "NetStream.Publish.BadName", Description: "Empty stream name."}
	}
	if c.srv.Handler == nil {
		return nil, errors.New("no handler")
	}
	sink, err := c.srv.Handler.Publish(req)
	if err == nil && sink == nil {
		err = errors.New("handler accepted without a sink")
	}
	return sink, err
}
