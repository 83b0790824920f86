package vod

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// rawGet sends a request line as written, without the client cleaning or
// escaping the path, and returns the status and body.
func rawGet(t *testing.T, s *vodServer, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", s.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPathsThatLeaveTheRoot: traversal, plain or encoded, is refused
// before any file is opened; hidden names, other extensions, directories
// and symbolic links out of the root are not found.
func TestPathsThatLeaveTheRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for _, d := range []string{root, filepath.Join(root, "sub"), filepath.Join(root, "dir.flv"), filepath.Join(root, ".git")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	flvBytes := readFile(t, fixture(t, fixAV))
	writeFile(t, filepath.Join(base, "secret.flv"), flvBytes)
	writeFile(t, filepath.Join(root, "sub", "ok.flv"), flvBytes)
	writeFile(t, filepath.Join(root, ".hidden.flv"), flvBytes)
	writeFile(t, filepath.Join(root, ".git", "x.flv"), flvBytes)
	writeFile(t, filepath.Join(root, "notes.txt"), []byte("text"))
	if err := os.Symlink(filepath.Join(base, "secret.flv"), filepath.Join(root, "out.flv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("sub", "ok.flv"), filepath.Join(root, "in.flv")); err != nil {
		t.Fatal(err)
	}
	s := serveDir(t, root, Config{})
	for _, c := range []struct {
		target string
		status int
	}{
		{"/vod/sub/ok.flv", 200},
		{"/vod/in.flv", 200}, // a relative link that stays inside
		{"/vod/../secret.flv", 400},
		{"/vod/sub/../../secret.flv", 400},
		{"/vod/%2e%2e/secret.flv", 400},
		{"/vod/%2E%2E%2Fsecret.flv", 400},
		{"/vod/sub/..%2f..%2fsecret.flv", 400},
		{"/vod/..%5csecret.flv", 400},
		{"/vod/sub%5c..%5c..%5csecret.flv", 400},
		{"/vod/./sub/ok.flv", 400},
		{"/vod//sub/ok.flv", 400},
		{"/vod/sub/ok.flv%00.flv", 400},
		{"/vod/%252e%252e/secret.flv", 404}, // a file named %2e%2e, which is not there
		{"/vod/out.flv", 404},               // a link out of the root
		{"/vod/.hidden.flv", 404},
		{"/vod/.git/x.flv", 404},
		{"/vod/notes.txt", 404},
		{"/vod/dir.flv", 404},
		{"/vod/", 404},
		{"/vod", 404},
		{"/other/sub/ok.flv", 404},
		{"/vodsub/ok.flv", 404},
	} {
		status, body := rawGet(t, s, c.target)
		if status != c.status {
			t.Errorf("%s: %d %q, want %d", c.target, status, body, c.status)
		}
		if status != 200 && strings.Contains(body, "FLV") {
			t.Errorf("%s: body %q", c.target, body)
		}
	}
	// Following links out of the root is for operators to allow.
	s2 := serveDir(t, root, Config{Roots: []Root{{Prefix: "/linked", Dir: root, FollowSymlinks: true}}})
	if status, _ := rawGet(t, s2, "/linked/out.flv"); status != 200 {
		t.Fatalf("link out of a root that follows links: %d", status)
	}
	if status, _ := rawGet(t, s2, "/linked/../secret.flv"); status != 400 {
		t.Fatalf("traversal in a root that follows links: %d", status)
	}
}

// TestTruncatedFile: a file cut inside a tag is served without the cut
// tag, with an index of what is there, and plays.
func TestTruncatedFile(t *testing.T) {
	b := readFile(t, fixture(t, fixAV))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cut.flv"), b[:len(b)*2/3+17])
	writeFile(t, filepath.Join(dir, "header-only.flv"), b[:13])
	writeFile(t, filepath.Join(dir, "half-header.flv"), b[:5])
	s := serveDir(t, dir, Config{})

	resp, body := s.get(t, "/vod/cut.flv")
	if resp.StatusCode != 200 {
		t.Fatalf("cut: %d", resp.StatusCode)
	}
	tags := checkPlayable(t, body, true, true)
	pos, _ := checkIndex(t, body, tags)
	if len(pos) < 5 {
		t.Fatalf("index of %d entries", len(pos))
	}
	resp, body = s.get(t, fmt.Sprintf("/vod/cut.flv?start=%d", int64(pos[len(pos)-1])))
	if resp.StatusCode != 200 {
		t.Fatalf("cut, start at the last keyframe: %d", resp.StatusCode)
	}
	checkPlayable(t, body, true, true)

	resp, body = s.get(t, "/vod/header-only.flv")
	if _, tags := parseFLV(t, body); resp.StatusCode != 200 || len(tags) != 1 {
		t.Fatalf("header only: %d, %d tags", resp.StatusCode, len(tags))
	}
	for _, q := range []string{"?start=100", "?t=0"} {
		if resp, _ := s.get(t, "/vod/header-only.flv"+q); resp.StatusCode != 416 {
			t.Fatalf("header only %s: %d", q, resp.StatusCode)
		}
	}
	if resp, _ := s.get(t, "/vod/half-header.flv"); resp.StatusCode != 422 {
		t.Fatalf("half a header: %d", resp.StatusCode)
	}
}

// TestCorruptFile: garbage over the middle of a file is left out; the
// tags on both sides are served, and seeking after the damage plays.
func TestCorruptFile(t *testing.T) {
	b := bytes.Clone(readFile(t, fixture(t, fixAV)))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(b) / 2; i < len(b)/2+20000; i++ {
		b[i] = byte(rng.IntN(256))
	}
	// A second, smaller damage: one tag header's size made absurd.
	_, tags := parseFLV(t, readFile(t, fixture(t, fixAV)))
	victim := tags[len(tags)/4]
	b[victim.pos+1], b[victim.pos+2], b[victim.pos+3] = 0xff, 0xff, 0xff
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.flv"), b)
	writeFile(t, filepath.Join(dir, "noise.flv"), append([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), randomBytes(rng, 1<<20)...))
	writeFile(t, filepath.Join(dir, "text.flv"), []byte("this is not a video"))
	s := serveDir(t, dir, Config{})

	resp, body := s.get(t, "/vod/bad.flv")
	if resp.StatusCode != 200 {
		t.Fatalf("damaged: %d", resp.StatusCode)
	}
	got := checkStructure(t, body)
	if len(got) < len(tags)*3/4 || len(got) >= len(tags) {
		t.Fatalf("%d tags served of %d stored", len(got), len(tags))
	}
	pos, times := checkIndex(t, body, got)
	var after float64
	for i := range pos {
		if times[i] > 7 {
			after = pos[i]
			break
		}
	}
	resp, body = s.get(t, fmt.Sprintf("/vod/bad.flv?start=%d", int64(after)))
	if resp.StatusCode != 200 {
		t.Fatalf("start after the damage: %d", resp.StatusCode)
	}
	checkPlayable(t, body, true, true)
	resp, body = s.get(t, "/vod/bad.flv?t=8,9")
	if resp.StatusCode != 200 {
		t.Fatalf("clip after the damage: %d", resp.StatusCode)
	}
	checkPlayable(t, body, true, true)

	resp, body = s.get(t, "/vod/noise.flv")
	if resp.StatusCode != 200 || len(checkStructure(t, body)) != 1 {
		t.Fatalf("noise: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := s.get(t, "/vod/noise.flv?start=50"); resp.StatusCode != 416 {
		t.Fatalf("noise, start: %d", resp.StatusCode)
	}
	resp, body = s.get(t, "/vod/text.flv")
	if resp.StatusCode != 422 || !strings.Contains(string(body), "not a valid FLV") {
		t.Fatalf("text: %d %q", resp.StatusCode, body)
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// checkStructure parses a body and checks that every tag is consistent:
// what a served file must be even when what is stored is not.
func checkStructure(t *testing.T, body []byte) []tagAt {
	t.Helper()
	_, tags := parseFLV(t, body)
	for i := range tags {
		end := tags[i].pos + int64(flv.EncodedSize(tags[i].Tag))
		if got := int64(uint32(body[end-4])<<24 | uint32(body[end-3])<<16 | uint32(body[end-2])<<8 | uint32(body[end-1])); got != int64(len(tags[i].Data))+11 {
			t.Fatalf("tag %d: PreviousTagSize %d", i, got)
		}
	}
	return tags
}

// A bad request is logged with its path and query clipped: a client's long
// query must not make every line about it long.
func TestBadRequestLogClipped(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.flv"), []byte("not read"))
	var logs bytes.Buffer
	h, err := New(Config{Roots: []Root{{Prefix: "/vod", Dir: dir}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 10_000)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/vod/a.flv?start=1&t=1&pad="+long, nil))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", w.Code)
	}
	if !strings.Contains(logs.String(), "vod: bad request") || logs.Len() > 1000 {
		t.Fatalf("log of %d bytes:\n%.300s", logs.Len(), logs.String())
	}
}
