package rtmp

import (
	"bytes"
	"net"
	"testing"
)

// serverReplies encodes what a server sends a publisher after the
// handshake, for seeds.
func serverReplies(t testing.TB, msgs ...func() (Message, error)) []byte {
	var b bytes.Buffer
	cw := NewChunkWriter(&b)
	for _, msg := range msgs {
		m, err := msg()
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func msg(m Message) func() (Message, error) { return func() (Message, error) { return m, nil } }

// scriptConn is a server that says its script and takes whatever it is
// sent: a session that runs out of script ends with io.EOF.
type scriptConn struct {
	net.Conn // the rest is not used by negotiate
	r        *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzClientReplies plays a server that answers the handshake and then
// sends arbitrary bytes: the client must end the exchange with an error
// or a usable stream ID, never panic or hang.
func FuzzClientReplies(f *testing.F) {
	f.Add(serverReplies(f,
		msg(controlMessage(TypeWindowAckSize, 100)),
		msg(userControl(eventPingRequest, 7)),
		func() (Message, error) { return connectResult(1) },
		func() (Message, error) { return commandMessage(csidCommand, 0, "_result", 4, nil, 1) },
		func() (Message, error) {
			return onStatus(1, statusInfo(levelStatus, "NetStream.Publish.Start", "go"))
		},
	))
	f.Add(serverReplies(f,
		func() (Message, error) { return connectResult(1) },
		func() (Message, error) { return commandMessage(csidCommand, 0, "_result", 4, nil, 3) },
		func() (Message, error) {
			return onStatus(3, statusInfo(levelError, "NetStream.Publish.BadName", "taken"))
		},
	))
	f.Add(serverReplies(f,
		func() (Message, error) { return commandMessage(csidCommand, 0, "_error", 1, nil, nil) },
	))
	f.Fuzz(func(t *testing.T, replies []byte) {
		s := make([]byte, 1+2*handshakeSize)
		s[0] = handshakeVersion
		nc := &scriptConn{r: bytes.NewReader(append(s, replies...))}
		c := &Client{nc: nc, addr: "fuzz", name: "cam", cw: NewChunkWriter(nc), ackWindow: windowAckSize}
		err := c.negotiate("live", "rtmp://fuzz/live")
		if err == nil && c.streamID == 0 {
			t.Error("publishing on stream 0")
		}
	})
}
