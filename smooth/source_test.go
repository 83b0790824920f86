package smooth

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/vod"
	"github.com/flvedge/flvedge/vodcache"
)

// TestSourceServesAsLocal: a presentation is the same from a source (an
// origin of static files through the slice cache, as on an edge) as from a
// local root: its manifest and fragments, byte for byte, with the cache's
// X-Cache-Status. An origin's folders cannot be listed, so there a
// presentation is one file.
func TestSourceServesAsLocal(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, ssSingle, filepath.Join(dir, "end.mp4"))
	local := newServer(t, vod.Root{Dir: dir})
	origin := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(origin.Close)
	cache, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 64 << 20, SliceSize: 64 << 10,
		Origins: []vodcache.Origin{{Prefix: "/vod", URLs: []string{origin.URL + "/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Close)
	src := newServer(t, vod.Root{Source: vod.SourceOf(cache.Open)})

	m := getManifest(t, local, "/vod/end.ism/Manifest")
	video, audio := m.starts(t, 0), m.starts(t, 1)
	for _, path := range []string{
		"/vod/end.ism/Manifest",
		fmt.Sprintf("/vod/end.ism/QualityLevels(%d)/Fragments(video=%d)", m.Streams[0].Levels[0].Bitrate, video[1]),
		fmt.Sprintf("/vod/end.ism/QualityLevels(%d)/Fragments(audio=%d)", m.Streams[1].Levels[0].Bitrate, audio[2]),
	} {
		resp, got := src.get(t, path)
		wantResp, want := local.get(t, path)
		if resp.StatusCode != 200 || wantResp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("%s: %d, %d bytes through the source; %d, %d bytes locally", path, resp.StatusCode, len(got), wantResp.StatusCode, len(want))
		}
		if resp.Header.Get(vod.CacheStatusHeader) == "" || wantResp.Header.Get(vod.CacheStatusHeader) != "BYPASS" {
			t.Errorf("%s: X-Cache-Status %q, locally %q", path, resp.Header.Get(vod.CacheStatusHeader), wantResp.Header.Get(vod.CacheStatusHeader))
		}
	}
}
