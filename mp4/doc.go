// Package mp4 reads and writes progressive MP4 files (ISO/IEC 14496-12, the
// ISO base media file format) for serving them over HTTP: the top-level
// boxes of a file and the boxes of its movie ([Parse], [Box]), each track's
// sample table as a view of its samples ([SampleTable]: decoding time,
// duration, composition offset, size, file offset, keyframe), and two ways
// of serving a stored file without copying its media:
//
//   - [File.Clip] cuts every track to an interval of time. Video starts at
//     the keyframe at or before the start and audio a frame early (its
//     pre-roll), and edit lists hide what precedes the start, so that
//     playback begins exactly there and decodes cleanly. The source's own
//     edit lists are honoured, durations rewritten, and the movie box comes
//     before the media.
//   - [File.Faststart] moves a movie box that follows the media in front of
//     it, with its chunk offsets rewritten, so that players can start
//     before they have the whole file.
//
// [Track.Fragment] cuts a run of a track's samples as a movie fragment
// (moof and mdat) in a timescale of the caller's choosing, for protocols
// that send fragments (Smooth Streaming), with [Track.SampleEntry] for the
// codec configuration (avcC, esds) that their clients need.
//
// All three give a virtual file ([vfile.Layout]) made of a few bytes held
// in memory (the new movie box, or the moof) and ranges of the stored
// file, read with a [vfile.Reader] (io.ReadSeeker and io.ReaderAt) as if
// it existed, so that HTTP Range requests apply to it as to any file.
//
// Offsets and sizes are 64-bit throughout (largesize boxes, co64 chunk
// offsets, files over 4 GB). Fragmented MP4 files are recognised and
// refused with [ErrFragmented]: they need no moving and have no sample
// tables in their movie box.
//
// Everything that parses outside bytes returns an error instead of
// panicking, and allocates in proportion to the bytes it was actually
// given, never to a size or count field it has not been able to check: a
// box that claims 2^64 bytes or a table that claims 2^32 entries is
// measured against the bytes around it first. Work is bounded the same way:
// a table that claims billions of samples of one size in one run costs one
// run, not billions of steps. Errors carry what was being done and wrap
// [ErrInvalid] for malformed input, [errors.ErrUnsupported] for valid input
// this package does not handle, [ErrTooLarge] for sizes over a limit, and
// [io.ErrUnexpectedEOF] for truncated input.
//
// The package uses only the standard library and package vfile, and knows
// nothing of the server, so it can be used on its own.
package mp4
