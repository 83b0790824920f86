package index

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
	// MaxPoints bounds the seek points kept per list. Past it the list is
	// thinned to every other point, and from then on every other candidate
	// is taken: 2^17 keyframes is 36 hours at one keyframe a second.
	MaxPoints = 1 << 17
	// maxSeqHeaders bounds the distinct sequence headers kept per track;
	// real files change codec configuration a handful of times at most.
	maxSeqHeaders = 32
	// maxSeqHeaderSize bounds one kept sequence header. An avcC is tens of
	// bytes, an hvcC with parameter sets a few hundred.
	maxSeqHeaderSize = 16 << 10
	// MaxMetaSize bounds the onMetaData tag that is read and decoded. One
	// with a keyframe index for a three-hour film is about 400 KiB.
	MaxMetaSize = 1 << 20
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
	PointKeyframe  uint8 = iota // a coded video keyframe: decoding starts here
	PointSeqHeader              // a video sequence header (keyframe type)
	PointOther                  // another video tag of keyframe type, such as end of sequence
	PointAudio                  // an audio frame of a file without video
)

// Point is a place where a player may start reading the file.
type Point struct {
	Pos  int64 // offset of the tag in the stored file
	TS   uint32
	Kind uint8 // PointKeyframe, ...
}

// Span is a range [Start, End) of the stored file.
type Span struct{ Start, End int64 }

// SeqHeader is a codec configuration tag: a player needs the latest one
// before the frames it decodes.
type SeqHeader struct {
	Pos  int64
	Body []byte
}

// ErrNotFLV is wrapped by scan errors about files that cannot be served
// as FLV at all.
var ErrNotFLV = errors.New("not an FLV file")

// ErrTooManyRuns is the error of a scan for one track of a file whose
// tags of that track make more than maxRuns runs.
var ErrTooManyRuns = fmt.Errorf("more than %d runs of tags of the track", maxRuns)

// Tracks are the tracks a response carries: both, or one for only_audio
// and only_video. A scan for one track sees the file without the other's
// tags, so that the whole view, seeking and its index are those of a file
// that never had them.
type Tracks struct{ Audio, Video bool }

// AllTracks is the whole file.
var AllTracks = Tracks{Audio: true, Video: true}

// Keeps reports whether tags of type typ are served; script tags always are.
func (t Tracks) Keeps(typ uint8) bool {
	switch flv.TrackOf(typ) {
	case flv.AudioTrack:
		return t.Audio
	case flv.VideoTrack:
		return t.Video
	}
	return true
}

