package flv

import (
	"errors"
	"net/url"
	"slices"
)

// The only_audio and only_video filters of HTTP-FLV servers
// (nginx-http-flv-module, SRS): a viewer asks for one track of a stream or
// a file and gets an FLV whose header and onMetaData announce that track
// alone.

// ErrBothTracks is the error of a query that sets both filters.
var ErrBothTracks = errors.New("only_audio and only_video exclude each other")

// WantedTracks reads only_audio and only_video ("1", "true" or "yes") from
// a query: the tracks a response carries, both when neither is set.
func WantedTracks(q url.Values) (audio, video bool, err error) {
	onlyAudio, onlyVideo := isTrue(q.Get("only_audio")), isTrue(q.Get("only_video"))
	if onlyAudio && onlyVideo {
		return false, false, ErrBothTracks
	}
	return !onlyVideo, !onlyAudio, nil
}

func isTrue(v string) bool { return v == "1" || v == "true" || v == "yes" }

// Keys that describe one track in onMetaData.
var (
	audioKeys = []string{"audiocodecid", "audiodatarate", "audiosamplerate", "audiosamplesize", "stereo", "audiodelay"}
	videoKeys = []string{"videocodecid", "videodatarate", "width", "height", "framerate", "videoframerate"}
)

// KeptFor reports whether an onMetaData property stays in the metadata of
// a response that carries only the tracks given: a key that describes a
// track left out goes, as players wait for a track that metadata
// announces. hasAudio and hasVideo are the caller's to write anew.
func KeptFor(key string, audio, video bool) bool {
	switch {
	case key == "hasAudio" || key == "hasVideo":
		return false
	case !audio && slices.Contains(audioKeys, key):
		return false
	case !video && slices.Contains(videoKeys, key):
		return false
	}
	return true
}

// Track is a media track of an FLV stream. AudioTrack and VideoTrack are 0
// and 1, so that a Track indexes per-track arrays; NoTrack stands for
// script data and the tag types no track carries.
type Track int

const (
	NoTrack    Track = -1
	AudioTrack Track = 0
	VideoTrack Track = 1
)

// TrackOf returns the track that tags of type tagType belong to.
func TrackOf(tagType uint8) Track {
	switch tagType {
	case TagAudio:
		return AudioTrack
	case TagVideo:
		return VideoTrack
	}
	return NoTrack
}
