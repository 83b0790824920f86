// Package flv reads and writes the FLV file format as it is used for live
// HTTP-FLV and RTMP relaying: the file header and tags ([Reader], [Writer],
// [AppendTag], [ParseHeader], [ParseTagHeader]), AMF0 script data such as
// onMetaData ([ReadAMF0], [AppendAMF0], [ParseScript]), and the audio and
// video tag headers of both the legacy FLV specification and enhanced RTMP
// ([ParseVideo], [ParseAudio]), which is enough to find keyframes and
// sequence headers without decoding any codec.
//
// It is the one place that knows FLV: the relay, the window, VOD and the
// bench call it for the header and tag headers, for the track a tag type
// belongs to ([TrackOf]), and for what a player needs before any frame
// ([IsConfig], [IsSequenceHeader], [IsMetadata]) or can start at
// ([IsKeyframe]). The keyframe index of stored files is in the
// subpackage index.
//
// [Reader.ReadTag] gives each tag a body of its own; [Reader.ReadTagReuse]
// reads every tag into one buffer, valid until the next call, for a relay
// that copies what it keeps: a stream then costs no allocation per tag.
//
// Everything that parses outside bytes returns an error instead of
// panicking, and allocates in proportion to the bytes it was actually given,
// never to a size or count field it has not been able to check. Errors carry
// what was being done and wrap [ErrInvalid] for malformed input,
// [errors.ErrUnsupported] for valid input this package does not handle,
// [ErrTooLarge] for sizes over a limit, and [io.ErrUnexpectedEOF] for
// truncated input.
//
// The package uses only the standard library and knows nothing of the
// server, so it can be used on its own.
package flv
