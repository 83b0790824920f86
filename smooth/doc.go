// Package smooth serves Smooth Streaming ([MS-SSTR]) presentations of the
// stored MP4 files under a vod.Handler's roots, with no packaging step:
// /prefix/dir/name.ism/Manifest is the manifest of a presentation and
// /prefix/dir/name.ism/QualityLevels(<bitrate>)/Fragments(video=<time>)
// (or audio=) a fragment cut from the samples of one of its files on the
// fly (package mp4: moof and mdat, the mdat's payload sent with sendfile).
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
// The parsed files are those package vod caches for clips, and the
// presentation's plan (chunks, levels, manifest) is kept beside them (see
// vod.Handler.Keep) under the folder's name and the versions of its files:
// a file rewritten makes a new plan. Answers are package vod's (Range,
// conditional requests, write deadlines, X-Cache-Status, access log).
//
// The package owns the planning (plan.go), the manifest (manifest.go), the
// fragments (fragment.go) and the URLs and their answers (url.go,
// handler.go). It stands on packages vod, mp4 and vfile; package vod knows
// nothing of it: the server mounts a Handler in front of the vod.Handler.
package smooth
