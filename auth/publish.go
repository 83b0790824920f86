package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"

	"github.com/flvedge/flvedge/ratelog"
)

// KeyParam is the query parameter of the stream name (or of the app) that
// carries a static publish key: rtmp://host/live/cam1?key=SECRET, or in OBS
// the stream key "cam1?key=SECRET".
const KeyParam = "key"

// PublishRule says who may publish to an app. The publisher must pass IP,
// if given, and then any one of the methods given: a static key, a signed
// key, or the callback. A rule without methods lets anyone (IP permitting)
// publish.
type PublishRule struct {
	// App is the RTMP app the rule is for; "*" is every app without a rule
	// of its own. Apps without a rule are open.
	App string
	// Keys are accepted for every stream of the app.
	Keys []string
	// StreamKeys are accepted for one stream only, by stream name, so that
	// one broadcaster's key cannot take over another's stream.
	StreamKeys map[string][]string
	// Token accepts a signed key for the path "/{app}/{stream}", or
	// "/{app}/" for every stream of the app, in the stream name's query:
	// "cam1?expires=UNIXTIME&md5=TOKEN".
	Token *TokenRule
	// Callback asks the operator's service.
	Callback *Callback
	// IP restricts where publishers connect from.
	IP *IPRule
}

// PublishRequest is what a publisher asks for.
type PublishRequest struct {
	App, Stream string
	Query       url.Values // the stream name's query and the app's
	Client      netip.Addr
}

type publishRule struct {
	keys       [][sha256.Size]byte
	streamKeys map[string][][sha256.Size]byte
	token      *TokenRule
	callback   *Callback
	ip         *IPRule
}

func (r *publishRule) hasKeys() bool { return len(r.keys)+len(r.streamKeys) > 0 }

func compilePublish(in []PublishRule) (map[string]*publishRule, error) {
	out := make(map[string]*publishRule, len(in))
	for _, r := range in {
		c, err := r.compile()
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		if out[r.App] != nil {
			return nil, fmt.Errorf("auth: publish rule for app %q given twice", r.App)
		}
		out[r.App] = c
	}
	return out, nil
}

func (r PublishRule) compile() (*publishRule, error) {
	if r.App == "" {
		return nil, errors.New(`publish rule without an app (use "*" for every app)`)
	}
	c, err := compilePublishRule(r)
	if err != nil {
		return nil, fmt.Errorf("publish rule for app %q: %w", r.App, err)
	}
	return c, nil
}

func compilePublishRule(r PublishRule) (*publishRule, error) {
	c := &publishRule{streamKeys: make(map[string][][sha256.Size]byte)}
	var err error
	if c.keys, err = hashKeys(r.Keys); err != nil {
		return nil, err
	}
	for stream, keys := range r.StreamKeys {
		if stream == "" {
			return nil, errors.New("stream key for an empty stream name")
		}
		if c.streamKeys[stream], err = hashKeys(keys); err != nil {
			return nil, err
		}
	}
	if r.Token != nil {
		if c.token, err = checkToken(r.Token); err != nil {
			return nil, err
		}
	}
	if r.Callback != nil {
		if err := checkCallback(r.Callback); err != nil {
			return nil, err
		}
		cb := *r.Callback
		c.callback = &cb
	}
	if r.IP != nil {
		if c.ip, err = checkIPRule(r.IP); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// hashKeys keeps keys as digests: compared in constant time, digests of
// equal length say nothing about a key's length.
func hashKeys(keys []string) ([][sha256.Size]byte, error) {
	if slices.Contains(keys, "") {
		return nil, errors.New("empty publish key")
	}
	out := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		out[i] = sha256.Sum256([]byte(k))
	}
	return out, nil
}

// AuthorizePublish decides a publish request: an error carries the Reason
// and what failed, for the log; the publisher should learn no more than
// that it was refused. Without an error it returns who the publisher proved
// to be (see PublishIdentity). It blocks while a callback is asked, at most
// for the callback's timeout or until ctx ends.
func (g *Guard) AuthorizePublish(ctx context.Context, req PublishRequest) (PublishIdentity, error) {
	id, err := g.authorizePublish(ctx, req)
	if err != nil {
		g.publishRefused.add(ReasonOf(err))
	}
	return id, err
}

// PublishIdentity tells a publisher from another one, so that only the one
// that left a stream may resume it within its grace period: a digest of
// the credential it passed with (the key, the signed token, or the query
// the callback approved), or, on an app that asks for none, its address.
// Holders of the same key are the same identity: the operator gave it to
// one encoder.
type PublishIdentity string

// identity digests a credential: the identity is kept with the stream and
// must not carry the secret itself.
func identity(method, credential string) PublishIdentity {
	sum := sha256.Sum256([]byte(credential))
	return PublishIdentity(method + ":" + hex.EncodeToString(sum[:16]))
}

func (g *Guard) authorizePublish(ctx context.Context, req PublishRequest) (PublishIdentity, error) {
	p := g.policy.Load()
	rule := p.publish[req.App]
	if rule == nil {
		rule = p.publish["*"]
	}
	open := PublishIdentity("address:" + addrString(req.Client))
	if rule == nil {
		return open, nil
	}
	if rule.ip != nil {
		if err := rule.ip.check(req.Client); err != nil {
			return "", err
		}
	}
	var keyErr, tokenErr, callbackErr error
	if rule.hasKeys() {
		if keyErr = rule.checkKey(req); keyErr == nil {
			return identity("key", req.Query.Get(KeyParam)), nil
		}
	}
	sentToken := false
	if rule.token.Required() {
		token, expires := tokenFromQuery(rule.token, req.Query)
		sentToken = token != "" || expires != ""
		if tokenErr = rule.token.Verify(token, expires, "/"+req.App+"/"+req.Stream, req.Client, g.now()); tokenErr == nil {
			return identity("token", token+"&"+expires), nil
		}
	}
	if rule.callback != nil {
		query := req.Query.Encode()
		callbackErr = ask(ctx, g.http, rule.callback, CallbackRequest{
			Action: "publish", App: req.App, Stream: req.Stream,
			Client: addrString(req.Client), Query: query,
		})
		if callbackErr == nil {
			return identity("callback", query), nil
		}
	}
	// The reason counted is that of the method the publisher meant: the
	// callback has the last word; otherwise a publisher who sent a token
	// failed the token, anyone else the keys.
	var first error
	var others []error
	switch {
	case callbackErr != nil:
		first, others = callbackErr, []error{keyErr, tokenErr}
	case tokenErr != nil && (keyErr == nil || sentToken):
		first, others = tokenErr, []error{keyErr}
	case keyErr != nil:
		first, others = keyErr, []error{tokenErr}
	default:
		return open, nil // no method: open, IP permitting
	}
	err := first
	for _, other := range others {
		if other != nil {
			err = fmt.Errorf("%w; %v", err, other)
		}
	}
	return "", err
}

func (r *publishRule) checkKey(req PublishRequest) error {
	given := req.Query.Get(KeyParam)
	if given == "" {
		return fmt.Errorf("%w: no ?%s=", KeyInvalid, KeyParam)
	}
	sum := sha256.Sum256([]byte(given))
	match := 0
	for _, k := range r.keys {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	for _, k := range r.streamKeys[req.Stream] {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	if match == 0 {
		return fmt.Errorf("%w: for %s/%s", KeyInvalid, req.App, ratelog.Clip(req.Stream))
	}
	return nil
}
