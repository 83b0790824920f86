package vod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/flvedge/flvedge/flv"
)

// Bounds of what one scan keeps, whatever the file holds. Together they cap
// an index at a few MiB, so a hostile file costs no more than a long film.
const (
	// maxPoints bounds the seek points kept per list. Past it the list is
	// thinned to every other point, and from then on every other candidate
	// is taken: 2^17 keyframes is 36 hours at one keyframe a second.
	maxPoints = 1 << 17
	// maxSeqHeaders bounds the distinct sequence headers kept per track;
	// real files change codec configuration a handful of times at most.
	maxSeqHeaders = 32
	// maxSeqHeaderSize bounds one kept sequence header. An avcC is tens of
	// bytes, an hvcC with parameter sets a few hundred.
	maxSeqHeaderSize = 16 << 10
	// maxMetaSize bounds the onMetaData tag that is read and decoded. One
	// with a keyframe index for a three-hour film is about 400 KiB.
	maxMetaSize = 1 << 20
	// maxSegments bounds the runs of valid tags a damaged file is cut into;
	// a file damaged in more places is served up to its 256th run.
	maxSegments = 256
	// maxRuns bounds the runs of kept tags of a file served with one track
	// of two (only_audio, only_video), a run between two tags of the other
	// track: 2^18 is three hours of video at 25 frames a second
	// interleaved with audio. Each run costs a part of the virtual file
	// (some 70 bytes) in the cached index and in each seek's layout.
	maxRuns = 1 << 18
	// maxResync is how far past a damaged place the scanner looks for the
	// next valid tag: a whole tag body (up to 16 MiB) and then some.
	maxResync = flv.MaxDataSize + 1<<20
	// maxFarChecks bounds, per resynchronisation, the candidates whose
	// PreviousTagSize lies outside the window and costs a read of its own,
	// so that bytes crafted to look like many tag headers cannot make a
	// scan read the file millions of times. Past it, such candidates are
	// taken as invalid.
	maxFarChecks = 4096
	// windowSize is the scanner's read-ahead.
	windowSize = 64 << 10
	// probeSize is how many bytes of a tag body the scanner looks at to
	// classify it: enough for an enhanced RTMP video header.
	probeSize = 32
	// audioPointEvery spaces the seek points of files without video.
	audioPointEvery = 1000 // ms
)

// tagPrefix is a tag header and the PreviousTagSize after the tag.
const tagPrefix = flv.TagHeaderSize + 4

// Kinds of seek points.
const (
	pointKeyframe  uint8 = iota // a coded video keyframe: decoding starts here
	pointSeqHeader              // a video sequence header (keyframe type)
	pointOther                  // another video tag of keyframe type, such as end of sequence
	pointAudio                  // an audio frame of a file without video
)

// point is a place where a player may start reading the file.
type point struct {
	pos  int64 // offset of the tag in the stored file
	ts   uint32
	kind uint8
}

// span is a range [start, end) of the stored file.
type span struct{ start, end int64 }

// seqHeader is a codec configuration tag: a player needs the latest one
// before the frames it decodes.
type seqHeader struct {
	pos  int64
	body []byte
}

// errNotFLV is wrapped by scan errors about files that cannot be served
// as FLV at all.
var errNotFLV = errors.New("not an FLV file")

// errTooManyRuns is the error of a scan for one track of a file whose
// tags of that track make more than maxRuns runs.
var errTooManyRuns = fmt.Errorf("more than %d runs of tags of the track", maxRuns)

// tracks are the tracks a response carries: both, or one for only_audio
// and only_video. A scan for one track sees the file without the other's
// tags, so that the whole view, seeking and its index are those of a file
// that never had them.
type tracks struct{ audio, video bool }

var allTracks = tracks{audio: true, video: true}

// keeps reports whether tags of type typ are served; script tags always are.
func (t tracks) keeps(typ uint8) bool {
	switch typ {
	case flv.TagAudio:
		return t.audio
	case flv.TagVideo:
		return t.video
	}
	return true
}

