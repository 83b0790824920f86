package vod

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/mp4"
)

// Smooth Streaming ([MS-SSTR]) from the same stored MP4 files, with no
// packaging step: /prefix/dir/name.ism/Manifest is the manifest of a
// presentation and /prefix/dir/name.ism/QualityLevels(<bitrate>)/
// Fragments(video=<time>) (or audio=) a fragment cut from the samples of one
// of its files on the fly (package mp4: moof and mdat, the mdat's payload
// sent with sendfile).
//
// Which files make a presentation: when dir/name.ism is a folder, every
// .mp4 file in it is a rendition of the same content (the bitrates of one
// ladder, as ffmpeg or an encoder writes them, with keyframes at the same
// times); otherwise dir/name.mp4 alone. Each file gives its first H.264
// video track and its first AAC-LC track; the video of every file is a
// quality level of the video stream, and the audio of the file with the
// highest video bitrate is the audio stream.
//
// Chunks: one per GOP, starting at keyframes that every video rendition
// has at the same time (a rendition whose first sample is not such a
// keyframe is left out), GOPs shorter than minSmoothChunk joined to the
// next; audio chunks start with the first sound sample at or after each
// video chunk's start. Times are the samples' decoding times in the
// manifest's timescale, 10 MHz; edit lists are not applied (Smooth
// Streaming has no place for them), so that audio priming and B-frame
// delays of a few tens of milliseconds stay as stored.
//
// The parsed files are cached in the movie cache like those of clips, and
// the presentation's plan (chunks, levels, manifest) beside them under the
// folder's name and the versions of its files: a file rewritten makes a new
// plan.

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

// tfxdUUID is the extended type of Smooth Streaming's
// TfxdBox ([MS-SSTR] 2.2.4.4): the absolute time and duration of a
// fragment.
var tfxdUUID = [16]byte{0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2}

// ismExt is the extension of a presentation's name in URLs.
const ismExt = ".ism"

// smoothPath splits the part of a URL path under a root that names a
// Smooth Streaming resource: "dir/name.ism" and what follows it.
func smoothPath(rel string) (ism, rest string, ok bool) {
	i := strings.Index(rel, ismExt+"/")
	if i <= 0 {
		return "", "", false
	}
	return rel[:i+len(ismExt)], rel[i+len(ismExt)+1:], true
}

// resolveSmooth finds the root of a URL path that names a Smooth Streaming
// resource, when MP4 files are served.
func (h *Handler) resolveSmooth(urlPath string) (root Root, ism, rest string, ok bool) {
	if !slices.Contains(h.exts, mp4Ext) {
		return Root{}, "", "", false
	}
	for _, root := range h.roots {
		if rel, ok := strings.CutPrefix(urlPath, root.Prefix+"/"); ok {
			ism, rest, ok := smoothPath(rel)
			return root, ism, rest, ok
		}
	}
	return Root{}, "", "", false
}

// member is a file of a presentation, open for the request.
type member struct {
	rel string
	f   *stored
	key cacheKey
	mod time.Time
}

