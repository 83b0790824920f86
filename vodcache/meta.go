package vodcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// meta is the small file kept beside each cached object's data file: what
// it is, its origin validators, when it expires, and which slices of it
// are present. The data file is written before the meta file that says a
// slice is there, so that a crash loses slices, never mixes garbage in.
type meta struct {
	Version  int       `json:"v"`
	Key      string    `json:"key"`   // the URL path
	Size     int64     `json:"size"`  // the object's size
	Slice    int64     `json:"slice"` // slice size it was stored with
	ETag     string    `json:"etag,omitempty"`
	LastMod  string    `json:"last_modified,omitempty"`
	Expires  time.Time `json:"expires"`
	Have     []byte    `json:"have"` // bitmap of present slices
	Accessed time.Time `json:"accessed"`
}

const (
	metaVersion = 1
	// maxMetaSize bounds a meta file read at start: a bitmap of 1 MiB
	// slices of a 4 TiB object is 512 KiB, base64 a third more.
	maxMetaSize = 1 << 20
	maxKeyLen   = 4096
	maxObject   = 1 << 42 // 4 TiB
)

var errMeta = errors.New("bad meta file")

// readMeta reads and checks a meta file's bytes.
func readMeta(r io.Reader) (*meta, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMetaSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetaSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errMeta, maxMetaSize)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errMeta, err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *meta) check() error {
	switch {
	case m.Version != metaVersion:
		return fmt.Errorf("%w: version %d", errMeta, m.Version)
	case m.Key == "" || len(m.Key) > maxKeyLen || m.Key[0] != '/' || strings.ContainsAny(m.Key, "\x00\\"):
		return fmt.Errorf("%w: key", errMeta)
	case m.Size < 0 || m.Size > maxObject:
		return fmt.Errorf("%w: size %d", errMeta, m.Size)
	case m.Slice < minSlice || m.Slice > maxSlice:
		return fmt.Errorf("%w: slice size %d", errMeta, m.Slice)
	case int64(len(m.Have)) != (sliceCount(m.Size, m.Slice)+7)/8:
		return fmt.Errorf("%w: bitmap of %d bytes for %d slices", errMeta, len(m.Have), sliceCount(m.Size, m.Slice))
	case len(m.ETag) > maxHeaderLen || len(m.LastMod) > maxHeaderLen:
		return fmt.Errorf("%w: validators", errMeta)
	}
	return nil
}

// sliceCount is the number of slices of an object of size bytes.
func sliceCount(size, slice int64) int64 { return (size + slice - 1) / slice }

// writeMeta replaces the meta file at path: a temporary file renamed over
// it, so that a reader never sees half of one.
func writeMeta(path string, m *meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
