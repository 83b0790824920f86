package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flvedge/flvedge/ratelog"
)

// Scheme is how a token is computed from the signed string.
type Scheme uint8

const (
	// MD5 is the convention of CDNs and nginx secure_link: the token is
	// base64url, unpadded, of MD5("{expires}{path}{client} {secret}"), sent
	// as ?md5=TOKEN&expires=UNIXTIME. It is the zero Scheme, so that
	// existing signing code works unchanged.
	MD5 Scheme = iota
	// HMACSHA256 is base64url, unpadded, of HMAC-SHA256 keyed with the
	// secret over "{expires}{path}{client}", sent as ?hmac=TOKEN&expires=.
	// Unlike MD5 with the secret appended, it is a real MAC: the choice for
	// deployments that do not have to match existing signers.
	HMACSHA256
)

// ParseScheme reads "md5" or "hmac-sha256".
func ParseScheme(s string) (Scheme, error) {
	switch s {
	case "md5":
		return MD5, nil
	case "hmac-sha256":
		return HMACSHA256, nil
	}
	return 0, fmt.Errorf("token scheme %q is neither md5 nor hmac-sha256", s)
}

func (s Scheme) String() string {
	if s == HMACSHA256 {
		return "hmac-sha256"
	}
	return "md5"
}

// Param is the query parameter that carries the token.
func (s Scheme) Param() string {
	if s == HMACSHA256 {
		return "hmac"
	}
	return "md5"
}

// ExpiresParam is the query parameter that carries a token's expiry, in
// Unix seconds.
const ExpiresParam = "expires"

// encodedLen is the length of a token in unpadded base64url.
func (s Scheme) encodedLen() int {
	if s == HMACSHA256 {
		return base64.RawURLEncoding.EncodedLen(sha256.Size)
	}
	return base64.RawURLEncoding.EncodedLen(md5.Size)
}

