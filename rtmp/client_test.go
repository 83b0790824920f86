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
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

func TestParseClientURL(t *testing.T) {
	for _, tc := range []struct {
		in                     string
		addr, app, name, tcURL string
		wantErr                string
	}{
		{in: "rtmp://example.com/live/cam", addr: "example.com:1935", app: "live", name: "cam", tcURL: "rtmp://example.com/live"},
		{in: "rtmp://127.0.0.1:19350/live/cam?key=a%20b&x=1", addr: "127.0.0.1:19350", app: "live", name: "cam?key=a%20b&x=1", tcURL: "rtmp://127.0.0.1:19350/live"},
		{in: "rtmp://[::1]/app/a/b", addr: "[::1]:1935", app: "app", name: "a/b", tcURL: "rtmp://[::1]/app"},
		{in: "rtmps://example.com/live/cam", wantErr: "only rtmp://"},
		{in: "rtmp:///live/cam", wantErr: "no host"},
		{in: "rtmp://example.com/live", wantErr: "not /app/stream"},
		{in: "rtmp://example.com//cam", wantErr: "not /app/stream"},
		{in: "rtmp://exa mple.com/live/cam", wantErr: "invalid character"},
	} {
		addr, app, name, tcURL, err := parseClientURL(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one with %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if addr != tc.addr || app != tc.app || name != tc.name || tcURL != tc.tcURL {
			t.Errorf("%s: %q %q %q %q, want %q %q %q %q", tc.in, addr, app, name, tcURL, tc.addr, tc.app, tc.name, tc.tcURL)
		}
	}
}

func dialTest(t *testing.T, rawURL string) (*Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Dial(ctx, rawURL)
}

func TestClientPublishesTags(t *testing.T) {
	ts := startServer(t, nil)
	c, err := dialTest(t, "rtmp://"+ts.addr+"/live/cam?key=k")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{{Key: "width", Value: 320.0}})
	if err != nil {
		t.Fatal(err)
	}
	keyframe := append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte("frame"), 4000)...) // five chunks of 4096
	tags := []flv.Tag{
		{Type: flv.TagScript, Data: meta},
		{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}},
		{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}},
		{Type: flv.TagVideo, Data: keyframe},
		{Type: flv.TagAudio, Timestamp: 23, Data: []byte{0xaf, 1, 0x21}},
		// Past 24 bits: the extended timestamp.
		{Type: flv.TagVideo, Timestamp: 1<<24 + 5, Data: []byte{0x27, 1, 0, 0, 0, 0x41}},
		{Type: flv.TagAudio, Timestamp: 1<<24 + 7, Data: []byte{0xaf, 1, 0x22}},
		// Script data that already carries the marker goes as it is.
		{Type: flv.TagScript, Timestamp: 1<<24 + 9, Data: append(append([]byte(nil), setDataFrame...), meta...)},
	}
	for _, tag := range tags {
		if err := c.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	sink := ts.rec.next(t)
	got := sink.waitTags(t, len(tags))
	tags[len(tags)-1].Data = meta // the server drops the marker
	if !reflect.DeepEqual(got, tags) {
		for i := range min(len(got), len(tags)) {
			if !reflect.DeepEqual(got[i], tags[i]) {
				t.Errorf("tag %d: type %d ts %d %d bytes, want type %d ts %d %d bytes",
					i, got[i].Type, got[i].Timestamp, len(got[i].Data), tags[i].Type, tags[i].Timestamp, len(tags[i].Data))
			}
		}
		t.Fatalf("got %d tags, want %d", len(got), len(tags))
	}

	req := sink.req
	if req.App != "live" || req.Stream != "cam" || req.TcURL != "rtmp://"+ts.addr+"/live" {
		t.Errorf("app %q stream %q tcUrl %q", req.App, req.Stream, req.TcURL)
	}
	if want := (url.Values{"key": {"k"}}); !reflect.DeepEqual(req.Query, want) {
		t.Errorf("query %v, want %v", req.Query, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	sink.waitClosed(t)
	ts.logs.waitFor(t, "rtmp publish stop", "stream=cam")
	ts.logs.waitFor(t, "rtmp connection closed")
	if strings.Contains(ts.logs.String(), "level=WARN") {
		t.Errorf("the server warned:\n%s", ts.logs.String())
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestClientRefused(t *testing.T) {
	ts := startServer(t, func(ts *testServer) {
		ts.rec.refuse = &StatusError{Code: "NetStream.Publish.Denied", Description: "No key."}
	})
	c, err := dialTest(t, "rtmp://"+ts.addr+"/live/cam")
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != "NetStream.Publish.Denied" || se.Description != "No key." {
		t.Fatalf("error %v (%#v), want a StatusError with the server's code", err, se)
	}
	if !strings.Contains(err.Error(), "NetStream.Publish.Denied") || !strings.Contains(err.Error(), ts.addr) {
		t.Errorf("error %q names neither the code nor the server", err)
	}
}

func TestClientServerEndsPublish(t *testing.T) {
	ts := startServer(t, nil)
	c, err := dialTest(t, "rtmp://"+ts.addr+"/live/cam")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts.rec.next(t).req.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.WriteTag(flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 1, 0}})
		if err != nil {
			if !strings.Contains(err.Error(), ts.addr) {
				t.Errorf("error %q does not name the server", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WriteTag still succeeds 10 s after the server hung up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientRejectsOtherTagTypes(t *testing.T) {
	ts := startServer(t, nil)
	c, err := dialTest(t, "rtmp://"+ts.addr+"/live/cam")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteTag(flv.Tag{Type: 7, Data: []byte{1}}); err == nil {
		t.Error("a tag of type 7 was sent")
	}
}

// fakeServer serves one connection with script, for servers that do what
// ours does not.
func fakeServer(t *testing.T, script func(f *fakeSession) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(nc)
		f := &fakeSession{nc: nc, br: br, cr: NewChunkReader(br, 0), cw: NewChunkWriter(nc)}
		if err := script(f); err != nil {
			t.Logf("fake server: %v", err) // the client may well hang up first
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

type fakeSession struct {
	nc net.Conn
	br *bufio.Reader
	cr *ChunkReader
	cw *ChunkWriter
}

func (f *fakeSession) handshake() error {
	_, err := serverHandshake(f.br, f.nc)
	return err
}

// expect reads up to the named command.
func (f *fakeSession) expect(name string) (command, Message, error) {
	for {
		m, err := f.cr.ReadMessage()
		if err != nil {
			return command{}, Message{}, fmt.Errorf("waiting for %s: %w", name, err)
		}
		if m.Type != TypeCommandAMF0 {
			continue
		}
		cmd, err := parseCommand(m)
		if err != nil {
			return command{}, Message{}, err
		}
		if cmd.name == name {
			return cmd, m, nil
		}
	}
}

func (f *fakeSession) send(msgs ...Message) error {
	for _, m := range msgs {
		if err := f.cw.WriteMessage(m); err != nil {
			return err
		}
	}
	return f.cw.Flush()
}

func (f *fakeSession) reply(m Message, err error) error {
	if err != nil {
		return err
	}
	return f.send(m)
}

// untilPublish plays a well-behaved server up to NetStream.Publish.Start.
func (f *fakeSession) untilPublish() error {
	if err := f.handshake(); err != nil {
		return err
	}
	cmd, _, err := f.expect("connect")
	if err != nil {
		return err
	}
	if err := f.reply(connectResult(cmd.txn)); err != nil {
		return err
	}
	if cmd, _, err = f.expect("createStream"); err != nil {
		return err
	}
	if err := f.reply(commandMessage(csidCommand, 0, "_result", cmd.txn, nil, 1)); err != nil {
		return err
	}
	if _, _, err := f.expect("publish"); err != nil {
		return err
	}
	return f.reply(onStatus(1, statusInfo(levelStatus, "NetStream.Publish.Start", "go")))
}

// drain reads until the client hangs up.
func (f *fakeSession) drain() error {
	for {
		if _, err := f.cr.ReadMessage(); err != nil {
			return nil
		}
	}
}

func TestClientBadServers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  func(f *fakeSession) error
		wantErr string
	}{{
		name: "handshake version",
		script: func(f *fakeSession) error {
			if _, err := f.br.Discard(1 + handshakeSize); err != nil {
				return err
			}
			_, err := f.nc.Write(make([]byte, 1+2*handshakeSize)) // version 0
			return err
		},
		wantErr: "unsupported handshake version 0",
	}, {
		name: "hangs up in the handshake",
		script: func(f *fakeSession) error {
			_, err := f.br.Discard(1 + handshakeSize)
			if err == nil {
				_, err = f.nc.Write([]byte{3, 0, 0})
			}
			return err
		},
		wantErr: "read S1+S2: unexpected EOF",
	}, {
		name: "hangs up after the handshake",
		script: func(f *fakeSession) error {
			return f.handshake()
		},
		wantErr: "connect: read:",
	}, {
		name: "garbage chunks",
		script: func(f *fakeSession) error {
			if err := f.handshake(); err != nil {
				return err
			}
			_, err := f.nc.Write([]byte{0x47, 1, 2, 3, 4, 5, 6, 7}) // type 1 on a chunk stream never seen
			return err
		},
		wantErr: "protocol violation",
	}, {
		name: "connect rejected",
		script: func(f *fakeSession) error {
			if err := f.handshake(); err != nil {
				return err
			}
			cmd, _, err := f.expect("connect")
			if err != nil {
				return err
			}
			return f.reply(commandMessage(csidCommand, 0, "_error", cmd.txn, nil,
				statusInfo(levelError, "NetConnection.Connect.Rejected", "Go away.")))
		},
		wantErr: "connect: NetConnection.Connect.Rejected: Go away.",
	}, {
		name: "createStream without a stream ID",
		script: func(f *fakeSession) error {
			if err := f.handshake(); err != nil {
				return err
			}
			cmd, _, err := f.expect("connect")
			if err != nil {
				return err
			}
			if err := f.reply(connectResult(cmd.txn)); err != nil {
				return err
			}
			if cmd, _, err = f.expect("createStream"); err != nil {
				return err
			}
			return f.reply(commandMessage(csidCommand, 0, "_result", cmd.txn, nil, "one"))
		},
		wantErr: "no usable stream ID",
	}, {
		name: "publish refused without a code",
		script: func(f *fakeSession) error {
			if err := f.handshake(); err != nil {
				return err
			}
			cmd, _, err := f.expect("connect")
			if err != nil {
				return err
			}
			if err := f.reply(connectResult(cmd.txn)); err != nil {
				return err
			}
			if cmd, _, err = f.expect("createStream"); err != nil {
				return err
			}
			if err := f.reply(commandMessage(csidCommand, 0, "_result", cmd.txn, nil, 1)); err != nil {
				return err
			}
			if cmd, _, err = f.expect("publish"); err != nil {
				return err
			}
			return f.reply(commandMessage(csidCommand, 1, "_error", cmd.txn, nil, nil))
		},
		wantErr: "publish cam: _error without a code",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.script)
			c, err := dialTest(t, "rtmp://"+addr+"/live/cam")
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q, want one naming the server and %q", err, tc.wantErr)
			}
		})
	}
}

func TestClientSilentServer(t *testing.T) {
	silent := func(f *fakeSession) error {
		if err := f.handshake(); err != nil {
			return err
		}
		return f.drain()
	}
	t.Run("deadline", func(t *testing.T) {
		addr := fakeServer(t, silent)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := Dial(ctx, "rtmp://"+addr+"/live/cam")
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("error %v, want a deadline", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		addr := fakeServer(t, silent)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := Dial(ctx, "rtmp://"+addr+"/live/cam")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// A server that sets a small window gets acknowledgements, its pings are
// answered, and an error status it sends later ends the publish.
func TestClientControlAndLateStatus(t *testing.T) {
	type seen struct {
		ack  uint32
		pong uint32
	}
	got := make(chan seen, 1)
	addr := fakeServer(t, func(f *fakeSession) error {
		if err := f.untilPublish(); err != nil {
			return err
		}
		if err := f.send(controlMessage(TypeWindowAckSize, 100), userControl(eventPingRequest, 12345)); err != nil {
			return err
		}
		var s seen
		for s.ack == 0 || s.pong == 0 {
			m, err := f.cr.ReadMessage()
			if err != nil {
				return err
			}
			switch {
			case m.Type == TypeAck:
				s.ack = binary.BigEndian.Uint32(m.Payload)
			case m.Type == TypeUserControl && binary.BigEndian.Uint16(m.Payload) == eventPingResponse:
				s.pong = binary.BigEndian.Uint32(m.Payload[2:])
			}
		}
		got <- s
		if err := f.reply(onStatus(1, statusInfo(levelError, "NetStream.Publish.Denied", "Kicked."))); err != nil {
			return err
		}
		return f.drain()
	})
	c, err := dialTest(t, "rtmp://"+addr+"/live/cam")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case s := <-got:
		if s.ack < handshakeBytes || s.pong != 12345 {
			t.Errorf("acknowledged %d bytes (want at least the handshake's %d), pong %d", s.ack, handshakeBytes, s.pong)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no acknowledgement or no pong within 10 s")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.WriteTag(flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 1, 0}})
		var se *StatusError
		if errors.As(err, &se) {
			if se.Code != "NetStream.Publish.Denied" {
				t.Errorf("code %q", se.Code)
			}
			break
		}
		if err != nil {
			t.Fatalf("error %v, want the server's status", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("WriteTag still succeeds 10 s after an error status")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
