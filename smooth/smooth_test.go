package smooth

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/mp4"
)

// The manifest as this test reads it.
type testManifest struct {
	MajorVersion, TimeScale, Duration uint64 `xml:",attr"`
	Streams                           []struct {
		Type, Name string `xml:",attr"`
		URL        string `xml:"Url,attr"`
		Chunks     int    `xml:",attr"`
		Levels     []struct {
			Bitrate                                                    uint64 `xml:",attr"`
			FourCC, CodecPrivateData                                   string `xml:",attr"`
			MaxWidth, MaxHeight, SamplingRate, Channels, BitsPerSample int    `xml:",attr"`
			PacketSize, AudioTag                                       int    `xml:",attr"`
		} `xml:"QualityLevel"`
		C []struct {
			T *uint64 `xml:"t,attr"`
			D uint64  `xml:"d,attr"`
		} `xml:"c"`
	} `xml:"StreamIndex"`
}

// starts returns the start of each chunk of stream i, and the end.
func (m *testManifest) starts(t *testing.T, i int) []uint64 {
	t.Helper()
	var out []uint64
	var at uint64
	for k, c := range m.Streams[i].C {
		if c.T != nil {
			if k > 0 && *c.T != at {
				t.Fatalf("chunk %d: t=%d after chunks ending at %d", k, *c.T, at)
			}
			at = *c.T
		} else if k == 0 {
			t.Fatal("first chunk without t")
		}
		out = append(out, at)
		at += c.D
	}
	return append(out, at)
}

func getManifest(t *testing.T, s *server, path string) *testManifest {
	t.Helper()
	resp, body := s.get(t, path)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("manifest: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var m testManifest
	if err := xml.Unmarshal(body, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, body)
	}
	return &m
}

