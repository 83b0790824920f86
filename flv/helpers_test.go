package flv

import (
	"math"
	"os"
	"runtime"
	"testing"
)

// tinyFLV is testdata/tiny.flv: 0.6 s of 32x24 H.264 at 5 fps and mono AAC,
// made with
//
//	ffmpeg -f lavfi -i testsrc=size=32x24:rate=5:duration=0.6 \
//	  -f lavfi -i sine=frequency=440:sample_rate=22050:duration=0.6 \
//	  -c:v libx264 -preset ultrafast -tune zerolatency -g 3 -bf 0 \
//	  -c:a aac -b:a 16k -ac 1 -fflags +bitexact -flags:v +bitexact \
//	  -flags:a +bitexact -map_metadata -1 -f flv tiny.flv
func tinyFLV(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/tiny.flv")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// heapAllocated returns how many heap bytes f allocates.
func heapAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// amfEqual is reflect.DeepEqual for decoded AMF0 values, except that
// numbers compare by their bits so that NaN equals itself.
func amfEqual(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case Date:
		b, ok := b.(Date)
		return ok && math.Float64bits(a.Millis) == math.Float64bits(b.Millis) && a.TimeZone == b.TimeZone
	case Object:
		b, ok := b.(Object)
		return ok && propertiesEqual(a, b)
	case ECMAArray:
		b, ok := b.(ECMAArray)
		return ok && propertiesEqual(a, b)
	case StrictArray:
		b, ok := b.(StrictArray)
		return ok && valuesEqual(a, b)
	case []any:
		b, ok := b.([]any)
		return ok && valuesEqual(a, b)
	default:
		return a == b
	}
}

func propertiesEqual(a, b []Property) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !amfEqual(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func valuesEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !amfEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// mustAMF0 encodes vals or fails the test.
func mustAMF0(tb testing.TB, vals ...any) []byte {
	tb.Helper()
	b, err := AppendAMF0(nil, vals...)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// obsMetadata is a script body as OBS publishes it over RTMP.
func obsMetadata(tb testing.TB) []byte {
	return mustAMF0(tb, "@setDataFrame", "onMetaData", ECMAArray{
		{"duration", 0.0},
		{"fileSize", 0.0},
		{"width", 1280.0},
		{"height", 720.0},
		{"videocodecid", 7.0},
		{"videodatarate", 2500.0},
		{"framerate", 30.0},
		{"audiocodecid", 10.0},
		{"audiodatarate", 160.0},
		{"audiosamplerate", 48000.0},
		{"audiosamplesize", 16.0},
		{"audiochannels", 2.0},
		{"stereo", true},
		{"2.1", false},
		{"3.1", false},
		{"4.0", false},
		{"4.1", false},
		{"5.1", false},
		{"7.1", false},
		{"encoder", "obs-output module (libobs version 30.1.2)"},
	})
}

// connectCommand is an RTMP connect command, AMF0 as a publisher sends it.
func connectCommand(tb testing.TB) []byte {
	return mustAMF0(tb, "connect", 1.0, Object{
		{"app", "live"},
		{"type", "nonprivate"},
		{"flashVer", "FMLE/3.0 (compatible; FMSc/1.0)"},
		{"swfUrl", "rtmp://localhost/live"},
		{"tcUrl", "rtmp://localhost/live"},
		{"fourCcList", StrictArray{"av01", "vp09", "hvc1"}},
		{"videoFourCcInfoMap", Object{{"hvc1", 3.0}}},
	}, nil, Undefined{}, Date{Millis: 1.7e12})
}
