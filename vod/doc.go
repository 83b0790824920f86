// Package vod serves stored video files over HTTP: plain GET and HEAD with
// Range and conditional requests through http.ServeContent, and for FLV
// files the seeking that players expect without any preprocessing of the
// files:
//
//   - a keyframe index (onMetaData keyframes.filepositions and times, as
//     yamdi writes it) built by scanning the file once when it has none,
//     cached, and served in a virtual file that Range applies to;
//   - ?start=<byte offset>, the mod_flv contract, moved to the next
//     keyframe and preceded by onMetaData and the codec sequence headers so
//     that every response plays on its own;
//   - ?t=<start>[,<end>] in seconds (W3C Media Fragments), a virtual clip
//     with timestamps from zero and its own duration and index;
//   - ?only_audio=1 and ?only_video=1, the file as if it never had the
//     other track's tags, scanned for it and cached apart: its own header,
//     onMetaData and index, and everything above on that virtual file.
//
// MP4 files get ?start=<s>&end=<s> in seconds (and ?t=), a virtual clip
// that plays from exactly start, and their moov moved in front of their
// media on the fly when it is stored after it (see package mp4).
//
// Every answer is a stored file or a virtual one (package vfile) sent
// with http.ServeContent, its stored ranges with sendfile.
//
// Handlers of other URL forms of the same files answer through the
// Handler (Serve, Open, Movie, Keep): package smooth serves the MP4 files
// as Smooth Streaming presentations, in front of a Handler. This package
// knows nothing of them.
//
// Files are found under roots, one directory per URL prefix, and resolved
// safely: no "..", no hidden names, no symbolic link out of the root
// unless allowed, only configured extensions. Damaged FLV files are served
// without their damaged parts, found by resynchronising on valid tag
// headers. Every bound on memory is fixed, whatever the files hold.
//
// Handler is an http.Handler, so that access rules and metrics wrap it like
// any other. A wrapper that hides io.ReaderFrom costs the sendfile path.
package vod
