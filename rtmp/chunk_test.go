package rtmp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// hexb decodes hex written with spaces for readability.
func hexb(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func readAll(t *testing.T, in []byte, max uint32) []Message {
	t.Helper()
	cr := NewChunkReader(bytes.NewReader(in), max)
	var out []Message
	for {
		m, err := cr.ReadMessage()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", len(out), err)
		}
		m.Payload = bytes.Clone(m.Payload)
		out = append(out, m)
	}
}

func checkMessages(t *testing.T, got, want []Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.CSID != w.CSID || g.Type != w.Type || g.StreamID != w.StreamID || g.Timestamp != w.Timestamp || !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("message %d:\n got csid=%d type=%d sid=%d ts=%d payload=%.40x\nwant csid=%d type=%d sid=%d ts=%d payload=%.40x",
				i, g.CSID, g.Type, g.StreamID, g.Timestamp, g.Payload, w.CSID, w.Type, w.StreamID, w.Timestamp, w.Payload)
		}
	}
}

func TestReadHeaderFormats(t *testing.T) {
	in := cat(
		hexb("03 000064 000005 14 01000000"), []byte("hello"), // type 0: ts 100
		hexb("43 00000a 000003 09"), []byte("abc"), // type 1: +10, new length and type
		hexb("83 000005"), []byte("xyz"), // type 2: +5
		hexb("c3"), []byte("123"), // type 3: +5 again
		hexb("04 000007 000001 08 01000000"), []byte("a"), // type 0 on another stream
		hexb("c4"), []byte("b"), // type 3 after type 0: its timestamp is the delta
	)
	checkMessages(t, readAll(t, in, 0), []Message{
		{CSID: 3, Type: 20, StreamID: 1, Timestamp: 100, Payload: []byte("hello")},
		{CSID: 3, Type: 9, StreamID: 1, Timestamp: 110, Payload: []byte("abc")},
		{CSID: 3, Type: 9, StreamID: 1, Timestamp: 115, Payload: []byte("xyz")},
		{CSID: 3, Type: 9, StreamID: 1, Timestamp: 120, Payload: []byte("123")},
		{CSID: 4, Type: 8, StreamID: 1, Timestamp: 7, Payload: []byte("a")},
		{CSID: 4, Type: 8, StreamID: 1, Timestamp: 14, Payload: []byte("b")},
	})
}

func TestReadBasicHeaderSizes(t *testing.T) {
	for _, tc := range []struct {
		basic string
		csid  uint32
	}{
		{"02", 2}, {"3f", 63},
		{"00 00", 64}, {"00 ff", 319},
		{"01 00 01", 320}, {"01 ff ff", 65599}, {"01 2c 01", 64 + 0x2c + 0x100},
	} {
		in := cat(hexb(tc.basic), hexb("000001 000002 12 00000000"), []byte("hi"))
		got := readAll(t, in, 0)
		checkMessages(t, got, []Message{{CSID: tc.csid, Type: 18, Timestamp: 1, Payload: []byte("hi")}})
	}
}

func TestReadSplitAndInterleaved(t *testing.T) {
	a, b := seq(300), bytes.Repeat([]byte{0xbb}, 200)
	in := cat(
		hexb("04 000000 00012c 09 01000000"), a[:128],
		hexb("06 000000 0000c8 08 01000000"), b[:128],
		hexb("c4"), a[128:256],
		hexb("c6"), b[128:],
		hexb("c4"), a[256:],
	)
	checkMessages(t, readAll(t, in, 0), []Message{
		{CSID: 6, Type: 8, StreamID: 1, Payload: b},
		{CSID: 4, Type: 9, StreamID: 1, Payload: a},
	})
}

func TestReadExtendedTimestamp(t *testing.T) {
	a := seq(200)
	in := cat(
		// Type 0 with an extended timestamp: the type-3 continuation repeats it.
		hexb("04 ffffff 0000c8 09 01000000 01000000"), a[:128],
		hexb("c4 01000000"), a[128:],
		// A type-3 chunk starting a message reads its delta from the extended field.
		hexb("c4 00000010"), a[:128],
		hexb("c4 00000010"), a[128:],
		// Type 1 with a small delta turns extended timestamps off again.
		hexb("44 000020 000001 09"), []byte("x"),
		hexb("c4"), []byte("y"),
		// Type 2 with an extended delta.
		hexb("84 ffffff 00ffffff"), []byte("z"),
	)
	checkMessages(t, readAll(t, in, 0), []Message{
		{CSID: 4, Type: 9, StreamID: 1, Timestamp: 0x01000000, Payload: a},
		{CSID: 4, Type: 9, StreamID: 1, Timestamp: 0x01000010, Payload: a},
		{CSID: 4, Type: 9, StreamID: 1, Timestamp: 0x01000030, Payload: []byte("x")},
		{CSID: 4, Type: 9, StreamID: 1, Timestamp: 0x01000050, Payload: []byte("y")},
		{CSID: 4, Type: 9, StreamID: 1, Timestamp: 0x0200004f, Payload: []byte("z")},
	})
}