// query names a choice of one track as the request did, "" for both.
func (t tracks) query() string {
	switch {
	case !t.video:
		return "only_audio=1"
	case !t.audio:
		return "only_video=1"
	}
	return ""
}

// scan is what one pass over a stored FLV file finds.
type scan struct {
	size               int64
	want               tracks // the tracks scanned; the other's tags are left out
	hasAudio, hasVideo bool   // tags of that kind were seen
	// segments are the runs of consecutive valid tags, in file order. A
	// clean file has one, from the first tag to the end of the last
	// complete tag.
	segments []span
	// tail is set when bytes after the last valid tag were dropped: a
	// truncated last tag or garbage.
	tail bool
	// meta is the onMetaData tag found before any frame, if any; metaBody
	// is its body when it is no larger than maxMetaSize.
	meta     span
	metaBody []byte
	// video holds the video tags of keyframe type (yamdi and players take
	// every one of them as a seek point); audio, for files without video,
	// one audio frame per second. stride > 1 means the list was thinned.
	video, audio             []point
	videoStride, audioStride int
	videoSeen, audioSeen     int // candidates offered, for thinning
	nextAudioPoint           uint32
	seqVideo, seqAudio       []seqHeader
	// endTs is where the media ends, in milliseconds: the last frame's
	// timestamp plus its duration, estimated from the frame before.
	endTs uint32
	// damage counts the resynchronisations, for the log.
	damage int
	// skipped is set when tags of a track not wanted were left out.
	skipped bool

	lastVideo, prevVideo, lastAudio, prevAudio uint32
	videoFrames, audioFrames                   int
	sawFrame                                   bool
}

// window reads a file through a read-ahead buffer, by absolute offsets.
type window struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
	n    int   // valid bytes in buf
}

func newWindow(r io.ReaderAt, size int64) *window {
	return &window{r: r, size: size, buf: make([]byte, windowSize)}
}

// peek returns the n bytes at off, or fewer at the end of the file. n must
// not exceed windowSize.
func (w *window) peek(off int64, n int) ([]byte, error) {
	b, err := w.ahead(off, n)
	return b[:min(n, len(b))], err
}

// ahead returns the bytes at off that the window holds, refilling it at
// off first unless it holds at least n of them (or all up to the end of
// the file).
func (w *window) ahead(off int64, n int) ([]byte, error) {
	if off < 0 || off >= w.size {
		return nil, nil
	}
	end := w.off + int64(w.n)
	if off < w.off || off >= end || off+int64(n) > end && end < w.size {
		want := int(min(int64(len(w.buf)), w.size-off))
		m, err := w.r.ReadAt(w.buf[:want], off)
		if m < want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return nil, err
		}
		w.off, w.n = off, m
	}
	return w.buf[off-w.off : w.n], nil
}

// tagHeader is a parsed tag header.
type tagHeader struct {
	typ  uint8
	size int
	ts   uint32
}

// parseTagHeader checks the 11 bytes of a tag header for what every valid
// tag has: a known type with the reserved and filter bits clear, and a
// stream ID of zero. It is the test the resynchroniser runs at every byte,
// so it is cheap and rejects almost every random position.
func parseTagHeader(b []byte) (tagHeader, bool) {
	if len(b) < flv.TagHeaderSize {
		return tagHeader{}, false
	}
	switch b[0] {
	case flv.TagAudio, flv.TagVideo, flv.TagScript:
	default:
		return tagHeader{}, false
	}
	if b[8]|b[9]|b[10] != 0 {
		return tagHeader{}, false
	}
	return tagHeader{
		typ:  b[0],
		size: int(b[1])<<16 | int(b[2])<<8 | int(b[3]),
		ts:   uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]),
	}, true
}

// putTimestamp writes ts into the 11-byte tag header h.
func putTimestamp(h []byte, ts uint32) {
	h[4], h[5], h[6], h[7] = byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24)
}