// sum computes the token bytes of one signed string.
func (s Scheme) sum(secret, expires, path, client string) []byte {
	if s == HMACSHA256 {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(expires))
		m.Write([]byte(path))
		m.Write([]byte(client))
		return m.Sum(nil)
	}
	h := md5.New()
	h.Write([]byte(expires))
	h.Write([]byte(path))
	h.Write([]byte(client))
	h.Write([]byte{' '})
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// decode reads a token as the client sent it. Padding is tolerated because
// some signers keep it; unused low bits in the last character are not, so
// that one token has one spelling.
func (s Scheme) decode(token string) ([]byte, bool) {
	token = strings.TrimSuffix(strings.TrimSuffix(token, "="), "=")
	if len(token) != s.encodedLen() {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return b, err == nil
}

// Binding ties a token to the client's address, or to its network for
// clients whose address changes during a session (mobile carriers).
type Binding uint8

const (
	BindNone  Binding = iota // any client
	BindExact                // the client's address, as nginx's $remote_addr
	Bind24                   // the client's IPv4 /24, or IPv6 /64
	Bind16                   // the client's IPv4 /16, or IPv6 /48
)

// ParseBinding reads "none" (or ""), "exact", "/24" or "/16".
func ParseBinding(s string) (Binding, error) {
	switch s {
	case "", "none":
		return BindNone, nil
	case "exact":
		return BindExact, nil
	case "/24", "24":
		return Bind24, nil
	case "/16", "16":
		return Bind16, nil
	}
	return 0, fmt.Errorf("IP binding %q is none of none, exact, /24 and /16", s)
}

func (b Binding) String() string {
	switch b {
	case BindExact:
		return "exact"
	case Bind24:
		return "/24"
	case Bind16:
		return "/16"
	}
	return "none"
}

// clientString is what the signed string holds for a client: nothing, its
// address ("203.0.113.7"), or its network in CIDR form ("203.0.113.0/24",
// "2001:db8:1:2::/64"). ok is false when a binding needs an address that is
// not known.
func (b Binding) clientString(a netip.Addr) (s string, ok bool) {
	if b == BindNone {
		return "", true
	}
	if !a.IsValid() {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if b == BindExact {
		return a.String(), true
	}
	v4, v6 := 24, 64
	if b == Bind16 {
		v4, v6 = 16, 48
	}
	n := v6
	if a.Is4() {
		n = v4
	}
	p, err := a.Prefix(n)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

// TokenRule is how the tokens of a path are signed and checked. A rule
// without secrets requires no token.
type TokenRule struct {
	Scheme Scheme
	// Secrets are all accepted, so that a new secret can be rolled out
	// before the old one is retired; the first one signs.
	Secrets []string
	Bind    Binding
}

// Required reports whether the rule asks for a token at all.
func (t *TokenRule) Required() bool { return t != nil && len(t.Secrets) > 0 }

var errNoSecret = errors.New("auth: no secret to sign with")

// Signed is a token for a path, ready to be put into a URL.
type Signed struct {
	Scheme  Scheme
	Path    string // as signed: a file, or a folder ending in "/"
	Token   string
	Expires string
}

// Query is the token's query string, "md5=TOKEN&expires=UNIXTIME".
func (s Signed) Query() string {
	return s.Scheme.Param() + "=" + s.Token + "&" + ExpiresParam + "=" + s.Expires
}

// URL is the signed path with the token in its query.
func (s Signed) URL() string { return escapePath(s.Path) + "?" + s.Query() }

// InPath is the signed path with the token in front of it:
// "/TOKEN/UNIXTIME/live/x.flv".
func (s Signed) InPath() string { return "/" + s.Token + "/" + s.Expires + escapePath(s.Path) }

func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// Sign makes a token for path (a file, or a folder ending in "/" that
// covers the files directly in it, and for a Smooth Streaming presentation
// "name.ism/" its fragments too), valid until expires, for client when the
// rule binds tokens to clients.
func (t *TokenRule) Sign(path string, expires time.Time, client netip.Addr) (Signed, error) {
	if len(t.Secrets) == 0 {
		return Signed{}, errNoSecret
	}
	if !strings.HasPrefix(path, "/") {
		return Signed{}, fmt.Errorf("auth: sign %q: the path must start with /", path)
	}
	if expires.Unix() <= 0 {
		return Signed{}, fmt.Errorf("auth: sign %s: expiry %v is before 1970", path, expires)
	}
	bound, ok := t.Bind.clientString(client)
	if !ok {
		return Signed{}, fmt.Errorf("auth: sign %s: IP binding %s needs the client's address", path, t.Bind)
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	sum := t.Scheme.sum(t.Secrets[0], exp, path, bound)
	return Signed{Scheme: t.Scheme, Path: path, Token: base64.RawURLEncoding.EncodeToString(sum), Expires: exp}, nil
}

// Verify checks a token and expiry, as the client sent them, for path. A
// token signed for path's folder ("/live/" for "/live/x.flv") is valid too,
// and one for a presentation's folder for its fragments (see
// presentationFolder).
// The result is nil or an error carrying TokenMissing, TokenMalformed,
// TokenInvalid or TokenExpired. Expiry is only told when the signature is
// right, so that a forged expiry cannot be told from a forged token.
func (t *TokenRule) Verify(token, expires, path string, client netip.Addr, now time.Time) error {
	if token == "" && expires == "" {
		return TokenMissing
	}
	exp, ok := parseExpires(expires)
	if !ok {
		return fmt.Errorf("%w: expires %q", TokenMalformed, ratelog.Clip(expires))
	}
	got, ok := t.Scheme.decode(token)
	if !ok {
		return fmt.Errorf("%w: %q is no %s token", TokenMalformed, ratelog.Clip(token), t.Scheme)
	}
	bound, ok := t.Bind.clientString(client)
	if !ok {
		return fmt.Errorf("%w: client address unknown, needed by IP binding %s", TokenInvalid, t.Bind)
	}
	folder := path[:strings.LastIndexByte(path, '/')+1]
	presentation := presentationFolder(path)
	match := 0
	// Every secret and every path is tried, whatever matches, so that the
	// time taken says nothing about which one did.
	for _, secret := range t.Secrets {
		match |= subtle.ConstantTimeCompare(got, t.Scheme.sum(secret, expires, path, bound))
		if folder != path && folder != "" {
			match |= subtle.ConstantTimeCompare(got, t.Scheme.sum(secret, expires, folder, bound))
		}
		if presentation != "" {
			match |= subtle.ConstantTimeCompare(got, t.Scheme.sum(secret, expires, presentation, bound))
		}
	}
	if match == 0 {
		return fmt.Errorf("%w: for %s, binding %s %q", TokenInvalid, ratelog.Clip(path), t.Bind, bound)
	}
	if now.Unix() > exp {
		return fmt.Errorf("%w: at %d, %v ago", TokenExpired, exp, now.Sub(time.Unix(exp, 0)).Round(time.Second))
	}
	return nil
}

// presentationFolder returns the folder of the Smooth Streaming
// presentation that holds a fragment's path: "/vod/film.ism/" for
// "/vod/film.ism/QualityLevels(500000)/Fragments(video=0)". A fragment is a
// level below the manifest, where the manifest's relative URLs put it, and
// a token for the folder stands for the whole presentation. Paths of other
// shapes have none: "".
func presentationFolder(path string) string {
	dir := path[:max(strings.LastIndexByte(path, '/'), 0)]
	i := strings.LastIndexByte(dir, '/')
	if i < 0 || !strings.HasPrefix(dir[i+1:], "QualityLevels(") || !strings.HasSuffix(dir[:i], ".ism") {
		return ""
	}
	return dir[:i+1]
}

// parseExpires reads Unix seconds: decimal digits only, no sign or spaces,
// because the digits are signed as they are written.
func parseExpires(s string) (int64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitPathToken splits the in-path form "/TOKEN/EXPIRES/rest..." into its
// parts. ok is false for paths that cannot be that form; the caller still
// decides whether the path's rule takes in-path tokens of that length.
func splitPathToken(path string) (token, expires, rest string, ok bool) {
	after, found := strings.CutPrefix(path, "/")
	if !found {
		return "", "", "", false
	}
	token, after, found = strings.Cut(after, "/")
	if !found || !isTokenShaped(token) {
		return "", "", "", false
	}
	expires, rest, found = strings.Cut(after, "/")
	if !found || !isDigits(expires) || rest == "" {
		return "", "", "", false
	}
	return token, expires, "/" + rest, true
}

func isTokenShaped(s string) bool {
	if len(s) != MD5.encodedLen() && len(s) != HMACSHA256.encodedLen() {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
