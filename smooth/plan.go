package smooth

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flvedge/flvedge/mp4"
)

// smoothTimescale is the manifest's timescale, Smooth Streaming's usual
// 100 ns unit.
const smoothTimescale = 10_000_000

// Bounds of a presentation: files in a .ism folder (more are refused
// rather than read), keyframes of one rendition considered, and chunks.
const (
	maxRenditions   = 16
	maxDirEntries   = 64
	maxKeyframes    = 1 << 20
	maxSmoothChunks = 1 << 18
	minSmoothChunk  = smoothTimescale / 2
	// audioOnlyChunk is the length of the chunks of a presentation without
	// video.
	audioOnlyChunk = 2 * smoothTimescale
)

// presentation is the plan of a Smooth Streaming presentation: its
// streams, their chunks and quality levels, and its manifest.
type presentation struct {
	streams  []*smoothStream
	manifest []byte
	modtime  time.Time // the newest of its files
}

type smoothStream struct {
	kind   string   // "video" or "audio": the stream's type and name
	starts []uint64 // the start of each chunk (10 MHz)
	end    uint64   // the end of the last
	levels []*smoothLevel
}

// smoothLevel is a quality level: a track of a member file and the first
// sample of each of its chunks, with the sample count last.
type smoothLevel struct {
	bitrate       uint64
	member, track int
	bounds        []uint32
	fourCC        string
	private       string // CodecPrivateData, hex
	width, height uint16
	channels      uint16
	sampleSize    uint16
	sampleRate    uint32
}

func (p *presentation) stream(kind string) *smoothStream {
	for _, s := range p.streams {
		if s.kind == kind {
			return s
		}
	}
	return nil
}

func (s *smoothStream) level(bitrate uint64) *smoothLevel {
	for _, l := range s.levels {
		if l.bitrate == bitrate {
			return l
		}
	}
	return nil
}

// candidate is a track that may become a quality level.
type candidate struct {
	lv    *smoothLevel
	st    *mp4.SampleTable
	ts    uint32
	first uint64 // decoding time of its first sample (10 MHz)
	end   uint64
}