// serveSmooth answers a Smooth Streaming request for the presentation ism
// (a path under root, checked) with what rest asks.
func (h *Handler) serveSmooth(w *sender, r *http.Request, root Root, ism, rest string) error {
	if err := checkRel(ism); err != nil {
		return err
	}
	req, ok := parseSmoothPath(rest)
	if !ok {
		return errNotFound
	}
	members, err := h.smoothMembers(r, root, ism)
	defer func() {
		for _, m := range members {
			m.f.Close()
		}
	}()
	if err != nil {
		return err
	}
	movies := make([]*movie, len(members))
	for i, m := range members {
		if movies[i], err = h.movies.get(r.Context(), m.key, func() (*movie, error) { return h.parseMovie(m.f, m.key), nil }); err != nil {
			return fmt.Errorf("movie %s: %w", m.rel, err)
		}
	}
	key := planKey(root.Prefix+"/"+ism, members)
	pm, err := h.movies.get(r.Context(), key, func() (*movie, error) { return h.planMovie(ism, members, movies), nil })
	if err != nil {
		return fmt.Errorf("presentation %s: %w", ism, err)
	}
	if pm.err != nil {
		return &requestError{status: http.StatusUnprocessableEntity, msg: "no Smooth Streaming presentation: " + pm.err.Error()}
	}
	p := pm.smooth
	etag := fmt.Sprintf(`"%x-%x`, key.size, key.mtime)
	hdr := w.Header()
	if len(members) == 1 {
		// One file's presentation changes with that file only.
		etag = members[0].f.etag + "-p"
		setCacheStatus(w, root, members[0].f)
	}
	if req.manifest {
		hdr.Set("Content-Type", "text/xml; charset=utf-8")
		hdr.Set("Etag", etag+`-m1"`)
		return h.send(w, r, nil, p.modtime, bytes.NewReader(p.manifest))
	}
	s := p.stream(req.stream)
	if s == nil {
		return &requestError{status: http.StatusNotFound, msg: "no stream " + req.stream}
	}
	lv := s.level(req.bitrate)
	if lv == nil {
		return &requestError{status: http.StatusNotFound, msg: fmt.Sprintf("no quality level of %d b/s in stream %s", req.bitrate, s.kind)}
	}
	k, ok := slices.BinarySearch(s.starts, req.time)
	if !ok {
		return &requestError{status: http.StatusNotFound, msg: fmt.Sprintf("no %s fragment starts at %d", s.kind, req.time)}
	}
	m, mf := members[lv.member], movies[lv.member].f
	if mf == nil || lv.track >= len(mf.Tracks) {
		// The plan was made from this version of the file, which parsed
		// then: read again since, it failed (an error reading it).
		return fmt.Errorf("fragment %s: %s no longer parses: %v", req, m.key.path, movies[lv.member].err)
	}
	track := mf.Tracks[lv.track]
	l, err := track.Fragment(lv.bounds[k], lv.bounds[k+1], mp4.FragmentOptions{
		Sequence:  uint32(k + 1),
		Timescale: smoothTimescale,
		Extra:     tfxd,
	})
	if err != nil {
		return fmt.Errorf("fragment %s of %s: %w", req, m.key.path, err)
	}
	hdr.Set("Content-Type", "video/mp4")
	hdr.Set("Etag", fmt.Sprintf(`%s-s%x-%s%x-1"`, m.f.etag, req.bitrate, s.kind, req.time))
	setCacheStatus(w, root, m.f)
	return h.send(w, r, m.f, m.mod, newVirtualFile(l, m.f))
}

// tfxd returns Smooth Streaming's TfxdBox of a fragment, version 1.
func tfxd(time, duration uint64) []*mp4.Box {
	p := make([]byte, 0, 16+4+16)
	p = append(p, tfxdUUID[:]...)
	p = append(p, 1, 0, 0, 0)
	p = binary.BigEndian.AppendUint64(p, time)
	p = binary.BigEndian.AppendUint64(p, duration)
	return []*mp4.Box{mp4.NewBox(mp4.Type{'u', 'u', 'i', 'd'}, p)}
}

// smoothMembers opens the files of the presentation ism: the .mp4 files of
// the folder of that name, or the .mp4 file of that name. A source's
// folders cannot be listed: there, a presentation is one file.
func (h *Handler) smoothMembers(r *http.Request, root Root, ism string) ([]member, error) {
	names := []string{strings.TrimSuffix(ism, ismExt) + mp4Ext}
	if root.Source == nil {
		list, err := readSmoothDir(root, ism)
		switch {
		case err == nil:
			names = list
		case !errors.Is(err, errNotDir):
			return nil, err
		}
	}
	var members []member
	for _, rel := range names {
		f, err := h.open(r.Context(), root, rel)
		if err != nil {
			return members, err
		}
		members = append(members, member{rel: rel, f: f, mod: f.mod, key: f.key})
	}
	return members, nil
}

var errNotDir = errors.New("not a folder")

