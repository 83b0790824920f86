// Package vfile holds virtual files: files that do not exist on disk but
// are laid out as bytes held in memory and ranges of one stored file, in
// order ([Layout]), and read as if they existed ([Reader]: io.Reader,
// io.Seeker and io.ReaderAt), so that http.ServeContent answers Range and
// conditional requests for them as for any file.
//
// A Layout says where each stored range comes from, so that a server can
// send those ranges from the stored file without copying them (sendfile)
// and write only the parts held in memory. A stored range may carry an
// [Editor] that changes its bytes as they are read (an FLV clip lowers the
// timestamps of its tags); such a range is read, never sent as stored.
//
// Package mp4 lays out its clips, moov-first files and fragments as
// virtual files, and package vod its FLV views (a keyframe index in front
// of the stored tags, ?start= and ?t=) and sends them all. The package
// uses only the standard library.
package vfile
