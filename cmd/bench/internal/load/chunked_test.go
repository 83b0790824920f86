package load

import (
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// decodeAll feeds in to a new decoder in pieces cut at the given offsets
// and returns the data, whether the body ended, and the first error.
func decodeAll(in []byte, cuts ...int) (data []byte, done bool, err error) {
	var d chunkedDecoder
	pieces := [][]byte{}
	prev := 0
	for _, c := range cuts {
		if c > prev && c < len(in) {
			pieces = append(pieces, in[prev:c])
			prev = c
		}
	}
	pieces = append(pieces, in[prev:])
	for _, p := range pieces {
		for len(p) > 0 {
			var chunk []byte
			chunk, p, err = d.next(p)
			if err != nil {
				return data, d.done(), err
			}
			data = append(data, chunk...)
			if d.done() {
				return data, true, nil
			}
		}
	}
	return data, d.done(), nil
}

func TestChunkedDecoder(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		done           bool
		wantErr        string
	}{
		{name: "two chunks", in: "3\r\nabc\r\n5\r\nhello\r\n0\r\n\r\n", want: "abchello", done: true},
		{name: "hex sizes", in: "A\r\n0123456789\r\nf\r\n0123456789abcde\r\n0\r\n\r\n", want: "01234567890123456789abcde", done: true},
		{name: "upper and leading zeros", in: "000B\r\nhello world\r\n0\r\n\r\n", want: "hello world", done: true},
		{name: "extensions", in: "3;name=value\r\nabc\r\n0;last\r\n\r\n", want: "abc", done: true},
		{name: "trailer", in: "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", want: "abc", done: true},
		{name: "endless, cut inside", in: "4\r\nflv!\r\n10\r\n0123", want: "flv!0123"},
		{name: "before the trailer ends", in: "1\r\na\r\n0\r\nX: 1\r\n", want: "a"},
		{name: "bare LF after size", in: "3\nabc\r\n", wantErr: `'\n' in a chunk size`},
		{name: "bare LF after extension", in: "3;x\nabc\r\n", wantErr: "bare LF"},
		{name: "no CRLF after data", in: "3\r\nabcd\r\n", wantErr: `'d' after chunk data`},
		{name: "LF only after data", in: "3\r\nabc\n", wantErr: `'\n' after chunk data`},
		{name: "empty size", in: "\r\nabc", wantErr: "chunk size starts with"},
		{name: "not hex", in: "3x\r\nabc", wantErr: `'x' in a chunk size`},
		{name: "space before CRLF", in: "3 \t\r\nabc\r\n", want: "abc"},
		{name: "space before extension", in: "3 ;x\r\nabc", wantErr: `';' after a chunk size and whitespace`},
		{name: "17 digits", in: "10000000000000000\r\n", wantErr: "over 16 hex digits"},
		{name: "CR alone", in: "3\rabc", wantErr: "CR without LF"},
		{name: "long extension", in: "1;" + strings.Repeat("x", 5000) + "\r\na\r\n", wantErr: "line over"},
		{name: "trailer bare LF", in: "0\r\nX: 1\n", wantErr: "bare LF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.in); cut++ {
				data, done, err := decodeAll([]byte(tc.in), cut)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errChunked) {
						t.Fatalf("cut at %d: error %v, want one with %q", cut, err, tc.wantErr)
					}
					continue
				}
				if err != nil || string(data) != tc.want || done != tc.done {
					t.Fatalf("cut at %d: %q, done %v, %v; want %q, done %v", cut, data, done, err, tc.want, tc.done)
				}
			}
		})
	}
}

func TestChunkedDecoderLeavesWhatFollows(t *testing.T) {
	var d chunkedDecoder
	data, rest, err := d.next([]byte("0\r\n\r\nHTTP/1.1"))
	if err != nil || len(data) != 0 || string(rest) != "HTTP/1.1" || !d.done() {
		t.Errorf("%q %q %v done %v", data, rest, err, d.done())
	}
}

func TestChunkedDecoderAllocatesNothing(t *testing.T) {
	in := []byte("1000\r\n" + strings.Repeat("x", 4096) + "\r\n3;e\r\nabc\r\n")
	var d chunkedDecoder
	allocs := testing.AllocsPerRun(100, func() {
		p := in
		for len(p) > 0 {
			var err error
			if _, p, err = d.next(p); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per body", allocs)
	}
}

// FuzzChunked checks the decoder against net/http's reader: both must read
// the same data from any body both accept, and the way the input is cut
// into pieces must change nothing.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n",
		"1;ext=1\r\nz\r\n0\r\nTrailer: x\r\n\r\n",
		"ffff\r\n",
		"3\r\nab\r\n",
		"0\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole, wholeDone, wholeErr := decodeAll(in)
		data, done, err := decodeAll(in, int(cut)%(len(in)+1), int(cut)/3%(len(in)+1))
		if !bytes.Equal(data, whole) || done != wholeDone || (err == nil) != (wholeErr == nil) {
			t.Fatalf("in pieces: %q done %v err %v; whole: %q done %v err %v", data, done, err, whole, wholeDone, wholeErr)
		}

		ref, refErr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		// net/http stops at the last chunk and leaves the trailer to its
		// caller: compare what comes before it.
		// A decoder that fails keeps the state it failed in: past the last
		// chunk, only the trailer was wrong.
		var d chunkedDecoder
		var mine []byte
		var mineErr error
		for p := in; len(p) > 0 && mineErr == nil && d.state < chunkTrailerLine; {
			var chunk []byte
			chunk, p, mineErr = d.next(p)
			mine = append(mine, chunk...)
		}
		refComplete := refErr == nil
		mineComplete := d.state >= chunkTrailerLine
		if refComplete && mineComplete && !bytes.Equal(mine, ref) {
			t.Fatalf("decoded %q, net/http %q", mine, ref)
		}
		// net/http also refuses a body of mostly framing, which costs a
		// viewer nothing worth refusing.
		if refComplete != mineComplete && len(in) < maxChunkLine &&
			(refErr == nil || !strings.Contains(refErr.Error(), "too much non-data")) {
			t.Fatalf("complete: mine %v (%v), net/http %v (%v)", mineComplete, mineErr, refComplete, refErr)
		}
	})
}
