package vodcache

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", "s-maxage=10, max-age=60", "no-store", "private, max-age=5",
		"no-cache", `max-age="30"`, "max-age=99999999999999999999", "max-age=-1", ",,=,", "public, immutable"} {
		f.Add(s, "")
	}
	f.Add("", "Thu, 01 Dec 2094 16:00:00 GMT")
	f.Add("", "0")
	f.Fuzz(func(t *testing.T, cc, expires string) {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if expires != "" {
			h.Set("Expires", expires)
		}
		life, _ := lifetime(h, time.Now(), time.Hour)
		if life < 0 || life > maxLifetime {
			t.Fatalf("lifetime %v of %q, %q", life, cc, expires)
		}
	})
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-1023/2048", "bytes 1024-2047/2048", "bytes */2048", "bytes 5-4/10",
		"bytes 0-9/5", "bytes -1-3/4", "bytes 0-0/1", "bytes 0-99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, size, err := parseContentRange(s)
		if err == nil && (first < 0 || last < first || size <= last) {
			t.Fatalf("%q: %d-%d/%d accepted", s, first, last, size)
		}
	})
}

func FuzzMeta(f *testing.F) {
	f.Add([]byte(`{"v":1,"key":"/vod/a.flv","size":100,"slice":65536,"have":"AQ==","expires":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"v":1,"key":"/vod/a.flv","size":-1}`))
	f.Add([]byte(`{"v":1,"key":"/vod/a.flv","size":4398046511104,"slice":65536,"have":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readMeta(bytes.NewReader(b))
		if err != nil {
			return
		}
		if int64(len(m.Have))*8 < sliceCount(m.Size, m.Slice) || m.Slice < minSlice {
			t.Fatalf("accepted %+v", m)
		}
		e := &entry{size: m.Size, slice: m.Slice, have: m.Have}
		for i := range sliceCount(e.size, e.slice) {
			e.has(i)
		}
	})
}