// TestSmoothManifest: the manifest of the two renditions has MajorVersion
// 2, a 10 MHz timescale, a video stream of both bitrates whose chunks start
// at the keyframes of the file (one per GOP, as probePackets reads them)
// and end with the video, and an audio stream whose chunks start with the
// first sound packet at or after each video chunk's start, with the codec
// data of the files.
func TestSmoothManifest(t *testing.T) {
	s := newSmoothServer(t)
	m := getManifest(t, s, "/vod/film.ism/Manifest")
	if m.MajorVersion != 2 || m.TimeScale != 1e7 || len(m.Streams) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	v, a := m.Streams[0], m.Streams[1]
	if v.Type != "video" || a.Type != "audio" || len(v.Levels) != 2 || len(a.Levels) != 1 {
		t.Fatalf("streams %+v", m.Streams)
	}
	if v.URL != "QualityLevels({bitrate})/Fragments(video={start time})" || v.Chunks != len(v.C) || a.Chunks != len(a.C) {
		t.Fatalf("video stream %q, %d chunks of %d", v.URL, v.Chunks, len(v.C))
	}
	hi, lo := v.Levels[0], v.Levels[1]
	if hi.FourCC != "AVC1" || hi.MaxWidth != 320 || hi.MaxHeight != 240 || lo.MaxWidth != 192 || lo.MaxHeight != 144 ||
		hi.Bitrate <= lo.Bitrate || lo.Bitrate < 10e3 || hi.Bitrate > 1e6 {
		t.Fatalf("video levels %+v", v.Levels)
	}
	for _, l := range v.Levels {
		// SPS (NAL type 7), then PPS (8), each with a start code.
		if !strings.HasPrefix(l.CodecPrivateData, "0000000167") || !strings.Contains(l.CodecPrivateData, "0000000168") {
			t.Fatalf("CodecPrivateData %s", l.CodecPrivateData)
		}
	}
	al := a.Levels[0]
	// AAC LC (object type 2), 44.1 kHz (index 4), one channel: 0x1208
	// (and ffmpeg's explicit signalling of no SBR).
	if al.FourCC != "AACL" || !strings.HasPrefix(al.CodecPrivateData, "1208") || al.SamplingRate != 44100 || al.Channels != 1 ||
		al.BitsPerSample != 16 || al.PacketSize != 2 || al.AudioTag != 255 {
		t.Fatalf("audio level %+v", al)
	}

	// Video chunks: one per GOP, at the file's keyframes, in the
	// timeline of decoding times from the first packet.
	path := filepath.Join(s.dir, "film.ism", "film_500k.mp4")
	dts, key, end := probePackets(t, path, "video")
	var keys []float64
	for i, k := range key {
		if k {
			keys = append(keys, dts[i]-dts[0])
		}
	}
	vs := m.starts(t, 0)
	if len(vs)-1 != len(keys) || len(keys) != 8 {
		t.Fatalf("%d video chunks, %d keyframes", len(vs)-1, len(keys))
	}
	for i, k := range keys {
		if math.Abs(float64(vs[i])/1e7-k) > 1e-4 {
			t.Fatalf("chunk %d starts at %v s, keyframe %d at %v s", i, float64(vs[i])/1e7, i, k)
		}
	}
	if got := float64(vs[len(vs)-1]) / 1e7; math.Abs(got-(end-dts[0])) > 1e-4 || math.Abs(float64(m.Duration)/1e7-got) > 0.05 {
		t.Fatalf("video ends at %v s, the file's at %v; duration %d", got, end-dts[0], m.Duration)
	}

	// Audio chunks: at the first packet at or after each video chunk.
	adts, _, aend := probePackets(t, path, "audio")
	as := m.starts(t, 1)
	if len(as) != len(vs) {
		t.Fatalf("%d audio chunks, %d video", len(as)-1, len(vs)-1)
	}
	for i, st := range as[:len(as)-1] {
		want := adts[0]
		for _, d := range adts {
			if d-adts[0] >= float64(vs[i])/1e7-1e-6 {
				want = d
				break
			}
		}
		if math.Abs(float64(st)/1e7-(want-adts[0])) > 1e-4 {
			t.Fatalf("audio chunk %d at %v s, want %v", i, float64(st)/1e7, want-adts[0])
		}
	}
	if got := float64(as[len(as)-1]) / 1e7; math.Abs(got-(aend-adts[0])) > 1e-4 {
		t.Fatalf("audio ends at %v s, the file's at %v", got, aend-adts[0])
	}

	// A single file is a presentation of its own.
	one := getManifest(t, s, "/vod/single.ism/Manifest")
	if len(one.Streams) != 2 || len(one.Streams[0].Levels) != 1 || len(one.Streams[0].C) != 6 {
		t.Fatalf("single file: %+v", one)
	}

	// The manifest is found in any case, as IIS finds it: rewrite rules
	// write "manifest".
	for _, name := range []string{"manifest", "MANIFEST"} {
		if other := getManifest(t, s, "/vod/film.ism/"+name); !reflect.DeepEqual(other, m) {
			t.Fatalf("%s: another manifest", name)
		}
	}
}

// fragment is what a served fragment holds.
type fragment struct {
	sequence      uint32
	time, dur     uint64 // tfxd
	durations     []uint32
	offsets       []int32
	keys          []bool
	samples       [][]byte
	trunDurations uint64
}