// planPresentation plans the presentation of members, whose files are
// parsed.
func planPresentation(members []member) (*presentation, error) {
	p := &presentation{}
	var videos, audios []*candidate
	var reasons []string
	for i, m := range members {
		p.modtime = later(p.modtime, m.f.ModTime())
		if m.mf == nil {
			reason := m.why.Error()
			if errors.Is(m.why, mp4.ErrFragmented) {
				reason = "fragmented MP4"
			}
			reasons = append(reasons, fmt.Sprintf("%s: %s", path.Base(m.rel), reason))
			continue
		}
		v, a, err := tracksOf(m.mf, i)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", path.Base(m.rel), err))
		}
		if v != nil {
			videos = append(videos, v)
		}
		if a != nil {
			audios = append(audios, a)
		}
	}
	if len(videos) == 0 && len(audios) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no H.264 or AAC-LC track")
		}
		return nil, errors.New(strings.Join(reasons, "; "))
	}
	// Highest bitrate first; bitrates name the levels in URLs, so that two
	// alike are told apart by one bit per second.
	slices.SortStableFunc(videos, func(a, b *candidate) int { return cmpDesc(a.lv.bitrate, b.lv.bitrate) })
	for i := 1; i < len(videos); i++ {
		videos[i].lv.bitrate = min(videos[i].lv.bitrate, videos[i-1].lv.bitrate-1)
	}
	var video *smoothStream
	if len(videos) > 0 {
		var err error
		if video, err = planVideo(videos); err != nil {
			return nil, err
		}
		p.streams = append(p.streams, video)
	}
	if len(audios) > 0 {
		// The audio of the file of the highest video bitrate, or of the
		// first file.
		a := audios[0]
		if video != nil {
			for _, c := range audios {
				if c.lv.member == video.levels[0].member {
					a = c
				}
			}
		}
		s, err := planAudio(a, video)
		if err != nil {
			return nil, err
		}
		p.streams = append(p.streams, s)
	}
	var err error
	if p.manifest, err = p.writeManifest(); err != nil {
		return nil, err
	}
	return p, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func cmpDesc(a, b uint64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// tracksOf finds the first H.264 and the first AAC-LC track of a file.
func tracksOf(f *mp4.File, member int) (video, audio *candidate, err error) {
	for i, t := range f.Tracks {
		if t.Samples.Len() == 0 || (t.Handler != mp4.Type{'v', 'i', 'd', 'e'} && t.Handler != mp4.Type{'s', 'o', 'u', 'n'}) {
			continue
		}
		if (t.Handler == mp4.Type{'v', 'i', 'd', 'e'} && video != nil) || (t.Handler == mp4.Type{'s', 'o', 'u', 'n'} && audio != nil) {
			continue
		}
		e, eerr := t.SampleEntry()
		if eerr != nil {
			err = eerr
			continue
		}
		lv := &smoothLevel{member: member, track: i, bitrate: bitrateOf(t)}
		c := &candidate{lv: lv, st: t.Samples, ts: t.Timescale}
		s, _ := t.Samples.Sample(0)
		c.first = mp4.Rescale(s.Time, t.Timescale, smoothTimescale)
		c.end = mp4.Rescale(t.Samples.EndTime(), t.Timescale, smoothTimescale)
		switch e.Format {
		case mp4.Type{'a', 'v', 'c', '1'}:
			sps, pps, lengthSize, perr := mp4.AVCParameterSets(e.AVCConfig)
			if perr != nil {
				err = fmt.Errorf("track %d: %w", t.ID, perr)
				continue
			}
			if lengthSize != 4 {
				// Smooth Streaming clients build an avcC of their own,
				// with four-byte NAL unit lengths.
				err = fmt.Errorf("track %d: H.264 with %d-byte NAL unit lengths: %w", t.ID, lengthSize, errors.ErrUnsupported)
				continue
			}
			var b []byte
			for _, ps := range append(sps, pps...) {
				b = append(b, 0, 0, 0, 1)
				b = append(b, ps...)
			}
			lv.fourCC, lv.private = "AVC1", strings.ToUpper(hex.EncodeToString(b))
			lv.width, lv.height = e.Width, e.Height
			video = c
		case mp4.Type{'m', 'p', '4', 'a'}:
			// MPEG-4 audio whose AudioSpecificConfig names AAC LC
			// (audio object type 2, in its first five bits).
			if e.ObjectType != 0x40 || len(e.AudioConfig) < 2 || e.AudioConfig[0]>>3 != 2 {
				err = fmt.Errorf("track %d: audio other than AAC-LC: %w", t.ID, errors.ErrUnsupported)
				continue
			}
			lv.fourCC, lv.private = "AACL", strings.ToUpper(hex.EncodeToString(e.AudioConfig))
			lv.channels, lv.sampleSize, lv.sampleRate = e.Channels, e.SampleSize, e.SampleRate
			// The channel configuration of the AudioSpecificConfig, after
			// the object type and the sampling frequency index (unless
			// that is 15, an explicit frequency), is what decoders follow;
			// sample entries often say 2 whatever it is.
			freq, ch := (e.AudioConfig[0]&7)<<1|e.AudioConfig[1]>>7, uint16(e.AudioConfig[1]>>3)&15
			switch {
			case freq == 15:
			case ch >= 1 && ch <= 6:
				lv.channels = ch
			case ch == 7:
				lv.channels = 8
			}
			audio = c
		default:
			err = fmt.Errorf("track %d: %s: %w", t.ID, e.Format, errors.ErrUnsupported)
		}
	}
	return video, audio, err
}

// bitrateOf returns a track's average bitrate: its bytes over its
// duration.
func bitrateOf(t *mp4.Track) uint64 {
	var bytes uint64
	for _, s := range t.Samples.Samples(0, t.Samples.Len()) {
		bytes += uint64(s.Size)
	}
	d := t.Samples.EndTime()
	if d == 0 {
		return max(bytes*8, 1)
	}
	return max(mp4.Rescale(bytes*8, uint32(min(d, 1<<32-1)), t.Timescale), 1)
}

// keyframe is a sync sample and its decoding time (10 MHz).
type keyframe struct {
	time   uint64
	sample uint32
}

func syncTimes(c *candidate) ([]keyframe, error) {
	var out []keyframe
	for i, s := range c.st.Samples(0, c.st.Len()) {
		if !s.Keyframe {
			continue
		}
		if len(out) == maxKeyframes {
			return nil, fmt.Errorf("more than %d keyframes: %w", maxKeyframes, mp4.ErrTooLarge)
		}
		out = append(out, keyframe{mp4.Rescale(s.Time, c.ts, smoothTimescale), i})
	}
	return out, nil
}

// planVideo cuts the video renditions, highest bitrate first, into chunks
// at the keyframes they share.
func planVideo(videos []*candidate) (*smoothStream, error) {
	ref := videos[0]
	common, err := syncTimes(ref)
	if err != nil {
		return nil, err
	}
	if len(common) == 0 || common[0].sample != 0 {
		return nil, errors.New("the video does not start with a keyframe")
	}
	s := &smoothStream{kind: "video", end: ref.end}
	// The renditions kept, and each one's keyframes at the common times.
	levels := []*candidate{ref}
	kept := [][]keyframe{common}
	for _, c := range videos[1:] {
		ks, err := syncTimes(c)
		if err != nil {
			return nil, err
		}
		if len(ks) == 0 || ks[0].sample != 0 || ks[0].time != common[0].time {
			continue // not the same GOP structure: left out
		}
		// Keep the times both have, in every level kept so far.
		var mine []keyframe
		keep := make([]bool, len(common))
		j := 0
		for i, k := range common {
			for j < len(ks) && ks[j].time < k.time {
				j++
			}
			if j < len(ks) && ks[j].time == k.time {
				keep[i] = true
				mine = append(mine, ks[j])
			}
		}
		for l := range kept {
			kept[l] = filterKept(kept[l], keep)
		}
		common = filterKept(common, keep)
		kept = append(kept, mine)
		levels = append(levels, c)
	}
	// Join GOPs shorter than minSmoothChunk to the next.
	var take []bool
	last := common[0].time
	for i, k := range common {
		ok := i == 0 || k.time-last >= minSmoothChunk
		if ok {
			last = k.time
		}
		take = append(take, ok)
	}
	for _, k := range filterKept(common, take) {
		s.starts = append(s.starts, k.time)
	}
	if len(s.starts) > maxSmoothChunks {
		return nil, fmt.Errorf("more than %d chunks: %w", maxSmoothChunks, mp4.ErrTooLarge)
	}
	for l, c := range levels {
		for _, k := range filterKept(kept[l], take) {
			c.lv.bounds = append(c.lv.bounds, k.sample)
		}
		c.lv.bounds = append(c.lv.bounds, c.st.Len())
		s.levels = append(s.levels, c.lv)
	}
	return s, nil
}

func filterKept(ks []keyframe, keep []bool) []keyframe {
	var out []keyframe
	for i, k := range ks {
		if keep[i] {
			out = append(out, k)
		}
	}
	return out
}

// planAudio cuts the audio track into chunks starting with the first sound
// sample at or after each video chunk's start, or every audioOnlyChunk
// without video.
func planAudio(a *candidate, video *smoothStream) (*smoothStream, error) {
	st := a.st
	n := st.Len()
	timeOf := func(i uint32) uint64 {
		s, _ := st.Sample(i)
		return mp4.Rescale(s.Time, a.ts, smoothTimescale)
	}
	bounds := []uint32{0}
	if video != nil {
		for _, t := range video.starts[1:] {
			b := uint32(sort.Search(int(n), func(i int) bool { return timeOf(uint32(i)) >= t }))
			if b < n && b > bounds[len(bounds)-1] {
				bounds = append(bounds, b)
			}
		}
	} else {
		next := a.first + audioOnlyChunk
		for i, s := range st.Samples(0, n) {
			if tm := mp4.Rescale(s.Time, a.ts, smoothTimescale); tm >= next {
				if len(bounds) == maxSmoothChunks {
					return nil, fmt.Errorf("more than %d chunks: %w", maxSmoothChunks, mp4.ErrTooLarge)
				}
				bounds = append(bounds, i)
				next = tm + audioOnlyChunk
			}
		}
	}
	s := &smoothStream{kind: "audio", end: a.end, levels: []*smoothLevel{a.lv}}
	for _, b := range bounds {
		s.starts = append(s.starts, timeOf(b))
	}
	a.lv.bounds = append(bounds, n)
	return s, nil
}
