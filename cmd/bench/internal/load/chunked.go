package load

import (
	"errors"
	"fmt"
)

// chunkedDecoder takes an HTTP/1.1 chunked body apart as it arrives in
// pieces of any size. It never copies: next hands out the data bytes as
// subslices of its input. Its syntax is as strict as net/http's: CRLF line
// ends, at most 16 hex digits, extensions ignored.
type chunkedDecoder struct {
	state   chunkState
	left    uint64 // data bytes left in the current chunk
	digits  int    // hex digits of the size line so far
	lineLen int    // bytes of the current size or trailer line, for the bound
}

type chunkState uint8

const (
	chunkSize        chunkState = iota // hex digits of a size line
	chunkSizeSpace                     // whitespace after the digits
	chunkExtension                     // after ';', up to CR
	chunkSizeLF                        // CR of a size line seen
	chunkData                          // inside the data
	chunkDataCR                        // after the data: CR expected
	chunkDataLF                        // after the data: LF expected
	chunkTrailerLine                   // at the start of a trailer line
	chunkTrailerText                   // inside a trailer line
	chunkTrailerLF                     // CR of a trailer line seen
	chunkEndLF                         // CR of the empty line that ends the body seen
	chunkDone
)

// maxChunkLine bounds a size line with its extensions, and a trailer line,
// as net/http does.
const maxChunkLine = 4096

var errChunked = errors.New("malformed chunked encoding")

// next consumes in up to the end of the next run of data bytes and returns
// them with the input that follows. data is empty when in held only
// framing; the caller calls next again while rest is not empty. After the
// last chunk and its trailer, done reports true and the rest is not
// consumed.
func (d *chunkedDecoder) next(in []byte) (data, rest []byte, err error) {
	for i := 0; i < len(in); i++ {
		b := in[i]
		switch d.state {
		case chunkSize:
			v, ok := hexValue(b)
			switch {
			case ok:
				if d.digits == 16 {
					return nil, nil, fmt.Errorf("%w: chunk size over 16 hex digits", errChunked)
				}
				d.left = d.left<<4 | uint64(v)
				d.digits++
			case d.digits == 0:
				return nil, nil, fmt.Errorf("%w: chunk size starts with %q", errChunked, b)
			case b == ';':
				d.state = chunkExtension
			case b == '\r':
				d.state = chunkSizeLF
			case b == ' ' || b == '\t':
				d.state = chunkSizeSpace
			default:
				return nil, nil, fmt.Errorf("%w: %q in a chunk size", errChunked, b)
			}
			if err := d.countLine(); err != nil {
				return nil, nil, err
			}
		case chunkSizeSpace:
			// Whitespace may end a size line, as net/http allows, but not
			// come before an extension.
			switch b {
			case ' ', '\t':
			case '\r':
				d.state = chunkSizeLF
			default:
				return nil, nil, fmt.Errorf("%w: %q after a chunk size and whitespace", errChunked, b)
			}
			if err := d.countLine(); err != nil {
				return nil, nil, err
			}
		case chunkExtension:
			switch b {
			case '\r':
				d.state = chunkSizeLF
			case '\n':
				return nil, nil, fmt.Errorf("%w: size line ends with a bare LF", errChunked)
			}
			if err := d.countLine(); err != nil {
				return nil, nil, err
			}
		case chunkSizeLF:
			if b != '\n' {
				return nil, nil, fmt.Errorf("%w: CR without LF in a size line", errChunked)
			}
			d.digits, d.lineLen = 0, 0
			if d.left == 0 {
				d.state = chunkTrailerLine
			} else {
				d.state = chunkData
			}
		case chunkData:
			n := uint64(len(in) - i)
			if n > d.left {
				n = d.left
			}
			d.left -= n
			if d.left == 0 {
				d.state = chunkDataCR
			}
			return in[i : i+int(n)], in[i+int(n):], nil
		case chunkDataCR, chunkDataLF:
			want := byte('\r')
			if d.state == chunkDataLF {
				want = '\n'
			}
			if b != want {
				return nil, nil, fmt.Errorf("%w: %q after chunk data, want CRLF", errChunked, b)
			}
			d.state++
			if d.state > chunkDataLF {
				d.state = chunkSize
			}
		case chunkTrailerLine, chunkTrailerText:
			switch b {
			case '\r':
				if d.state == chunkTrailerLine {
					d.state = chunkEndLF
				} else {
					d.state = chunkTrailerLF
				}
			case '\n':
				return nil, nil, fmt.Errorf("%w: trailer line ends with a bare LF", errChunked)
			default:
				d.state = chunkTrailerText
				if err := d.countLine(); err != nil {
					return nil, nil, err
				}
			}
		case chunkTrailerLF, chunkEndLF:
			if b != '\n' {
				return nil, nil, fmt.Errorf("%w: CR without LF in the trailer", errChunked)
			}
			d.lineLen = 0
			if d.state == chunkEndLF {
				d.state = chunkDone
				return nil, in[i+1:], nil
			}
			d.state = chunkTrailerLine
		case chunkDone:
			return nil, in[i:], nil
		}
	}
	return nil, nil, nil
}

// done reports whether the body has ended.
func (d *chunkedDecoder) done() bool { return d.state == chunkDone }

func (d *chunkedDecoder) countLine() error {
	d.lineLen++
	if d.lineLen >= maxChunkLine {
		return fmt.Errorf("%w: line over %d bytes", errChunked, maxChunkLine)
	}
	return nil
}

func hexValue(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}
