package rtmp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// The keys spelled out independently of handshake.go, so a typo there fails here.
var (
	testConst, _   = hex.DecodeString("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae")
	testClientKey  = []byte("Genuine Adobe Flash Player 001")
	testServerKey  = append([]byte("Genuine Adobe Flash Media Server 001"), testConst...)
	testLayoutSums = map[string][2]int{"first": {8, 12}, "second": {772, 776}}
)

func testHMAC(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func testDigestOffset(p []byte, sumAt, base int) int {
	return (int(p[sumAt])+int(p[sumAt+1])+int(p[sumAt+2])+int(p[sumAt+3]))%728 + base
}

// digestC1 builds a C1 the way a Flash-compatible client does, with its
// digest placed by the layout whose offset bytes start at sumAt.
func digestC1(rng *rand.Rand, sumAt, base int) (c1, digest []byte) {
	c1 = make([]byte, handshakeSize)
	for i := range c1 {
		c1[i] = byte(rng.Uint32())
	}
	copy(c1[4:8], []byte{9, 0, 124, 2})
	off := testDigestOffset(c1, sumAt, base)
	digest = testHMAC(testClientKey, c1[:off], c1[off+32:])
	copy(c1[off:], digest)
	return c1, digest
}

func runHandshake(t *testing.T, c1 []byte, wantDigest bool) (s0 byte, s1, s2 []byte) {
	t.Helper()
	in := append([]byte{3}, c1...)
	in = append(in, make([]byte, handshakeSize)...) // C2
	in = append(in, "next chunk"...)
	r := bytes.NewReader(in)
	var out bytes.Buffer
	digest, err := serverHandshake(r, &out)
	if err != nil {
		t.Fatal(err)
	}
	if digest != wantDigest {
		t.Errorf("digest handshake %v, want %v", digest, wantDigest)
	}
	if r.Len() != len("next chunk") {
		t.Errorf("handshake consumed %d bytes past C2", len("next chunk")-r.Len())
	}
	b := out.Bytes()
	if len(b) != 1+2*handshakeSize {
		t.Fatalf("server wrote %d bytes, want %d", len(b), 1+2*handshakeSize)
	}
	return b[0], b[1 : 1+handshakeSize], b[1+handshakeSize:]
}

func TestHandshakeDigest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, l := range testLayoutSums {
		t.Run(name, func(t *testing.T) {
			for range 20 { // offsets vary with the random bytes
				c1, cdigest := digestC1(rng, l[0], l[1])
				s0, s1, s2 := runHandshake(t, c1, true)
				if s0 != 3 {
					t.Fatalf("S0 = %d", s0)
				}
				if bytes.Equal(s1[4:8], []byte{0, 0, 0, 0}) {
					t.Error("S1 version is zero: clients will not look for a digest")
				}
				off := testDigestOffset(s1, l[0], l[1])
				if want := testHMAC(testServerKey[:36], s1[:off], s1[off+32:]); !bytes.Equal(s1[off:off+32], want) {
					t.Fatal("S1 digest does not verify with the server key at the client's layout")
				}
				key := testHMAC(testServerKey, cdigest)
				if want := testHMAC(key, s2[:1504]); !bytes.Equal(s2[1504:], want) {
					t.Fatal("S2 signature does not verify")
				}
				if bytes.Equal(s2, c1) {
					t.Fatal("S2 echoes C1 in digest mode")
				}
			}
		})
	}
}

func TestHandshakePlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c1 := make([]byte, handshakeSize)
	for i := range c1 {
		c1[i] = byte(rng.Uint32())
	}
	copy(c1[4:8], []byte{0, 0, 0, 0})
	s0, s1, s2 := runHandshake(t, c1, false)
	if s0 != 3 {
		t.Fatalf("S0 = %d", s0)
	}
	if !bytes.Equal(s1[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("plain S1 version bytes %x, want zero", s1[4:8])
	}
	if !bytes.Equal(s2, c1) {
		t.Error("S2 does not echo C1")
	}
	if bytes.Equal(s1[8:], make([]byte, handshakeSize-8)) {
		t.Error("S1 has no random bytes")
	}
}

// A digest computed with the wrong key is not a digest: the server must fall
// back to the plain echo rather than sign garbage.
func TestHandshakeWrongClientKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c1, _ := digestC1(rng, 8, 12)
	off := testDigestOffset(c1, 8, 12)
	copy(c1[off:], testHMAC([]byte("not the key"), c1[:off], c1[off+32:]))
	_, _, s2 := runHandshake(t, c1, false)
	if !bytes.Equal(s2, c1) {
		t.Error("invalid digest not answered with a plain echo")
	}
}

func TestHandshakeErrors(t *testing.T) {
	full := make([]byte, 1+2*handshakeSize)
	full[0] = 3
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short C1", full[:700], io.ErrUnexpectedEOF},
		{"no C1", full[:1], io.ErrUnexpectedEOF},
		{"no C2", full[:1+handshakeSize], io.ErrUnexpectedEOF},
		{"short C2", full[:1+handshakeSize+10], io.ErrUnexpectedEOF},
		{"version 6", append([]byte{6}, full[1:]...), errBadVersion},
		{"TLS client hello", []byte{0x16, 3, 1}, errBadVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serverHandshake(bytes.NewReader(tc.in), io.Discard)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzHandshake(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	c1, _ := digestC1(rng, 772, 776)
	f.Add(append(append([]byte{3}, c1...), make([]byte, handshakeSize)...))
	f.Add(make([]byte, 1+2*handshakeSize))
	f.Add([]byte{3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = serverHandshake(bytes.NewReader(in), io.Discard)
	})
}