// readHeader checks the FLV file header and returns the offset of the
// first tag.
func readHeader(w *window) (first int64, err error) {
	b, err := w.peek(0, flv.HeaderSize)
	if err != nil {
		return 0, fmt.Errorf("read header: %w", err)
	}
	if len(b) < flv.HeaderSize || string(b[:3]) != "FLV" {
		return 0, fmt.Errorf("no FLV signature: %w", errNotFLV)
	}
	dataOffset := int64(binary.BigEndian.Uint32(b[5:9]))
	if dataOffset < flv.HeaderSize || dataOffset > 1<<16 {
		return 0, fmt.Errorf("header data offset %d: %w", dataOffset, errNotFLV)
	}
	return dataOffset + 4, nil
}

// scanFile reads the tags of an FLV file once, headers and the first bytes
// of bodies only, and records what serving and seeking need. Damage is not
// an error: the scanner resynchronises on the next valid tag and the damaged
// bytes are left out of what is served. Only a file that is not FLV at all
// (or that cannot be read) is an error.
func scanFile(r io.ReaderAt, size int64) (*scan, error) {
	return scanTracks(r, size, allTracks)
}

// scanTracks is scanFile for the tags of the tracks wanted: the others are
// left out of the segments, which are then the runs of kept tags.
func scanTracks(r io.ReaderAt, size int64, want tracks) (*scan, error) {
	w := newWindow(r, size)
	first, err := readHeader(w)
	if err != nil {
		return nil, err
	}
	s := &scan{size: size, want: want, videoStride: 1, audioStride: 1}
	pos := first
	for pos < size {
		h, ok, err := validTag(w, pos, false, nil)
		if err != nil {
			return nil, err
		}
		if !ok {
			next, found, err := resync(w, pos+1, pos+maxResync)
			if err != nil {
				return nil, err
			}
			if !found || s.damage+1 >= maxSegments {
				s.tail = true
				break
			}
			s.damage++
			pos = next
			continue
		}
		end := pos + int64(h.size) + tagPrefix
		if !want.keeps(h.typ) {
			s.skipped = true
			pos = end
			continue
		}
		if n := len(s.segments); n > 0 && s.segments[n-1].end == pos {
			s.segments[n-1].end = end
		} else {
			if n >= maxRuns {
				return nil, errTooManyRuns
			}
			s.segments = append(s.segments, span{pos, end})
		}
		if err := s.record(w, pos, h); err != nil {
			return nil, err
		}
		pos = end
	}
	s.finish()
	return s, nil
}

// validTag reports whether a valid tag starts at pos. A valid tag has a
// plausible header, fits in the file, and is confirmed by what follows it:
// its PreviousTagSize, or, leniently (some muxers write wrong ones), the
// next tag's header or the end of the file. strict requires both the
// PreviousTagSize and the next header, for positions found by searching.
// far, when not nil, counts the checks that needed a read outside the
// window; past maxFarChecks they fail without reading.
func validTag(w *window, pos int64, strict bool, far *int) (tagHeader, bool, error) {
	b, err := w.peek(pos, flv.TagHeaderSize)
	if err != nil {
		return tagHeader{}, false, err
	}
	h, ok := parseTagHeader(b)
	if !ok {
		return h, false, nil
	}
	end := pos + int64(h.size) + tagPrefix
	if end > w.size {
		return h, false, nil
	}
	// What follows the tag is read from the window when it is there, and
	// otherwise on its own, so that checking a candidate far away does not
	// move the window off the bytes being searched.
	var b2 [4 + flv.TagHeaderSize]byte
	if next := min(end+flv.TagHeaderSize, w.size); end-4 >= w.off && next <= w.off+int64(w.n) {
		b = w.buf[end-4-w.off : next-w.off]
	} else {
		if far != nil {
			if *far >= maxFarChecks {
				return h, false, nil
			}
			*far++
		}
		n, err := w.r.ReadAt(b2[:min(int64(len(b2)), w.size-(end-4))], end-4)
		if n < 4 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return h, false, err
		}
		b = b2[:n]
	}
	prevOK := binary.BigEndian.Uint32(b) == uint32(h.size+flv.TagHeaderSize)
	nextOK := end == w.size
	if !nextOK {
		_, nextOK = parseTagHeader(b[4:])
		// Fewer than a header's bytes left: a truncated last tag, which
		// does not make this one doubtful.
		nextOK = nextOK || len(b) < 4+flv.TagHeaderSize
	}
	if strict {
		return h, prevOK && nextOK, nil
	}
	return h, prevOK || nextOK, nil
}