// readSmoothDir returns the paths of the .mp4 files in the folder rel
// under root, sorted, or errNotDir when there is no such folder.
func readSmoothDir(root Root, rel string) ([]string, error) {
	var d *os.File
	var err error
	if root.FollowSymlinks {
		d, err = os.Open(filepath.Join(root.Dir, filepath.FromSlash(rel)))
	} else {
		var dir *os.Root
		if dir, err = os.OpenRoot(root.Dir); err != nil {
			return nil, fmt.Errorf("open root %s: %w", root.Dir, err)
		}
		d, err = dir.Open(filepath.FromSlash(rel))
		dir.Close()
	}
	if err != nil {
		if errors.Is(openError(rel, err), errNotFound) {
			return nil, errNotDir
		}
		return nil, err
	}
	defer d.Close()
	// A folder of more entries than a presentation has is refused after
	// reading a bounded number of them.
	entries, err := d.ReadDir(maxDirEntries + 1)
	var errno syscall.Errno
	if errors.As(err, &errno) && errno == syscall.ENOTDIR {
		return nil, errNotDir
	}
	if err != nil && len(entries) == 0 {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if len(entries) > maxDirEntries {
		return nil, &requestError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("%s holds more than %d files", path.Base(rel), maxDirEntries)}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if n[0] != '.' && strings.EqualFold(filepath.Ext(n), mp4Ext) && e.Type()&fs.ModeType&^fs.ModeSymlink == 0 {
			names = append(names, rel+"/"+n)
		}
	}
	if len(names) == 0 {
		return nil, errNotFound
	}
	if len(names) > maxRenditions {
		return nil, &requestError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("%s holds more than %d MP4 files", path.Base(rel), maxRenditions)}
	}
	slices.Sort(names)
	return names, nil
}

// planKey names the plan of a presentation in the movie cache: its folder,
// with a suffix no file path has, and the versions of its files.
func planKey(dir string, members []member) cacheKey {
	hash := fnv.New64a()
	for _, m := range members {
		fmt.Fprintf(hash, "%s\x00%d\x00%d\x00", m.key.path, m.key.size, m.key.mtime)
	}
	return cacheKey{path: dir + "\x00smooth", size: int64(len(members)), mtime: int64(hash.Sum64())}
}

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

// planMovie builds the plan of a presentation, as a movie cache entry.
func (h *Handler) planMovie(ism string, members []member, movies []*movie) *movie {
	began := time.Now()
	p, err := planPresentation(members, movies)
	if err != nil {
		h.logger.Warn("vod: no Smooth Streaming presentation", "path", ism, "err", err)
		return &movie{err: err, cost: 256}
	}
	cost := int64(512 + len(p.manifest))
	for _, s := range p.streams {
		cost += 128 + 8*int64(len(s.starts))
		for _, l := range s.levels {
			cost += 256 + 4*int64(len(l.bounds)) + int64(len(l.private))
		}
	}
	h.logger.Debug("vod: Smooth Streaming presentation planned", "path", ism, "files", len(members),
		"streams", len(p.streams), "took", time.Since(began).Round(time.Microsecond))
	return &movie{smooth: p, cost: cost}
}

// candidate is a track that may become a quality level.
type candidate struct {
	lv    *smoothLevel
	st    *mp4.SampleTable
	ts    uint32
	first uint64 // decoding time of its first sample (10 MHz)
	end   uint64
}

