package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// keyError is a value that cannot work and the key that holds it, such as
// vod.roots[0].prefix. The checks return it with the message of the
// package the value is for; Load adds the line of the key in the file, or
// the flag that set it.
type keyError struct {
	path []any // map keys (string) and list indexes (int), from the top
	err  error
}

func (e *keyError) Error() string { return e.key() + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// key spells the path as the file nests it: vod.roots[0].prefix, and
// upstream.app_origins."a/b" for a map key that is not a plain name.
func (e *keyError) key() string {
	var b strings.Builder
	for i, p := range e.path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			if plainKey(p) {
				b.WriteString(p)
			} else {
				b.WriteString(strconv.Quote(p))
			}
		}
	}
	return b.String()
}

func plainKey(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// at puts err, if any, at the key path.
func at(err error, path ...any) error {
	if err == nil {
		return nil
	}
	return &keyError{path: path, err: err}
}

// within reports whether the key path lies under the dotted key, such as
// vod.origins[1].urls under vod.origins.
func (e *keyError) within(key string) bool {
	k := e.key()
	return k == key || strings.HasPrefix(k, key) && strings.ContainsRune(".[", rune(k[len(key)]))
}

// line is the line of the key path in the document, or of the deepest
// part of it that the file gives (a value from the defaults or a flag
// has none of its own); 0 when the file gives none of it. whole says
// whether the document has the whole path.
func line(doc *yaml.Node, path []any) (n int, whole bool) {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return 0, false
	}
	node, found := doc.Content[0], 0
	for _, p := range path {
		var key, next *yaml.Node // the key's line, and where the path goes on
		switch p := p.(type) {
		case string:
			if node.Kind != yaml.MappingNode {
				return found, false
			}
			for i := 0; i+1 < len(node.Content); i += 2 {
				if node.Content[i].Value == p {
					key, next = node.Content[i], node.Content[i+1]
				}
			}
		case int:
			if node.Kind == yaml.SequenceNode && p < len(node.Content) {
				key, next = node.Content[p], node.Content[p]
			}
		}
		if next == nil {
			return found, false
		}
		node, found = next, key.Line
	}
	return found, true
}

// hasKey reports whether the document has the dotted key, such as
// vod.cache.size.
func hasKey(doc *yaml.Node, key string) bool {
	var path []any
	for _, k := range strings.Split(key, ".") {
		path = append(path, k)
	}
	_, whole := line(doc, path)
	return whole
}

// An Override is a command-line flag that replaces a key of the file, at
// start and at every reload.
type Override struct {
	Flag string // its name, such as vod-cache-size
	Key  string // the key it replaces, such as vod.cache.size
	Set  func(*Config) error
}

// Apply sets the flag's value in c; an error names the flag.
func (o Override) Apply(c *Config) error {
	if err := o.Set(c); err != nil {
		return fmt.Errorf("--%s: %w", o.Flag, err)
	}
	return nil
}

// explain says where a bad value of Check came from: the last flag that
// set its key, else its line in the file.
func explain(err error, path string, doc *yaml.Node, overrides []Override) error {
	var ke *keyError
	if errors.As(err, &ke) {
		for i := len(overrides) - 1; i >= 0; i-- {
			if ke.within(overrides[i].Key) {
				return fmt.Errorf("--%s: %w", overrides[i].Flag, err)
			}
		}
		if n, _ := line(doc, ke.path); n > 0 {
			err = fmt.Errorf("line %d: %w", n, err)
		}
	}
	if path == "" {
		return fmt.Errorf("config: %w", err)
	}
	return fmt.Errorf("config %s: %w", path, err)
}
