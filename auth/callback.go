package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Callback asks the operator's service whether a client may publish or
// play: a POST of a JSON object (see CallbackRequest) to URL. A 2xx answer
// allows; any other status, a redirect, a network error or no answer within
// Timeout refuses.
type Callback struct {
	URL     string
	Timeout time.Duration // 0: 3 s
}

const defaultCallbackTimeout = 3 * time.Second

// CallbackRequest is the body a Callback posts.
type CallbackRequest struct {
	Action    string `json:"action"`           // "publish" or "play"
	App       string `json:"app,omitempty"`    // publish: the RTMP app, e.g. "live"
	Stream    string `json:"stream,omitempty"` // publish: the stream name without its query
	Path      string `json:"path,omitempty"`   // play: the URL path, without an in-path token
	Client    string `json:"client"`           // the client's IP address, "" when unknown
	Query     string `json:"query"`            // the query string the client sent, encoded
	Referer   string `json:"referer,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

func checkCallback(cb *Callback) error {
	u, err := url.Parse(cb.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("callback URL %q is no http:// or https:// URL", cb.URL)
	}
	if cb.Timeout < 0 {
		return fmt.Errorf("callback %s: negative timeout %v", cb.URL, cb.Timeout)
	}
	return nil
}

// newCallbackClient returns the client all callbacks of a Guard share. It
// does not follow redirects: a redirect is not a yes.
func newCallbackClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ask posts body to cb and reports the verdict: nil, or an error carrying
// CallbackDenied or CallbackFailed.
func ask(ctx context.Context, client *http.Client, cb *Callback, body CallbackRequest) error {
	timeout := cb.Timeout
	if timeout <= 0 {
		timeout = defaultCallbackTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", CallbackFailed, body.Action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %w", CallbackFailed, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", CallbackFailed, err)
	}
	// Reading a little lets the connection be reused; the body means
	// nothing.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s answered %s", CallbackDenied, cb.URL, resp.Status)
	}
	return nil
}
