package rtmp

import (
	"net"
	"net/url"

	"github.com/flvedge/flvedge/flv"
)

// PublishRequest describes a publish command, for the Handler to authorize
// and route.
type PublishRequest struct {
	App        string     // connect's app without its query, e.g. "live"
	Stream     string     // the publish name without its query, e.g. "cam1"
	Query      url.Values // the publish name's query, then the app's
	TcURL      string     // connect's tcUrl, as the client sent it
	RemoteAddr net.Addr

	conn net.Conn
}

// Close closes the publisher's connection, which ends its session: the Sink
// is closed once the connection's goroutine sees it. It is safe to call from
// any goroutine, including from within the Sink.
func (r *PublishRequest) Close() error { return r.conn.Close() }

// Sink receives one publisher's media as FLV tags.
type Sink interface {
	// WriteTag takes the next tag. t.Data is valid only during the call, as
	// the session reuses its buffers. An error ends the session and closes
	// the connection.
	WriteTag(t flv.Tag) error
	// Close is called exactly once, when the publisher is gone: it
	// unpublished (FCUnpublish, deleteStream, closeStream) or its connection
	// closed for any reason.
	Close()
}

// Handler decides what happens to publish requests.
type Handler interface {
	// Publish is called for each publish command. A nil error accepts it:
	// NetStream.Publish.Start is sent and media goes to the Sink. An error
	// refuses it and closes the connection; a *StatusError gives the
	// onStatus code and description the client sees, any other error gives
	// NetStream.Publish.BadName. With an error the Sink is not used.
	//
	// Publish runs on the connection's goroutine: while it blocks, that
	// connection reads nothing.
	Publish(req *PublishRequest) (Sink, error)
}

// StatusError refuses a publish with an onStatus code of the client's
// protocol, such as "NetStream.Publish.BadName" or
// "NetStream.Publish.Denied".
type StatusError struct {
	Code        string
	Description string
}

func (e *StatusError) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}
