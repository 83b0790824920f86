// Package index finds what serving and seeking need in a stored FLV file
// without reading its media: one pass over the tag headers and the first
// bytes of the bodies ([ScanFile]) records the runs of valid tags, the
// keyframes (every video tag of keyframe type, as yamdi indexes them), the
// codec sequence headers, the onMetaData and the duration; a file whose
// onMetaData carries a keyframe index is taken at its word after a few
// checks, from its head alone ([ScanHead]). A [Scan] then answers where
// playback can start at or after a byte offset, at or before a time, and
// where a clip ends.
//
// Damage is not an error: the scan resynchronises on the next tag whose
// header, size and neighbours are plausible, and the damaged bytes are left
// out of the runs. A scan for one track ([Tracks]) sees the file without
// the other track's tags.
//
// Every bound is fixed whatever the file holds: seek points (thinned past
// [MaxPoints]), sequence headers, the onMetaData read, runs, the bytes
// looked at while resynchronising, and the tags a seek walks. The package
// knows FLV through package flv and nothing of HTTP.
package index
