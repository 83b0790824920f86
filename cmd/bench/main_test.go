package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/cmd/bench/internal/baseline"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFlags(t *testing.T) {
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"--help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	for _, flagName := range []string{"--publish", "--file", "--url", "--viewers", "--ramp", "--duration", "--pid", "--json",
		"--vod", "--readers", "--range-size", "--order", "--verify"} {
		if !strings.Contains(stderr.String(), flagName[1:]) {
			t.Errorf("no %s in the usage:\n%s", flagName, stderr.String())
		}
	}
	if err := run(context.Background(), []string{"--viewers", "2", "extra"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("extra argument: %v", err)
	}
	if err := run(context.Background(), nil, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "nothing to do") {
		t.Errorf("no URL: %v", err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--vod", "http://127.0.0.1:1/a.flv", "--viewers", "5"}, "--viewers is for live streams"},
		{[]string{"--vod", "http://127.0.0.1:1/a.flv", "--url", "http://127.0.0.1:1/live/a.flv"}, "--url is for live streams"},
		{[]string{"--vod", "http://127.0.0.1:1/a.flv", "--range-size", "lots"}, "--range-size"},
		{[]string{"--vod", "http://127.0.0.1:1/a.flv", "--order", "backwards"}, "random or sequential"},
		{[]string{"--url", "http://127.0.0.1:1/live/a.flv", "--readers", "5"}, "--readers needs --vod"},
		{[]string{"--url", "http://127.0.0.1:1/live/a.flv", "--verify", "a.flv"}, "--verify needs --vod"},
	} {
		if err := run(context.Background(), tc.args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.err)
		}
	}
}

// A VOD run reads the file in ranges and writes its table and its JSON.
func TestVODWritesJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "film.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "film.bin", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()

	jsonPath := filepath.Join(dir, "out.json")
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"--vod", srv.URL + "/vod/film.bin", "--readers", "3", "--range-size", "64KiB",
		"--order", "sequential", "--verify", file, "--ramp", "0s", "--duration", "700ms", "--json", jsonPath}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "3, sequential ranges of 64.0 KiB") {
		t.Errorf("table:\n%s", stdout.String())
	}
	out, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		FileSize  int64 `json:"file_size"`
		RangeSize int64 `json:"range_size"`
		Requests  int64
		Errors    int64
		Delivered struct{ Bytes int64 }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FileSize != int64(len(data)) || rep.RangeSize != 64<<10 || rep.Requests == 0 || rep.Errors != 0 || rep.Delivered.Bytes == 0 {
		t.Errorf("%s", out)
	}
}

// A publish-only run writes its table and its JSON.
func TestPublishOnlyWritesJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &baseline.Server{}
	ingest := &rtmp.Server{Handler: srv, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ingest.Serve(ln)
	}()
	defer func() {
		ingest.Close()
		srv.Close()
		<-done
	}()

	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.flv")
	f, err := os.Create(clip)
	if err != nil {
		t.Fatal(err)
	}
	w := flv.NewWriter(f)
	w.WriteHeader(false, true)
	for ts := uint32(0); ts < 1000; ts += 40 {
		w.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: []byte{0x17, 1, 0, 0, 0, 0x65}})
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	jsonPath := filepath.Join(dir, "out.json")
	var stdout, stderr strings.Builder
	err = run(context.Background(), []string{"--publish", "rtmp://" + ln.Addr().String() + "/live/j", "--file", clip,
		"--ramp", "0s", "--duration", "700ms", "--json", jsonPath}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "published for  ") {
		t.Errorf("table:\n%s", stdout.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Publisher struct{ Tags int }
		Measured  float64 `json:"measured_seconds"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Publisher.Tags < 10 || rep.Measured < 0.7 || rep.Measured > float64(time.Minute) {
		t.Errorf("%s", data)
	}
}
