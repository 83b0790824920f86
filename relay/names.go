package relay

import (
	"errors"
	"fmt"
)

// MaxNameLen is the longest app or stream name, in bytes. Names go into
// every metric series, stats entry and log line about a stream, and into
// the URLs of origin requests: a bound on them bounds all of those.
const MaxNameLen = 128

// ErrBadName refuses an app or stream name outside the rules of CheckName.
var ErrBadName = errors.New("bad name")

// CheckName reports whether app and name may name a stream, as an error
// wrapping ErrBadName that says which rule the name breaks. Each is 1 to
// MaxNameLen bytes of ASCII letters, digits, '_', '-', '.' and '~' (the
// characters a URL carries unescaped, so that a name reads the same in a
// path, a query, a log line and a metric label) and does not start with
// '.' (no "." or ".." path segments, no hidden files). The message never
// repeats the name: it may be long.
func CheckName(app, name string) error {
	if err := CheckApp(app); err != nil {
		return err
	}
	return checkPart("stream", name)
}

// CheckApp is CheckName for an app alone, such as a key of the origins
// configured per app.
func CheckApp(app string) error {
	return checkPart("app", app)
}

// checkPart checks one name; the error tells the client what it may send.
func checkPart(kind, s string) error {
	if why := nameFault(s); why != "" {
		return fmt.Errorf("%w: %s name %s; names are 1 to %d of A-Z a-z 0-9 _ - . ~, not starting with '.'",
			ErrBadName, kind, why, MaxNameLen)
	}
	return nil
}

// nameFault says how s breaks the rules, or "" when it keeps them.
func nameFault(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxNameLen:
		return fmt.Sprintf("is %d bytes long", len(s))
	case s[0] == '.':
		return "starts with '.'"
	}
	for i := range len(s) {
		switch c := s[i]; {
		case nameChar(c):
		case ' ' <= c && c < 0x7f:
			return fmt.Sprintf("has %q at byte %d", c, i)
		default:
			return fmt.Sprintf("has byte 0x%02x at %d", c, i)
		}
	}
	return ""
}

func nameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '~'
}
