package vod

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxSeconds bounds the times ?t= accepts: a hundred years of video is no
// file, and beyond 2^53 ms floats would not even be exact.
const maxSeconds = 100 * 365 * 24 * 3600

// parseStart reads ?start= as the mod_flv modules do: a decimal byte
// offset, empty or 0 meaning the whole file. Anything else (a sign,
// letters) is an error, as MP4's ?start= makes it: answered with the whole
// file, a malformed seek would pass for a seek to the start. A number too
// large for int64 is past any end.
func parseStart(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, errStart
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return math.MaxInt64, nil // all digits: only overflow fails
	}
	return n, nil
}

var errStart = errors.New("start must be a byte offset in decimal digits")

var errTimeRange = errors.New("t must be start[,end] in seconds or [h:]mm:ss, with end after start")

// parseTimeRange reads ?t= in the W3C Media Fragments form: [npt:]start[,end]
// with either part in seconds (12.5) or clock time (1:02:03.5, 02:03), and
// start omitted meaning 0. It returns milliseconds; end is -1 when absent.
func parseTimeRange(v string) (start, end int64, err error) {
	v = strings.TrimPrefix(v, "npt:")
	s, e, hasEnd := strings.Cut(v, ",")
	if s == "" && !hasEnd {
		return 0, 0, errTimeRange
	}
	start, end = 0, -1
	if s != "" {
		if start, err = parseClock(s); err != nil {
			return 0, 0, err
		}
	}
	if hasEnd {
		if end, err = parseClock(e); err != nil {
			return 0, 0, err
		}
		if end <= start {
			return 0, 0, fmt.Errorf("t=%s: %w", v, errTimeRange)
		}
	}
	return start, end, nil
}

// parseClock reads 12.5, 02:03 or 1:02:03.5 as milliseconds. Only digits,
// one dot and colons are accepted, so that strconv's inf, nan, exponents
// and hexadecimal floats never get in.
func parseClock(v string) (int64, error) {
	fields := strings.Split(v, ":")
	if len(fields) > 3 || v == "" {
		return 0, fmt.Errorf("t: %q: %w", v, errTimeRange)
	}
	var total float64
	for i, f := range fields {
		last := i == len(fields)-1
		if f == "" || strings.Trim(f, "0123456789.") != "" || strings.Count(f, ".") > 1 || (!last && strings.Contains(f, ".")) {
			return 0, fmt.Errorf("t: %q: %w", v, errTimeRange)
		}
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || (i > 0 && x >= 60) {
			return 0, fmt.Errorf("t: %q: %w", v, errTimeRange)
		}
		total = total*60 + x
	}
	if total > maxSeconds {
		return 0, fmt.Errorf("t: %q is beyond any file: %w", v, errTimeRange)
	}
	return int64(math.Round(total * 1000)), nil
}