func TestReadTimestampWraps(t *testing.T) {
	in := cat(
		hexb("04 ffffff 000001 09 01000000 fffffff0"), []byte("a"),
		hexb("84 000020"), []byte("b"),
	)
	got := readAll(t, in, 0)
	if got[1].Timestamp != 0x10 {
		t.Errorf("timestamp after wrap = %#x, want 0x10", got[1].Timestamp)
	}
}

func TestReadChunkSizeChangeMidMessage(t *testing.T) {
	a := seq(1000)
	in := cat(
		hexb("04 000000 0003e8 09 01000000"), a[:128],
		// Set Chunk Size to 500 arrives while the video message is under way.
		hexb("02 000000 000004 01 00000000 000001f4"),
		hexb("c4"), a[128:628],
		hexb("c4"), a[628:],
	)
	checkMessages(t, readAll(t, in, 0), []Message{
		{CSID: 2, Type: TypeSetChunkSize, Payload: hexb("000001f4")},
		{CSID: 4, Type: 9, StreamID: 1, Payload: a},
	})
}

func TestReadAbort(t *testing.T) {
	a := seq(300)
	in := cat(
		hexb("04 000000 00012c 09 01000000"), a[:128],
		hexb("02 000000 000004 02 00000000 00000004"), // abort chunk stream 4
		hexb("04 000009 000002 08 01000000"), []byte("ok"),
	)
	checkMessages(t, readAll(t, in, 0), []Message{
		{CSID: 2, Type: TypeAbort, Payload: hexb("00000004")},
		{CSID: 4, Type: 8, StreamID: 1, Timestamp: 9, Payload: []byte("ok")},
	})
}

func TestReadZeroLength(t *testing.T) {
	in := cat(hexb("03 000000 000000 14 00000000"), hexb("c3"))
	got := readAll(t, in, 0)
	if len(got) != 2 || len(got[0].Payload) != 0 || len(got[1].Payload) != 0 {
		t.Errorf("got %+v", got)
	}
}

func readErr(in []byte, max uint32) error {
	cr := NewChunkReader(bytes.NewReader(in), max)
	for {
		if _, err := cr.ReadMessage(); err != nil {
			return err
		}
	}
}