// parseFragment reads a moof (mfhd, traf with tfhd, trun and tfxd) and
// the mdat that follows it.
func parseFragment(t *testing.T, b []byte) fragment {
	t.Helper()
	var f fragment
	moofSize := binary.BigEndian.Uint32(b)
	if string(b[4:8]) != "moof" || int(moofSize)+8 > len(b) || string(b[moofSize+4:moofSize+8]) != "mdat" {
		t.Fatalf("not a moof and an mdat: %q", b[:min(len(b), 16)])
	}
	mdat := b[moofSize+8:]
	if int(binary.BigEndian.Uint32(b[moofSize:])) != len(mdat)+8 {
		t.Fatal("mdat size")
	}
	moof := boxesOf(t, b[8:moofSize])
	if len(moof) != 2 || moof[0].typ != "mfhd" || moof[1].typ != "traf" {
		t.Fatalf("moof holds %v", moof)
	}
	f.sequence = binary.BigEndian.Uint32(moof[0].body[4:])
	for _, c := range boxesOf(t, moof[1].body) {
		box, body := c.typ, c.body
		switch box {
		case "tfhd":
		case "trun":
			flags := binary.BigEndian.Uint32(body) & 0xffffff
			n := binary.BigEndian.Uint32(body[4:])
			off := int(int32(binary.BigEndian.Uint32(body[8:])))
			// Video has composition offsets, audio none.
			if flags&^0x800 != 0x701 || off != int(moofSize)+8 {
				t.Fatalf("trun flags %x, data offset %d for a moof of %d", flags, off, moofSize)
			}
			per := 12
			if flags&0x800 != 0 {
				per = 16
			}
			p := body[12:]
			data := mdat
			for range n {
				d, sz := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
				f.durations = append(f.durations, d)
				f.trunDurations += uint64(d)
				f.keys = append(f.keys, binary.BigEndian.Uint32(p[8:]) == 0x02000000)
				if per == 16 {
					f.offsets = append(f.offsets, int32(binary.BigEndian.Uint32(p[12:])))
				} else {
					f.offsets = append(f.offsets, 0)
				}
				f.samples = append(f.samples, data[:sz])
				data, p = data[sz:], p[per:]
			}
			if len(data) != 0 {
				t.Fatalf("%d bytes of mdat after the samples", len(data))
			}
		case "uuid":
			if !bytes.Equal(body[:16], tfxdUUID[:]) || body[16] != 1 {
				t.Fatalf("uuid %x", body[:17])
			}
			f.time, f.dur = binary.BigEndian.Uint64(body[20:]), binary.BigEndian.Uint64(body[28:])
		default:
			t.Fatalf("traf holds %s", box)
		}
	}
	return f
}

// TestSmoothFragments: the fragments of every stream and quality level,
// in the order of the manifest, hold exactly the samples of the source
// track (their hashes), each fragment starting with a keyframe for video,
// with the tfxd time of its URL, durations that add up to the next chunk's
// start, and composition offsets in the manifest's timescale.
func TestSmoothFragments(t *testing.T) {
	s := newSmoothServer(t)
	m := getManifest(t, s, "/vod/film.ism/Manifest")
	files := map[uint64]string{m.Streams[0].Levels[0].Bitrate: "film_500k.mp4", m.Streams[0].Levels[1].Bitrate: "film_150k.mp4",
		m.Streams[1].Levels[0].Bitrate: "film_500k.mp4"}
	for i, st := range m.Streams {
		starts := m.starts(t, i)
		for _, l := range st.Levels {
			t.Run(fmt.Sprintf("%s-%d", st.Type, l.Bitrate), func(t *testing.T) {
				track, src := sourceTrack(t, filepath.Join(s.dir, "film.ism", files[l.Bitrate]), st.Type)
				var got [][32]byte
				var offsets []int64
				for k, at := range starts[:len(starts)-1] {
					url := fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(%s=%d)", l.Bitrate, st.Type, at)
					resp, body := s.get(t, url)
					if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
						t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
					}
					f := parseFragment(t, body)
					if f.time != at || f.dur != starts[k+1]-at && k+1 < len(starts)-1 || f.trunDurations != f.dur || f.sequence != uint32(k+1) {
						t.Fatalf("%s: tfxd %d+%d, trun %d, sequence %d; chunk %d+%d", url, f.time, f.dur, f.trunDurations, f.sequence, at, starts[k+1]-at)
					}
					if st.Type == "video" && !f.keys[0] {
						t.Fatalf("%s does not start with a keyframe", url)
					}
					for j, b := range f.samples {
						got = append(got, sha256.Sum256(b))
						offsets = append(offsets, int64(f.offsets[j]))
					}
				}
				var want [][32]byte
				for i, smp := range track.Samples.Samples(0, track.Samples.Len()) {
					b := make([]byte, smp.Size)
					if _, err := src.ReadAt(b, smp.Offset); err != nil {
						t.Fatal(err)
					}
					want = append(want, sha256.Sum256(b))
					// The composition offset, in 10 MHz, to the rounding of
					// both times.
					off := float64(smp.CompositionOffset) * 1e7 / float64(track.Timescale)
					if math.Abs(float64(offsets[i])-off) > 1 {
						t.Fatalf("sample %d: composition offset %d, source's %v", i, offsets[i], off)
					}
				}
				if len(got) != len(want) {
					t.Fatalf("%d samples in the fragments, %d in the track", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("sample %d differs", i)
					}
				}
			})
		}
	}
}

