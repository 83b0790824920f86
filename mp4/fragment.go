package mp4

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/flvedge/flvedge/vfile"
)

// Fragments: a run of a track's samples as a movie fragment (ISO/IEC
// 14496-12, 8.8): a moof box that describes them (mfhd, then a traf with
// tfhd and trun) and an mdat box with their bytes, cut from a progressive
// file on the fly. Protocols that send such fragments from an
// initialization segment of their own (Smooth Streaming, whose clients
// build it from a manifest) get every sample's size, duration, flags and
// composition offset in the trun, in a timescale of their choosing, and
// may add boxes of their own to the traf.

var (
	typeMfhd = Type{'m', 'f', 'h', 'd'}
	typeTraf = Type{'t', 'r', 'a', 'f'}
	typeTfhd = Type{'t', 'f', 'h', 'd'}
	typeTrun = Type{'t', 'r', 'u', 'n'}
)

// FragmentOptions are how Fragment writes a fragment.
type FragmentOptions struct {
	// Sequence is the mfhd sequence number.
	Sequence uint32
	// TrackID is the tfhd track ID; 0 means the track's own.
	TrackID uint32
	// Timescale is the unit of the trun's durations and composition
	// offsets and of the times given to Extra; 0 means the track's own.
	Timescale uint32
	// Extra, if set, returns boxes added at the end of the traf, given the
	// decoding time of the first sample and the fragment's duration in
	// Timescale.
	Extra func(time, duration uint64) []*Box
}

// Sample flags of the trun (ISO/IEC 14496-12, 8.8.3.1): a sync sample
// depends on no other; any other sample depends on others and is not a
// sync sample.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// trun flags: data offset, and per sample duration, size, flags and
// composition offset.
const (
	trunDataOffset  = 0x000001
	trunDuration    = 0x000100
	trunSize        = 0x000200
	trunFlags       = 0x000400
	trunComposition = 0x000800
)

// Fragment returns samples [from, to) of the track as a movie fragment: a
// moof box held in memory followed by an mdat box whose payload is the
// samples' bytes in the stored file. Times in another timescale are
// rescaled from the samples' decoding and composition times, not from
// their durations, so that the fragments of a track, in order, add up to
// exactly the rescaled times of its samples. The work and memory are in
// proportion to the samples of the fragment.
func (t *Track) Fragment(from, to uint32, opt FragmentOptions) (*vfile.Layout, error) {
	st := t.Samples
	if from >= to || to > st.n {
		return nil, fmt.Errorf("mp4: fragment of samples [%d, %d) of %d: %w", from, to, st.n, ErrOutOfRange)
	}
	ts := uint64(t.Timescale)
	out := uint64(opt.Timescale)
	if out == 0 {
		out = ts
	}
	at := func(tm uint64) uint64 { return rescale(tm, ts, out) }
	count := to - from
	trackID := opt.TrackID
	if trackID == 0 {
		trackID = t.ID
	}

	flags := uint32(trunDataOffset | trunDuration | trunSize | trunFlags)
	if len(st.offsets) > 0 {
		flags |= trunComposition
	}
	trun := make([]byte, 12, 12+16*uint64(count))
	binary.BigEndian.PutUint32(trun, flags)
	binary.BigEndian.PutUint32(trun[4:], count)
	// The data offset, at trun[8:12], is filled in once the moof's size is
	// known.
	var chunks []outChunk
	var first, end uint64
	var payload int64
	negative := false
	for i, s := range st.Samples(from, to) {
		dts := at(s.Time)
		if i == from {
			first = dts
		}
		end = at(s.Time + uint64(s.Duration))
		trun = binary.BigEndian.AppendUint32(trun, uint32(min(end-dts, math.MaxUint32)))
		trun = binary.BigEndian.AppendUint32(trun, s.Size)
		if s.Keyframe {
			trun = binary.BigEndian.AppendUint32(trun, flagsSync)
		} else {
			trun = binary.BigEndian.AppendUint32(trun, flagsNonSync)
		}
		if flags&trunComposition != 0 {
			// A composition time before zero (a negative offset on an
			// early sample) is rescaled as such; either way the
			// difference cannot overflow, times being under 2^62 and
			// offsets 32-bit.
			cts, ctsOut := int64(s.Time)+int64(s.CompositionOffset), int64(0)
			if cts >= 0 {
				ctsOut = int64(at(uint64(cts)))
			} else {
				ctsOut = -int64(at(uint64(-cts)))
			}
			off := max(min(ctsOut-int64(dts), math.MaxInt32), math.MinInt32)
			negative = negative || off < 0
			trun = binary.BigEndian.AppendUint32(trun, uint32(int32(off)))
		}
		if k := len(chunks) - 1; k >= 0 && chunks[k].src+chunks[k].size == s.Offset {
			chunks[k].size += int64(s.Size)
		} else {
			chunks = append(chunks, outChunk{src: s.Offset, size: int64(s.Size)})
		}
		payload += int64(s.Size)
	}
	if negative {
		trun[0] = 1 // version 1: signed composition offsets
	}
	trunBox := NewBox(typeTrun, trun)

	mfhd := make([]byte, 8)
	binary.BigEndian.PutUint32(mfhd[4:], opt.Sequence)
	// tfhd: no defaults and no base data offset, so that the data offset
	// counts from the start of the moof.
	tfhd := binary.BigEndian.AppendUint32(make([]byte, 4), trackID)
	traf := NewContainer(typeTraf, NewBox(typeTfhd, tfhd), trunBox)
	if opt.Extra != nil {
		traf.Children = append(traf.Children, opt.Extra(first, end-first)...)
	}
	moof := NewContainer(typeMoof, NewBox(typeMfhd, mfhd), traf)

	mdatHdr := int64(8)
	if payload+8 > math.MaxUint32 {
		mdatHdr = 16
	}
	dataOffset := moof.Size() + mdatHdr
	if dataOffset > math.MaxInt32 {
		return nil, fmt.Errorf("mp4: fragment of %d samples: moof of %d bytes: %w", count, moof.Size(), ErrTooLarge)
	}
	binary.BigEndian.PutUint32(trunBox.Payload[8:], uint32(dataOffset))
	head := appendMdatHeader(moof.Append(make([]byte, 0, dataOffset)), payload, mdatHdr)
	l := &vfile.Layout{}
	l.AddMem(head)
	for _, c := range chunks {
		l.AddFile(c.src, c.size)
	}
	return l, nil
}

// Rescale converts a time from one timescale to another, rounding to the
// nearest, as Fragment does.
func Rescale(v uint64, from, to uint32) uint64 {
	return rescale(v, uint64(from), uint64(to))
}

// EndTime returns the decoding time that follows the last sample: the
// duration of the samples as the table has them.
func (t *SampleTable) EndTime() uint64 { return t.endTime() }