func planPresentation(members []member, movies []*movie) (*presentation, error) {
	p := &presentation{}
	var videos, audios []*candidate
	var reasons []string
	for i, m := range movies {
		p.modtime = later(p.modtime, members[i].mod)
		if m.f == nil {
			reason := "fragmented MP4"
			if m.err != nil {
				reason = m.err.Error()
			}
			reasons = append(reasons, fmt.Sprintf("%s: %s", path.Base(members[i].rel), reason))
			continue
		}
		v, a, err := tracksOf(m.f, i)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", path.Base(members[i].rel), err))
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

// The manifest ([MS-SSTR] 2.2.2), as encoding/xml writes it.
type ssmMedia struct {
	XMLName      xml.Name    `xml:"SmoothStreamingMedia"`
	MajorVersion int         `xml:"MajorVersion,attr"`
	MinorVersion int         `xml:"MinorVersion,attr"`
	TimeScale    uint64      `xml:"TimeScale,attr"`
	Duration     uint64      `xml:"Duration,attr"`
	Streams      []ssmStream `xml:"StreamIndex"`
}

type ssmStream struct {
	Type          string     `xml:"Type,attr"`
	Name          string     `xml:"Name,attr"`
	Chunks        int        `xml:"Chunks,attr"`
	QualityLevels int        `xml:"QualityLevels,attr"`
	URL           string     `xml:"Url,attr"`
	MaxWidth      uint16     `xml:"MaxWidth,attr,omitempty"`
	MaxHeight     uint16     `xml:"MaxHeight,attr,omitempty"`
	DisplayWidth  uint16     `xml:"DisplayWidth,attr,omitempty"`
	DisplayHeight uint16     `xml:"DisplayHeight,attr,omitempty"`
	Levels        []ssmLevel `xml:"QualityLevel"`
	C             []ssmChunk `xml:"c"`
}

type ssmLevel struct {
	Index            int    `xml:"Index,attr"`
	Bitrate          uint64 `xml:"Bitrate,attr"`
	FourCC           string `xml:"FourCC,attr"`
	MaxWidth         uint16 `xml:"MaxWidth,attr,omitempty"`
	MaxHeight        uint16 `xml:"MaxHeight,attr,omitempty"`
	SamplingRate     uint32 `xml:"SamplingRate,attr,omitempty"`
	Channels         uint16 `xml:"Channels,attr,omitempty"`
	BitsPerSample    uint16 `xml:"BitsPerSample,attr,omitempty"`
	PacketSize       uint16 `xml:"PacketSize,attr,omitempty"`
	AudioTag         uint16 `xml:"AudioTag,attr,omitempty"`
	CodecPrivateData string `xml:"CodecPrivateData,attr"`
}

// ssmChunk is a c element: its start time only on the first, the others
// following on.
type ssmChunk struct {
	T *uint64 `xml:"t,attr,omitempty"`
	D uint64  `xml:"d,attr"`
}

func (p *presentation) writeManifest() ([]byte, error) {
	m := ssmMedia{MajorVersion: 2, TimeScale: smoothTimescale}
	for _, s := range p.streams {
		m.Duration = max(m.Duration, s.end)
		x := ssmStream{
			Type: s.kind, Name: s.kind, Chunks: len(s.starts), QualityLevels: len(s.levels),
			URL: "QualityLevels({bitrate})/Fragments(" + s.kind + "={start time})",
		}
		for i, lv := range s.levels {
			l := ssmLevel{Index: i, Bitrate: lv.bitrate, FourCC: lv.fourCC, CodecPrivateData: lv.private}
			if s.kind == "video" {
				l.MaxWidth, l.MaxHeight = lv.width, lv.height
				x.MaxWidth, x.MaxHeight = max(x.MaxWidth, lv.width), max(x.MaxHeight, lv.height)
			} else {
				l.SamplingRate, l.Channels, l.BitsPerSample = lv.sampleRate, lv.channels, lv.sampleSize
				l.PacketSize = lv.channels * lv.sampleSize / 8
				l.AudioTag = 255 // AAC, as [MS-SSTR] and its clients name it
			}
			x.Levels = append(x.Levels, l)
		}
		x.DisplayWidth, x.DisplayHeight = x.MaxWidth, x.MaxHeight
		for i, t := range s.starts {
			c := ssmChunk{}
			if i == 0 {
				c.T = &s.starts[0]
			}
			if i+1 < len(s.starts) {
				c.D = s.starts[i+1] - t
			} else {
				c.D = max(s.end, t) - t
			}
			x.C = append(x.C, c)
		}
		m.Streams = append(m.Streams, x)
	}
	b, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