func TestReadErrors(t *testing.T) {
	many := func(n int, format byte, length string) []byte {
		var b []byte
		for i := range n {
			b = append(b, format<<6|byte(3+i))
			b = append(b, hexb("000000 "+length+" 09 01000000")...)
			if length != "000000" {
				b = append(b, 0)
			}
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		max  uint32
		want error
	}{
		{"clean end", nil, 0, io.EOF},
		{"end inside basic header", hexb("00"), 0, io.ErrUnexpectedEOF},
		{"end inside message header", hexb("03 0000"), 0, io.ErrUnexpectedEOF},
		{"end inside payload", cat(hexb("03 000000 000005 14 00000000"), []byte("he")), 0, io.ErrUnexpectedEOF},
		{"end inside extended timestamp", hexb("03 ffffff 000005 14 00000000 00"), 0, io.ErrUnexpectedEOF},
		{"type 3 on unknown stream", hexb("c3 00"), 0, errProtocol},
		{"type 1 on unknown stream", hexb("43 000000 000001 09 00"), 0, errProtocol},
		{"type 2 on unknown stream", hexb("83 000000 00"), 0, errProtocol},
		{"16 MiB message", hexb("03 000000 ffffff 09 01000000"), 0, errProtocol},
		{"over a small limit", hexb("03 000000 000101 09 01000000"), 256, errProtocol},
		{"type 1 over the limit", cat(hexb("03 000000 000001 09 01000000 00"), hexb("43 000000 000101 09")), 256, errProtocol},
		{"chunk size 0", hexb("02 000000 000004 01 00000000 00000000"), 0, errProtocol},
		{"chunk size 2^31", hexb("02 000000 000004 01 00000000 80000000"), 0, errProtocol},
		{"short set chunk size", hexb("02 000000 000002 01 00000000 0001"), 0, errProtocol},
		{"short abort", hexb("02 000000 000000 02 00000000"), 0, errProtocol},
		{"new header mid-message", cat(hexb("04 000000 0000c8 09 01000000"), seq(128), hexb("04 000000 000001 09 01000000 00")), 0, errProtocol},
		{"too many chunk streams", many(maxChunkStreams+1, 0, "000001"), 0, errProtocol},
		{"too many messages under way", many(maxPartialStreams+1, 0, "000100"), 0, errProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := readErr(tc.in, tc.max); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadErrorIsFinal(t *testing.T) {
	cr := NewChunkReader(bytes.NewReader(hexb("c3 03 000000 000001 09 01000000 00")), 0)
	_, err1 := cr.ReadMessage()
	_, err2 := cr.ReadMessage()
	if err1 == nil || err2 != err1 {
		t.Errorf("errors %v then %v, want the same error twice", err1, err2)
	}
}

// allocatedBy reports the bytes f allocates on the heap.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A peer that declares a large message but sends little must cost little.
func TestReadDeclaredLengthNotAllocated(t *testing.T) {
	in := cat(
		hexb("02 000000 000004 01 00000000 7fffffff"), // one chunk may now hold the whole message
		hexb("04 000000 7fffff 09 01000000"), seq(3000),
	)
	var err error
	n := allocatedBy(func() { err = readErr(in, 0) })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if n > 256<<10 {
		t.Errorf("allocated %d bytes for 3000 bytes of an 8 MiB message", n)
	}

	in = hexb("04 000000 ffffff 09 01000000")
	n = allocatedBy(func() { err = readErr(in, 0) })
	if !errors.Is(err, errProtocol) {
		t.Fatalf("got %v", err)
	}
	if n > 256<<10 {
		t.Errorf("allocated %d bytes refusing a 16 MiB message", n)
	}
}

// Many streams each holding part of a large message may not add up past the budget.
func TestReadBufferedBudget(t *testing.T) {
	var in []byte
	in = append(in, hexb("02 000000 000004 01 00000000 00100000")...) // chunk size 1 MiB
	for i := range 20 {
		in = append(in, byte(3+i))
		in = append(in, hexb("000000 700000 09 01000000")...)
		in = append(in, make([]byte, 1<<20)...)
	}
	err := readErr(in, 0)
	if !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), "bytes of messages under way") {
		t.Errorf("got %v, want the buffered-bytes limit", err)
	}
}

// loopReader repeats its data forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func TestReadSteadyStateDoesNotAllocate(t *testing.T) {
	video, audio := seq(5000), seq(300)
	var in []byte
	in = append(in, hexb("02 000000 000004 01 00000000 00001000")...)
	in = append(in, hexb("06 000000 001388 09 01000000")...)
	in = append(in, video[:4096]...)
	in = append(in, hexb("04 000000 00012c 08 01000000")...)
	in = append(in, audio...)
	in = append(in, hexb("c6")...)
	in = append(in, video[4096:]...)
	// From here on the pattern repeats with type-3 headers only.
	loop := cat(hexb("c4"), audio, hexb("c6"), video[:4096], hexb("c6"), video[4096:])
	r := io.MultiReader(bytes.NewReader(in), &loopReader{data: loop})
	cr := NewChunkReader(r, 0)
	for range 10 {
		if _, err := cr.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := cr.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
}

// BenchmarkReadMessage reads a steady mix of 5000-byte video and 300-byte
// audio messages in 4096-byte chunks, as a publisher sends them.
func BenchmarkReadMessage(b *testing.B) {
	video, audio := seq(5000), seq(300)
	in := cat(
		hexb("02 000000 000004 01 00000000 00001000"),
		hexb("06 000000 001388 09 01000000"), video[:4096],
		hexb("04 000000 00012c 08 01000000"), audio,
		hexb("c6"), video[4096:],
	)
	loop := cat(hexb("c4"), audio, hexb("c6"), video[:4096], hexb("c6"), video[4096:])
	cr := NewChunkReader(io.MultiReader(bytes.NewReader(in), &loopReader{data: loop}), 0)
	b.SetBytes(int64(len(loop)) / 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cr.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		m         Message
		chunkSize uint32
		want      []byte
	}{
		{"small", Message{CSID: 3, Type: 20, StreamID: 1, Timestamp: 100, Payload: []byte("hello")}, 128,
			cat(hexb("03 000064 000005 14 01000000"), []byte("hello"))},
		{"split", Message{CSID: 4, Type: 9, StreamID: 1, Payload: seq(300)}, 128,
			cat(hexb("04 000000 00012c 09 01000000"), seq(300)[:128], hexb("c4"), seq(300)[128:256], hexb("c4"), seq(300)[256:])},
		{"two-byte basic header", Message{CSID: 100, Type: 8, Payload: []byte("a")}, 128,
			cat(hexb("00 24 000000 000001 08 00000000"), []byte("a"))},
		{"three-byte basic header", Message{CSID: 65599, Type: 8, Payload: []byte("a")}, 128,
			cat(hexb("01 ff ff 000000 000001 08 00000000"), []byte("a"))},
		{"extended timestamp", Message{CSID: 4, Type: 9, Timestamp: 0x12345678, Payload: seq(10)}, 4,
			cat(hexb("04 ffffff 00000a 09 00000000 12345678"), seq(10)[:4], hexb("c4 12345678"), seq(10)[4:8], hexb("c4 12345678"), seq(10)[8:])},
		{"empty", Message{CSID: 2, Type: 4}, 128, hexb("02 000000 000000 04 00000000")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			cw := NewChunkWriter(&buf)
			cw.SetChunkSize(tc.chunkSize)
			if err := cw.WriteMessage(tc.m); err != nil {
				t.Fatal(err)
			}
			if err := cw.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tc.want) {
				t.Errorf("got  %x\nwant %x", buf.Bytes(), tc.want)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	cw := NewChunkWriter(io.Discard)
	for _, m := range []Message{{CSID: 1}, {CSID: 65600}, {CSID: 3, Payload: make([]byte, 1<<24)}} {
		if err := cw.WriteMessage(m); err == nil {
			t.Errorf("csid %d, %d bytes: no error", m.CSID, len(m.Payload))
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var buf bytes.Buffer
	cw := NewChunkWriter(&buf)
	var want []Message
	csids := []uint32{2, 3, 4, 5, 63, 64, 65, 319, 320, 321, 1000, 65599}
	for i := range 200 {
		if i%50 == 0 {
			size := uint32(1 + rng.IntN(5000))
			m := controlMessage(TypeSetChunkSize, size)
			if err := cw.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
			cw.SetChunkSize(size)
			want = append(want, m)
		}
		m := Message{
			CSID:      csids[rng.IntN(len(csids))],
			Type:      uint8(8 + rng.IntN(2)),
			StreamID:  rng.Uint32(),
			Timestamp: rng.Uint32(),
			Payload:   seq(rng.IntN(20000)),
		}
		if err := cw.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, buf.Bytes(), 0)
	checkMessages(t, got, want)
}

func ExampleChunkReader() {
	in := cat(hexb("03 000064 000005 14 01000000"), []byte("hello"))
	cr := NewChunkReader(bytes.NewReader(in), 0)
	m, err := cr.ReadMessage()
	fmt.Println(m.CSID, m.Type, m.StreamID, m.Timestamp, string(m.Payload), err)
	// Output: 3 20 1 100 hello <nil>
}

// Messages other than media are held to their own, smaller limit, checked
// from the header before any byte is buffered.
func TestReadCommandLimit(t *testing.T) {
	for _, tc := range []struct {
		typ    string
		length string
		err    bool
	}{
		{"14", "010000", false}, // a command of 64 KiB
		{"14", "010001", true},  // one byte more
		{"12", "010001", true},  // data
		{"13", "010001", true},  // shared object
		{"04", "010001", true},  // user control
		{"09", "100000", false}, // video of 1 MiB: media
		{"08", "100000", false}, // audio
		{"16", "100000", false}, // aggregate
	} {
		in := hexb("03 000000 " + tc.length + " " + tc.typ + " 00000000")
		var err error
		n := allocatedBy(func() { err = readErr(in, 0) })
		if refused := errors.Is(err, errProtocol); refused != tc.err {
			t.Errorf("type %s of 0x%s bytes: err = %v, want refused %v", tc.typ, tc.length, err, tc.err)
		}
		if n > 64<<10 {
			t.Errorf("type %s of 0x%s bytes: allocated %d for its header", tc.typ, tc.length, n)
		}
	}

	cr := NewChunkReader(bytes.NewReader(hexb("03 000000 000801 14 00000000")), 0)
	cr.SetMaxCommandSize(2048)
	if _, err := cr.ReadMessage(); !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), "exceeds the limit of 2048") {
		t.Errorf("over SetMaxCommandSize: %v", err)
	}
	// A media limit below the command limit lowers it too.
	cr = NewChunkReader(bytes.NewReader(hexb("03 000000 000801 14 00000000")), 2048)
	if _, err := cr.ReadMessage(); !errors.Is(err, errProtocol) {
		t.Errorf("command over a media limit of 2048: %v", err)
	}
}
