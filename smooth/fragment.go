package smooth

import (
	"encoding/binary"

	"github.com/flvedge/flvedge/mp4"
	"github.com/flvedge/flvedge/vfile"
)

// tfxdUUID is the extended type of Smooth Streaming's
// TfxdBox ([MS-SSTR] 2.2.4.4): the absolute time and duration of a
// fragment.
var tfxdUUID = [16]byte{0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2}

// cutFragment cuts chunk k of quality level lv, a track of its file, as a
// movie fragment: a moof with Smooth Streaming's tfxd, and the mdat's
// samples as ranges of the stored file.
func cutFragment(t *mp4.Track, lv *smoothLevel, k int) (*vfile.Layout, error) {
	return t.Fragment(lv.bounds[k], lv.bounds[k+1], mp4.FragmentOptions{
		Sequence:  uint32(k + 1),
		Timescale: smoothTimescale,
		Extra:     tfxd,
	})
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