type testBox struct {
	typ  string
	body []byte
}

// boxesOf splits b into boxes with 32-bit sizes.
func boxesOf(t *testing.T, b []byte) []testBox {
	t.Helper()
	var out []testBox
	for len(b) > 0 {
		if len(b) < 8 || int(binary.BigEndian.Uint32(b)) > len(b) || binary.BigEndian.Uint32(b) < 8 {
			t.Fatalf("bad box at %q", b[:min(len(b), 8)])
		}
		size := binary.BigEndian.Uint32(b)
		out = append(out, testBox{string(b[4:8]), b[8:size]})
		b = b[size:]
	}
	return out
}

// sourceTrack returns the first track of a kind of a file.
func sourceTrack(t *testing.T, path, kind string) (*mp4.Track, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	movie, err := mp4.Parse(f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := mp4.Type{'s', 'o', 'u', 'n'}
	if kind == "video" {
		handler = mp4.Type{'v', 'i', 'd', 'e'}
	}
	for _, tr := range movie.Tracks {
		if tr.Handler == handler {
			return tr, f
		}
	}
	t.Fatalf("no %s track in %s", kind, path)
	return nil, nil
}

// TestSmoothBadRequests: unknown levels, times, streams and presentations
// (an empty folder too) are 404, files that are not MP4 a 422, bad paths a 400, and a folder
// with too many files is refused.
func TestSmoothBadRequests(t *testing.T) {
	s := newSmoothServer(t)
	m := getManifest(t, s, "/vod/film.ism/Manifest")
	hi := m.Streams[0].Levels[0].Bitrate
	writeFile(t, filepath.Join(s.dir, "junk.mp4"), []byte("this is not an MP4 file at all"))
	if err := os.Mkdir(filepath.Join(s.dir, "many.ism"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.dir, "empty.ism"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range maxDirEntries + 1 {
		writeFile(t, filepath.Join(s.dir, "many.ism", fmt.Sprintf("f%d.mp4", i)), nil)
	}
	for _, c := range []struct {
		path   string
		status int
	}{
		{fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(video=0)", hi+1), 404},
		{fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(video=1)", hi), 404},
		{fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(video=99999999999999999999)", hi), 404},
		{fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(text=0)", hi), 404},
		{fmt.Sprintf("/vod/film.ism/QualityLevels(0%d)/Fragments(video=0)", hi), 404},
		{fmt.Sprintf("/vod/film.ism/QualityLevels(%d)/Fragments(video=-1)", hi), 404},
		{"/vod/film.ism/QualityLevels(-1)/Fragments(video=0)", 404},
		{"/vod/film.ism/Manifest/extra", 404},
		{"/vod/film.ism/manifest.xml", 404},
		{"/vod/none.ism/Manifest", 404},
		{"/vod/empty.ism/Manifest", 404},
		{"/vod/.film.ism/Manifest", 404},
		{"/vod/a/../film.ism/Manifest", 400},
		{"/vod/junk.ism/Manifest", 422},
		{"/vod/many.ism/Manifest", 422},
	} {
		resp, body := s.get(t, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d: %s", c.path, resp.StatusCode, c.status, body)
		}
	}
}
