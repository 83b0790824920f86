package rtmp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// The handshake is C0 C1 → S0 S1 S2 → C2. A plain client accepts S2 as an
// echo of C1; a Flash-compatible client (ffmpeg, librtmp/OBS, many hardware
// encoders) hides an HMAC digest in C1 and checks that S1 and S2 carry the
// digests a Flash Media Server would compute, refusing the server otherwise.
const (
	handshakeVersion = 3
	handshakeSize    = 1536
	digestSize       = sha256.Size
)

var (
	// digestConst completes both well-known handshake keys.
	digestConst = []byte{
		0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1,
		0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab,
		0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
	}
	// clientKey signs C1: only its 30-byte text part is used for that.
	clientKey = []byte("Genuine Adobe Flash Player 001")
	// serverKey is the 68-byte key; its first 36 bytes sign S1, and all of
	// it derives the key that signs S2.
	serverKey     = append([]byte("Genuine Adobe Flash Media Server 001"), digestConst...)
	serverKeyText = serverKey[:36]

	// serverVersion is any non-zero value: it tells the client that S1 holds a digest.
	serverVersion = []byte{4, 5, 0, 1}
)

// digestLayout says where a 1536-byte handshake packet hides its digest: the
// four bytes at sumAt add up to the digest's offset past base.
type digestLayout struct{ sumAt, base int }

var digestLayouts = [...]digestLayout{{sumAt: 8, base: 12}, {sumAt: 772, base: 776}}

func (d digestLayout) offset(p []byte) int {
	sum := int(p[d.sumAt]) + int(p[d.sumAt+1]) + int(p[d.sumAt+2]) + int(p[d.sumAt+3])
	return sum%728 + d.base
}

// packetDigest is the HMAC-SHA256 of p without its 32 digest bytes at off.
func packetDigest(p []byte, off int, key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(p[:off])
	h.Write(p[off+digestSize:])
	return h.Sum(nil)
}

// clientDigest finds a valid digest in C1 under either layout.
func clientDigest(c1 []byte) (digestLayout, []byte, bool) {
	for _, l := range digestLayouts {
		off := l.offset(c1)
		d := c1[off : off+digestSize]
		if hmac.Equal(d, packetDigest(c1, off, clientKey)) {
			return l, d, true
		}
	}
	return digestLayout{}, nil, false
}

var errBadVersion = errors.New("unsupported handshake version")

// serverHandshake runs the server side of the handshake and reports whether
// the client used the digest form. r must be the reader the chunk stream is
// read from afterwards, since a client may send its first chunks right
// behind C2.
func serverHandshake(r io.Reader, w io.Writer) (digest bool, err error) {
	var c0c1 [1 + handshakeSize]byte
	// C0 alone first: TLS, HTTP or other strangers fail here at once instead
	// of waiting out the timeout for a C1 that will never come.
	if _, err := io.ReadFull(r, c0c1[:1]); err != nil {
		return false, fmt.Errorf("read C0: %w", err)
	}
	if c0c1[0] != handshakeVersion {
		return false, fmt.Errorf("%w %d", errBadVersion, c0c1[0])
	}
	if _, err := io.ReadFull(r, c0c1[1:]); err != nil {
		return false, fmt.Errorf("read C1: %w", unexpected(err))
	}
	c1 := c0c1[1:]

	out := make([]byte, 1+2*handshakeSize)
	out[0] = handshakeVersion
	s1, s2 := out[1:1+handshakeSize], out[1+handshakeSize:]
	rand.Read(s1[8:])
	layout, cdigest, digest := clientDigest(c1)
	if digest {
		copy(s1[4:8], serverVersion)
		off := layout.offset(s1)
		copy(s1[off:], packetDigest(s1, off, serverKeyText))

		rand.Read(s2[:handshakeSize-digestSize])
		h := hmac.New(sha256.New, hmacSum(serverKey, cdigest))
		h.Write(s2[:handshakeSize-digestSize])
		h.Sum(s2[:handshakeSize-digestSize]) // appends in place: the last 32 bytes of S2
	} else {
		copy(s2, c1)
	}
	if _, err := w.Write(out); err != nil {
		return false, fmt.Errorf("write S0+S1+S2: %w", err)
	}
	// C2 is not checked: clients fill it inconsistently and it proves nothing
	// the TCP connection has not already shown.
	var c2 [handshakeSize]byte
	if _, err := io.ReadFull(r, c2[:]); err != nil {
		return false, fmt.Errorf("read C2: %w", unexpected(err))
	}
	return digest, nil
}

func hmacSum(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF, for reads that come after
// the peer has begun: only a silent peer ends cleanly.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
