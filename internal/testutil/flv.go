package testutil

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// ReadFLVFile returns every tag of an FLV file, which must be whole.
func ReadFLVFile(t testing.TB, path string) []flv.Tag {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := flv.NewReader(bytes.NewReader(data))
	if _, err := r.ReadHeader(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var tags []flv.Tag
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			return tags
		}
		if err != nil {
			t.Fatalf("%s: tag %d: %v", path, len(tags), err)
		}
		tags = append(tags, tag)
	}
}
