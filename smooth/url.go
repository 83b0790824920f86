package smooth

import (
	"strconv"
	"strings"
)

// ismExt is the extension of a presentation's name in URLs.
const ismExt = ".ism"

// smoothPath splits the part of a URL path under a root that names a
// Smooth Streaming resource: "dir/name.ism" and what follows it.
func smoothPath(rel string) (ism, rest string, ok bool) {
	i := strings.Index(rel, ismExt+"/")
	if i <= 0 {
		return "", "", false
	}
	return rel[:i+len(ismExt)], rel[i+len(ismExt)+1:], true
}

// smoothRequest is what the part of a Smooth Streaming URL after
// name.ism/ asks for: the manifest, or the fragment of a stream (video or
// audio) at a quality level (its bitrate) and a start time (in the
// manifest's 10 MHz timescale).
type smoothRequest struct {
	manifest bool
	bitrate  uint64
	stream   string
	time     uint64
}

// maxStreamName bounds the stream name of a fragment URL: the names this
// server gives are "video" and "audio".
const maxStreamName = 32

// parseSmoothPath reads "Manifest" or
// "QualityLevels(<bitrate>)/Fragments(<stream>=<time>)", the URL template
// of [MS-SSTR] 2.2.3 with the names this server's manifests give. The
// manifest is found in any case, as IIS finds it ("manifest" is common in
// players' and proxies' rewrite rules). Fragments are named as the
// manifest names them, and numbers are plain decimal without sign or
// leading zeros, so that every fragment has one URL, which caches on the
// way store once.
func parseSmoothPath(p string) (smoothRequest, bool) {
	if strings.EqualFold(p, "Manifest") {
		return smoothRequest{manifest: true}, true
	}
	var req smoothRequest
	level, frag, ok := strings.Cut(p, "/")
	if !ok {
		return req, false
	}
	arg, ok := enclosed(level, "QualityLevels(")
	if !ok {
		return req, false
	}
	if req.bitrate, ok = decimal(arg); !ok {
		return req, false
	}
	if arg, ok = enclosed(frag, "Fragments("); !ok {
		return req, false
	}
	name, at, ok := strings.Cut(arg, "=")
	if !ok || name == "" || len(name) > maxStreamName || !plainName(name) {
		return req, false
	}
	req.stream = name
	if req.time, ok = decimal(at); !ok {
		return req, false
	}
	return req, true
}

// enclosed returns what s holds between prefix and a closing parenthesis
// that ends it.
func enclosed(s, prefix string) (string, bool) {
	inner, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(inner, ")")
}

// decimal reads a plain decimal number: digits only, no leading zero
// unless it is 0, at most what uint64 holds.
func decimal(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// plainName reports whether s is made of lower-case letters, digits and
// underscores.
func plainName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// String returns the request as parseSmoothPath reads it.
func (r smoothRequest) String() string {
	if r.manifest {
		return "Manifest"
	}
	return "QualityLevels(" + strconv.FormatUint(r.bitrate, 10) + ")/Fragments(" + r.stream + "=" + strconv.FormatUint(r.time, 10) + ")"
}