// Scan is what one pass over a stored FLV file finds.
type Scan struct {
	Size               int64
	Want               Tracks // the tracks scanned; the other's tags are left out
	HasAudio, HasVideo bool   // tags of that kind were seen
	// Segments are the runs of consecutive valid tags, in file order. A
	// clean file has one, from the first tag to the end of the last
	// complete tag.
	Segments []Span
	// Tail is set when bytes after the last valid tag were dropped: a
	// truncated last tag or garbage.
	Tail bool
	// Meta is the onMetaData tag found before any frame, if any; MetaBody
	// is its body when it is no larger than MaxMetaSize.
	Meta     Span
	MetaBody []byte
	// Video holds the video tags of keyframe type (yamdi and players take
	// every one of them as a seek point); Audio, for files without video,
	// one audio frame per second. A stride over 1 means the list was
	// thinned: it holds every stride-th candidate.
	Video, Audio             []Point
	VideoStride, AudioStride int
	SeqVideo, SeqAudio       []SeqHeader
	// EndTs is where the media ends, in milliseconds: the last frame's
	// timestamp plus its duration, estimated from the frame before.
	EndTs uint32
	// Damage counts the resynchronisations, for the log.
	Damage int
	// Skipped is set when tags of a track not wanted were left out.
	Skipped bool

	videoSeen, audioSeen                       int // candidates offered, for thinning
	nextAudioPoint                             uint32
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

// TagHeader decodes the tag header at the start of b when it is what
// every valid tag has: a known type with the reserved and filter bits
// clear, and a stream ID of zero. It is the test the resynchroniser runs
// at every byte, so it is cheap and rejects almost every random position
// before decoding anything.
func TagHeader(b []byte) (flv.TagHeader, bool) {
	if len(b) < flv.TagHeaderSize {
		return flv.TagHeader{}, false
	}
	switch b[0] {
	case flv.TagAudio, flv.TagVideo, flv.TagScript:
	default:
		return flv.TagHeader{}, false
	}
	h, err := flv.ParseTagHeader(b)
	return h, err == nil && h.StreamID == 0
}

// readHeader reads and checks the FLV file header.
func readHeader(w *window) (flv.Header, error) {
	b, err := w.peek(0, flv.HeaderSize)
	if err != nil {
		return flv.Header{}, fmt.Errorf("read header: %w", err)
	}
	h, err := flv.ParseHeader(b)
	if err != nil {
		return flv.Header{}, fmt.Errorf("%w: %w", ErrNotFLV, err)
	}
	return h, nil
}

// ScanFile reads the tags of an FLV file once, headers and the first
// bytes of bodies only, and records what serving and seeking need: of the
// tags of the tracks wanted, the others being left out of the segments,
// which are then the runs of kept tags. Damage is not an error: the
// scanner resynchronises on the next valid tag and the damaged bytes are
// left out of what is served. Only a file that is not FLV at all (or that
// cannot be read) is an error.
func ScanFile(r io.ReaderAt, size int64, want Tracks) (*Scan, error) {
	w := newWindow(r, size)
	hdr, err := readHeader(w)
	if err != nil {
		return nil, err
	}
	first := hdr.FirstTag()
	s := &Scan{Size: size, Want: want, VideoStride: 1, AudioStride: 1}
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
			if !found || s.Damage+1 >= maxSegments {
				s.Tail = true
				break
			}
			s.Damage++
			pos = next
			continue
		}
		end := pos + int64(h.DataSize) + tagPrefix
		if !want.Keeps(h.Type) {
			s.Skipped = true
			pos = end
			continue
		}
		if n := len(s.Segments); n > 0 && s.Segments[n-1].End == pos {
			s.Segments[n-1].End = end
		} else {
			if n >= maxRuns {
				return nil, ErrTooManyRuns
			}
			s.Segments = append(s.Segments, Span{pos, end})
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
func validTag(w *window, pos int64, strict bool, far *int) (flv.TagHeader, bool, error) {
	b, err := w.peek(pos, flv.TagHeaderSize)
	if err != nil {
		return flv.TagHeader{}, false, err
	}
	h, ok := TagHeader(b)
	if !ok {
		return h, false, nil
	}
	end := pos + int64(h.DataSize) + tagPrefix
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
	prevOK := binary.BigEndian.Uint32(b) == uint32(h.DataSize+flv.TagHeaderSize)
	nextOK := end == w.size
	if !nextOK {
		_, nextOK = TagHeader(b[4:])
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
			if _, ok := TagHeader(b[i:]); ok {
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
func (s *Scan) record(w *window, pos int64, h flv.TagHeader) error {
	b, err := w.peek(pos, flv.TagHeaderSize+min(h.DataSize, probeSize))
	if err != nil {
		return err
	}
	body := b[flv.TagHeaderSize:]
	switch h.Type {
	case flv.TagVideo:
		return s.recordVideo(w, pos, h, body)
	case flv.TagAudio:
		return s.recordAudio(w, pos, h, body)
	default:
		return s.recordScript(w, pos, h, body)
	}
}

func (s *Scan) recordVideo(w *window, pos int64, h flv.TagHeader, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	s.HasVideo = true
	info, err := flv.ParseVideo(body)
	parsed := err == nil
	// The frame type alone decides, as it does for yamdi and the players
	// that read the index: a keyframe-type tag that does not parse (its
	// codec unknown to us) is still a place to start.
	if flv.FrameType(body) == flv.FrameTypeKey {
		kind := PointOther
		switch {
		case parsed && info.Keyframe:
			kind = PointKeyframe
		case parsed && info.SequenceHeader:
			kind = PointSeqHeader
		}
		s.Video, s.VideoStride = addPoint(s.Video, Point{pos, h.Timestamp, kind}, &s.videoSeen, s.VideoStride)
	}
	switch {
	case parsed && info.SequenceHeader:
		list, err := addSeqHeader(s.SeqVideo, w, pos, h)
		s.SeqVideo = list
		return err
	case parsed && (info.PacketType == flv.PacketTypeCodedFrames || info.PacketType == flv.PacketTypeCodedFramesX || info.PacketType == flv.PacketTypeMultitrack):
		s.sawFrame = true
		s.prevVideo, s.lastVideo = s.lastVideo, h.Timestamp
		s.videoFrames++
	}
	return nil
}

func (s *Scan) recordAudio(w *window, pos int64, h flv.TagHeader, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	s.HasAudio = true
	info, err := flv.ParseAudio(body)
	if err == nil && info.SequenceHeader {
		list, err := addSeqHeader(s.SeqAudio, w, pos, h)
		s.SeqAudio = list
		return err
	}
	s.sawFrame = true
	s.prevAudio, s.lastAudio = s.lastAudio, h.Timestamp
	s.audioFrames++
	if h.Timestamp >= s.nextAudioPoint {
		s.Audio, s.AudioStride = addPoint(s.Audio, Point{pos, h.Timestamp, PointAudio}, &s.audioSeen, s.AudioStride)
		s.nextAudioPoint = h.Timestamp - h.Timestamp%audioPointEvery + audioPointEvery
	}
	return nil
}

func (s *Scan) recordScript(w *window, pos int64, h flv.TagHeader, body []byte) error {
	// Only an onMetaData before the first frame describes the file; a
	// later one is data like any other and stays where it is.
	if s.sawFrame || s.Meta.End != 0 {
		return nil
	}
	if !flv.IsMetadata(body) {
		return nil
	}
	s.Meta = Span{pos, pos + int64(h.DataSize) + tagPrefix}
	if h.DataSize > MaxMetaSize {
		return nil
	}
	s.MetaBody = make([]byte, h.DataSize)
	if _, err := w.r.ReadAt(s.MetaBody, pos+flv.TagHeaderSize); err != nil {
		return fmt.Errorf("read onMetaData: %w", err)
	}
	return nil
}

// addPoint appends p to list unless thinning skips it, and thins the list
// when it is full. It returns the list and the stride now in force.
func addPoint(list []Point, p Point, seen *int, stride int) ([]Point, int) {
	n := *seen
	*seen = n + 1
	if n%stride != 0 {
		return list, stride
	}
	if len(list) == MaxPoints {
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
func addSeqHeader(list []SeqHeader, w *window, pos int64, h flv.TagHeader) ([]SeqHeader, error) {
	if h.DataSize > maxSeqHeaderSize || len(list) >= maxSeqHeaders {
		return list, nil
	}
	body := make([]byte, h.DataSize)
	if _, err := w.r.ReadAt(body, pos+flv.TagHeaderSize); err != nil {
		return list, fmt.Errorf("read sequence header: %w", err)
	}
	if n := len(list); n > 0 && bytes.Equal(list[n-1].Body, body) {
		return list, nil
	}
	return append(list, SeqHeader{pos, body}), nil
}

// finish computes the end of the media: the later of the tracks' last
// frames plus the duration of one frame, estimated from the gap before it
// (bounded, so that a timestamp jump does not count as a frame). It drops
// the audio points of files with video, which seek by keyframes.
func (s *Scan) finish() {
	if s.HasVideo {
		s.Audio = nil // seeking goes by video keyframes
	}
	end := func(last, prev uint32, frames int) uint32 {
		if frames < 2 || last < prev || last-prev > 1000 {
			return last
		}
		return last + (last - prev)
	}
	s.EndTs = max(end(s.lastVideo, s.prevVideo, s.videoFrames), end(s.lastAudio, s.prevAudio, s.audioFrames))
}

// Clean reports whether the file is served as it is stored: one run of
// valid tags to the end of the file, none left out.
func (s *Scan) Clean() bool {
	return !s.Tail && s.Damage == 0 && len(s.Segments) <= 1 && !s.Skipped
}

// Damaged reports whether damaged bytes were left out.
func (s *Scan) Damaged() bool {
	return s.Tail || s.Damage > 0
}

// DataEnd is the end of the last valid tag.
func (s *Scan) DataEnd() int64 {
	if len(s.Segments) == 0 {
		return 0
	}
	return s.Segments[len(s.Segments)-1].End
}

// SyncPoints are the places where playback can start: coded video
// keyframes, or for files without video the audio points.
func (s *Scan) SyncPoints() []Point {
	if !s.HasVideo {
		return s.Audio
	}
	return s.Video
}

// Thinned reports whether SyncPoints misses some of the places it stands for.
func (s *Scan) Thinned() bool {
	if !s.HasVideo {
		return true // one audio point a second stands for every audio frame
	}
	return s.VideoStride > 1
}