// resync finds the first position in [from, limit) where a valid tag
// starts, checked strictly. It reads the bytes in between once, through
// the window; past maxFarChecks, only tags small enough to be checked in
// the window can be found.
func resync(w *window, from, limit int64) (int64, bool, error) {
	limit = min(limit, w.size-tagPrefix+1)
	far := 0
	for pos := from; pos < limit; {
		b, err := w.ahead(pos, flv.TagHeaderSize)
		if err != nil {
			return 0, false, err
		}
		i := 0
		for i+flv.TagHeaderSize <= len(b) && pos+int64(i) < limit {
			if _, ok := parseTagHeader(b[i:]); ok {
				break
			}
			i++
		}
		if i+flv.TagHeaderSize > len(b) || pos+int64(i) >= limit {
			pos += int64(max(len(b)-flv.TagHeaderSize+1, 1))
			continue
		}
		cand := pos + int64(i)
		if _, ok, err := validTag(w, cand, true, &far); err != nil || ok {
			return cand, ok, err
		}
		pos = cand + 1
	}
	return 0, false, nil
}

// record takes note of the valid tag h at pos.
func (s *scan) record(w *window, pos int64, h tagHeader) error {
	b, err := w.peek(pos, flv.TagHeaderSize+min(h.size, probeSize))
	if err != nil {
		return err
	}
	body := b[flv.TagHeaderSize:]
	switch h.typ {
	case flv.TagVideo:
		return s.recordVideo(w, pos, h, body)
	case flv.TagAudio:
		return s.recordAudio(w, pos, h, body)
	default:
		return s.recordScript(w, pos, h, body)
	}
}

func (s *scan) recordVideo(w *window, pos int64, h tagHeader, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	s.hasVideo = true
	info, err := flv.ParseVideo(body)
	parsed := err == nil
	// The frame type alone decides, as it does for yamdi and the players
	// that read the index: a keyframe-type tag that does not parse (its
	// codec unknown to us) is still a place to start.
	if body[0]>>4&0x07 == flv.FrameTypeKey {
		kind := pointOther
		switch {
		case parsed && info.Keyframe:
			kind = pointKeyframe
		case parsed && info.SequenceHeader:
			kind = pointSeqHeader
		}
		s.video, s.videoStride = addPoint(s.video, point{pos, h.ts, kind}, &s.videoSeen, s.videoStride)
	}
	switch {
	case parsed && info.SequenceHeader:
		list, err := addSeqHeader(s.seqVideo, w, pos, h)
		s.seqVideo = list
		return err
	case parsed && (info.PacketType == flv.PacketTypeCodedFrames || info.PacketType == flv.PacketTypeCodedFramesX || info.PacketType == flv.PacketTypeMultitrack):
		s.sawFrame = true
		s.prevVideo, s.lastVideo = s.lastVideo, h.ts
		s.videoFrames++
	}
	return nil
}

func (s *scan) recordAudio(w *window, pos int64, h tagHeader, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	s.hasAudio = true
	info, err := flv.ParseAudio(body)
	if err == nil && info.SequenceHeader {
		list, err := addSeqHeader(s.seqAudio, w, pos, h)
		s.seqAudio = list
		return err
	}
	s.sawFrame = true
	s.prevAudio, s.lastAudio = s.lastAudio, h.ts
	s.audioFrames++
	if h.ts >= s.nextAudioPoint {
		s.audio, s.audioStride = addPoint(s.audio, point{pos, h.ts, pointAudio}, &s.audioSeen, s.audioStride)
		s.nextAudioPoint = h.ts - h.ts%audioPointEvery + audioPointEvery
	}
	return nil
}

