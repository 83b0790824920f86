package rtmp

import (
	"crypto/rand"
	"fmt"
	"io"
)

// clientHandshake runs the plain client side of the handshake: C0 C1, then
// S0 S1 S2, then C2. Servers accept the plain form from any client; only
// Flash-era clients need the digest form, and a publisher does not.
//
// S2 is not checked against C1: servers that answer with a digest S2 do not
// echo, and a wrong S2 proves nothing the connect reply will not.
func clientHandshake(r io.Reader, w io.Writer) error {
	c0c1 := make([]byte, 1+handshakeSize)
	c0c1[0] = handshakeVersion
	// C1 starts with a zero time and eight zero bytes: a zero version
	// tells the server that no digest is hidden in the random part.
	rand.Read(c0c1[9:])
	if _, err := w.Write(c0c1); err != nil {
		return fmt.Errorf("write C0+C1: %w", err)
	}
	s := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(r, s[:1]); err != nil {
		return fmt.Errorf("read S0: %w", unexpected(err))
	}
	if s[0] != handshakeVersion {
		return fmt.Errorf("%w %d", errBadVersion, s[0])
	}
	if _, err := io.ReadFull(r, s[1:]); err != nil {
		return fmt.Errorf("read S1+S2: %w", unexpected(err))
	}
	// C2 echoes S1, as S2 echoes C1.
	if _, err := w.Write(s[1 : 1+handshakeSize]); err != nil {
		return fmt.Errorf("write C2: %w", err)
	}
	return nil
}