func (s *scan) recordScript(w *window, pos int64, h tagHeader, body []byte) error {
	// Only an onMetaData before the first frame describes the file; a
	// later one is data like any other and stays where it is.
	if s.sawFrame || s.meta.end != 0 {
		return nil
	}
	if !bytes.HasPrefix(flv.TrimSetDataFrame(body), []byte("\x02\x00\x0aonMetaData")) {
		return nil
	}
	s.meta = span{pos, pos + int64(h.size) + tagPrefix}
	if h.size > maxMetaSize {
		return nil
	}
	s.metaBody = make([]byte, h.size)
	if _, err := w.r.ReadAt(s.metaBody, pos+flv.TagHeaderSize); err != nil {
		return fmt.Errorf("read onMetaData: %w", err)
	}
	return nil
}

// addPoint appends p to list unless thinning skips it, and thins the list
// when it is full. It returns the list and the stride now in force.
func addPoint(list []point, p point, seen *int, stride int) ([]point, int) {
	n := *seen
	*seen = n + 1
	if n%stride != 0 {
		return list, stride
	}
	if len(list) == maxPoints {
		kept := list[:0]
		for i := 0; i < len(list); i += 2 {
			kept = append(kept, list[i])
		}
		list, stride = kept, stride*2
		if n%stride != 0 {
			return list, stride
		}
	}
	return append(list, p), stride
}

// addSeqHeader keeps the sequence header at pos when it differs from the
// last one kept, within the bounds on their number and size.
func addSeqHeader(list []seqHeader, w *window, pos int64, h tagHeader) ([]seqHeader, error) {
	if h.size > maxSeqHeaderSize || len(list) >= maxSeqHeaders {
		return list, nil
	}
	body := make([]byte, h.size)
	if _, err := w.r.ReadAt(body, pos+flv.TagHeaderSize); err != nil {
		return list, fmt.Errorf("read sequence header: %w", err)
	}
	if n := len(list); n > 0 && bytes.Equal(list[n-1].body, body) {
		return list, nil
	}
	return append(list, seqHeader{pos, body}), nil
}

// finish computes the end of the media: the later of the tracks' last
// frames plus the duration of one frame, estimated from the gap before it
// (bounded, so that a timestamp jump does not count as a frame). It drops
// the audio points of files with video, which seek by keyframes.
func (s *scan) finish() {
	if s.hasVideo {
		s.audio = nil // seeking goes by video keyframes
	}
	end := func(last, prev uint32, frames int) uint32 {
		if frames < 2 || last < prev || last-prev > 1000 {
			return last
		}
		return last + (last - prev)
	}
	s.endTs = max(end(s.lastVideo, s.prevVideo, s.videoFrames), end(s.lastAudio, s.prevAudio, s.audioFrames))
}

// clean reports whether the file is served as it is stored: one run of
// valid tags to the end of the file, none left out.
func (s *scan) clean() bool {
	return !s.tail && s.damage == 0 && len(s.segments) <= 1 && !s.skipped
}

// damaged reports whether damaged bytes were left out.
func (s *scan) damaged() bool {
	return s.tail || s.damage > 0
}

// dataEnd is the end of the last valid tag.
func (s *scan) dataEnd() int64 {
	if len(s.segments) == 0 {
		return 0
	}
	return s.segments[len(s.segments)-1].end
}

// syncPoints are the places where playback can start: coded video
// keyframes, or for files without video the audio points.
func (s *scan) syncPoints() []point {
	if !s.hasVideo {
		return s.audio
	}
	return s.video
}

// thinned reports whether syncPoints misses some of the places it stands for.
func (s *scan) thinned() bool {
	if !s.hasVideo {
		return true // one audio point a second stands for every audio frame
	}
	return s.videoStride > 1
}
