package flv

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestAMF0RoundTrip(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 5000) // 80000 bytes: a long string
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"number", 1280.0},
		{"negative number", -0.5},
		{"infinity", math.Inf(-1)},
		{"NaN", math.NaN()},
		{"true", true},
		{"false", false},
		{"empty string", ""},
		{"string", "onMetaData"},
		{"utf-8 string", "Größe ✓"},
		{"string of 65535 bytes", strings.Repeat("x", 65535)},
		{"long string", long},
		{"null", nil},
		{"undefined", Undefined{}},
		{"empty object", Object{}},
		{"object", Object{{"app", "live"}, {"objectEncoding", 0.0}, {"", "empty key"}}},
		{"nested object", Object{{"a", Object{{"b", Object{{"c", StrictArray{1.0, Object{}}}}}}}}},
		{"empty ECMA array", ECMAArray{}},
		{"ECMA array", ECMAArray{{"width", 1920.0}, {"stereo", true}, {"encoder", "Lavf"}}},
		{"ECMA array in object", Object{{"meta", ECMAArray{{"x", nil}}}}},
		{"empty strict array", StrictArray{}},
		{"strict array", StrictArray{1.0, "two", nil, Undefined{}, StrictArray{true}}},
		{"date", Date{Millis: 1700000000123, TimeZone: 0}},
		{"date with time zone", Date{Millis: -1, TimeZone: -60}},
		{"long string in object", Object{{"long", long}}},
	} {
		b := mustAMF0(t, tc.v)
		got, n, err := ReadAMF0(b)
		if err != nil {
			t.Errorf("%s: ReadAMF0: %v", tc.name, err)
			continue
		}
		if n != len(b) {
			t.Errorf("%s: ReadAMF0 took %d of %d bytes", tc.name, n, len(b))
		}
		if !amfEqual(got, tc.v) {
			t.Errorf("%s: round trip = %#v, want %#v", tc.name, got, tc.v)
		}
	}
}

func TestAMF0Golden(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want []byte
	}{
		{"number", 1.0, []byte{0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"boolean", true, []byte{0x01, 0x01}},
		{"string", "ab", []byte{0x02, 0x00, 0x02, 'a', 'b'}},
		{"object", Object{{"a", false}}, []byte{0x03, 0x00, 0x01, 'a', 0x01, 0x00, 0x00, 0x00, 0x09}},
		{"null", nil, []byte{0x05}},
		{"undefined", Undefined{}, []byte{0x06}},
		{"ECMA array", ECMAArray{{"a", nil}}, []byte{0x08, 0, 0, 0, 1, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x09}},
		{"strict array", StrictArray{nil, nil}, []byte{0x0a, 0, 0, 0, 2, 0x05, 0x05}},
		{"[]any", []any{true}, []byte{0x0a, 0, 0, 0, 1, 0x01, 0x01}},
		{"date", Date{Millis: 1.0, TimeZone: -1}, []byte{0x0b, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}},
		{"map", map[string]any{"b": nil, "a": nil}, []byte{0x03, 0, 1, 'a', 0x05, 0, 1, 'b', 0x05, 0, 0, 0x09}},
	} {
		got := mustAMF0(t, tc.v)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
	long := mustAMF0(t, strings.Repeat("x", 65536))
	if !bytes.Equal(long[:5], []byte{0x0c, 0, 1, 0, 0}) {
		t.Errorf("long string header = % x, want 0c 00 01 00 00", long[:5])
	}
}

func TestAppendAMF0Numbers(t *testing.T) {
	for _, v := range []any{int(-3), int8(-3), int16(-3), int32(-3), int64(-3), float32(-3)} {
		if got, want := mustAMF0(t, v), mustAMF0(t, -3.0); !bytes.Equal(got, want) {
			t.Errorf("%T: % x, want % x", v, got, want)
		}
	}
	for _, v := range []any{uint(3), uint8(3), uint16(3), uint32(3), uint64(3)} {
		if got, want := mustAMF0(t, v), mustAMF0(t, 3.0); !bytes.Equal(got, want) {
			t.Errorf("%T: % x, want % x", v, got, want)
		}
	}
}

func TestAppendAMF0Errors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, tc := range []struct {
		name string
		v    any
		want error
	}{
		{"struct", struct{}{}, errors.ErrUnsupported},
		{"pointer", new(float64), errors.ErrUnsupported},
		{"nested unsupported", Object{{"a", StrictArray{make(chan int)}}}, errors.ErrUnsupported},
		{"long key", Object{{strings.Repeat("k", 65536), nil}}, ErrTooLarge},
		{"cyclic", cyclic, ErrTooLarge},
	} {
		dst := []byte("keep")
		got, err := AppendAMF0(dst, "first", tc.v)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst = %q, want it unchanged", tc.name, got)
		}
	}
}

func TestAMF0Nesting(t *testing.T) {
	nest := func(depth int) any {
		var v any = "leaf"
		for range depth {
			v = StrictArray{v}
		}
		return v
	}
	ok := mustAMF0(t, nest(maxAMF0Depth))
	if _, _, err := ReadAMF0(ok); err != nil {
		t.Errorf("%d levels: %v", maxAMF0Depth, err)
	}
	if _, err := AppendAMF0(nil, nest(maxAMF0Depth+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("encoding %d levels: err = %v, want ErrTooLarge", maxAMF0Depth+1, err)
	}
	// Hand-made, as the encoder refuses: objects nested one level too deep.
	deep := bytes.Repeat([]byte{0x03, 0x00, 0x01, 'k'}, maxAMF0Depth+1)
	if _, _, err := ReadAMF0(deep); !errors.Is(err, ErrInvalid) {
		t.Errorf("decoding %d levels: err = %v, want ErrInvalid", maxAMF0Depth+1, err)
	}
}

func TestReadAMF0Lenient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  any
	}{
		{
			"ECMA array count 0 with properties",
			[]byte{0x08, 0, 0, 0, 0, 0, 1, 'a', 0x05, 0, 1, 'b', 0x01, 1, 0, 0, 0x09},
			ECMAArray{{"a", nil}, {"b", true}},
		},
		{
			"ECMA array count over the properties",
			[]byte{0x08, 0, 0, 0, 9, 0, 1, 'a', 0x05, 0, 0, 0x09},
			ECMAArray{{"a", nil}},
		},
		{
			"ECMA array without end marker",
			[]byte{0x08, 0, 0, 0, 1, 0, 1, 'a', 0x05},
			ECMAArray{{"a", nil}},
		},
		{
			"object with a bare empty key at the end",
			[]byte{0x03, 0, 1, 'a', 0x05, 0, 0},
			Object{{"a", nil}},
		},
		{"XML document", []byte{0x0f, 0, 0, 0, 3, '<', 'a', '>'}, "<a>"},
		{"typed object", []byte{0x10, 0, 2, 'C', 'l', 0, 1, 'x', 0x05, 0, 0, 0x09}, Object{{"x", nil}}},
		{"unsupported", []byte{0x0d}, Undefined{}},
		{"long string", []byte{0x0c, 0, 0, 0, 2, 'h', 'i'}, "hi"},
	} {
		got, n, err := ReadAMF0(tc.input)
		if err != nil || n != len(tc.input) || !amfEqual(got, tc.want) {
			t.Errorf("%s: ReadAMF0 = %#v, %d, %v; want %#v, %d", tc.name, got, n, err, tc.want, len(tc.input))
		}
	}
}

func TestReadAMF0Errors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"short number", []byte{0x00, 1, 2}, io.ErrUnexpectedEOF},
		{"short boolean", []byte{0x01}, io.ErrUnexpectedEOF},
		{"short string length", []byte{0x02, 0}, io.ErrUnexpectedEOF},
		{"short string", []byte{0x02, 0, 5, 'a'}, io.ErrUnexpectedEOF},
		{"long string length past the end", []byte{0x0c, 0xff, 0xff, 0xff, 0xff, 'a'}, io.ErrUnexpectedEOF},
		{"strict array count past the end", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x05}, io.ErrUnexpectedEOF},
		{"strict array short of values", []byte{0x0a, 0, 0, 0, 2, 0x05}, io.ErrUnexpectedEOF},
		{"short date", []byte{0x0b, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0}, io.ErrUnexpectedEOF},
		{"truncated key", []byte{0x03, 0, 4, 'a'}, io.ErrUnexpectedEOF},
		{"key without value", []byte{0x03, 0, 1, 'a'}, io.ErrUnexpectedEOF},
		{"short ECMA count", []byte{0x08, 0, 0}, io.ErrUnexpectedEOF},
		{"reference", []byte{0x07, 0, 0}, errors.ErrUnsupported},
		{"AMF3", []byte{0x11, 0x01}, errors.ErrUnsupported},
		{"movie clip", []byte{0x04}, errors.ErrUnsupported},
		{"record set", []byte{0x0e}, errors.ErrUnsupported},
		{"object end alone", []byte{0x09}, ErrInvalid},
		{"unknown marker", []byte{0x12}, ErrInvalid},
		{"bad value in object", []byte{0x03, 0, 1, 'a', 0x42}, ErrInvalid},
	} {
		v, n, err := ReadAMF0(tc.input)
		if !errors.Is(err, tc.want) || v != nil || n != 0 {
			t.Errorf("%s: ReadAMF0 = %v, %d, %v; want nil, 0, %v", tc.name, v, n, err, tc.want)
		}
	}
}

func TestReadAMF0HugeDeclaredSizesAllocateLittle(t *testing.T) {
	for _, input := range [][]byte{
		{0x0c, 0xff, 0xff, 0xff, 0xf0, 'a', 'b'},
		{0x0a, 0xff, 0xff, 0xff, 0xf0, 0x05, 0x05},
		{0x08, 0xff, 0xff, 0xff, 0xf0, 0, 1, 'a', 0x05},
	} {
		// The least of a few runs: the process's other goroutines (the
		// test runner's) may allocate during one, which the measure
		// counts, and ReadAMF0 allocates the same every time. CI saw
		// 6008 bytes once, on a bound of 4096.
		n := uint64(math.MaxUint64)
		for range 5 {
			n = min(n, heapAllocated(func() { _, _, _ = ReadAMF0(input) }))
		}
		if n > 4096 {
			t.Errorf("ReadAMF0(% x) allocated %d bytes", input, n)
		}
	}
}

func TestDecodeAMF0(t *testing.T) {
	b := connectCommand(t)
	vals, err := DecodeAMF0(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 6 || vals[0] != "connect" || vals[1] != 1.0 || vals[3] != nil || vals[4] != (Undefined{}) {
		t.Fatalf("DecodeAMF0 = %#v", vals)
	}
	obj := vals[2].(Object)
	if app, ok := obj.Get("app"); !ok || app != "live" {
		t.Errorf(`Get("app") = %v, %v`, app, ok)
	}
	if _, ok := obj.Get("missing"); ok {
		t.Error(`Get("missing") found something`)
	}
	if _, err := DecodeAMF0(append(b, 0x02)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("trailing partial value: err = %v", err)
	}
	if vals, err := DecodeAMF0(nil); vals != nil || err != nil {
		t.Errorf("DecodeAMF0(nil) = %v, %v", vals, err)
	}
}

func TestECMAArrayGet(t *testing.T) {
	a := ECMAArray{{"k", 1.0}, {"k", 2.0}}
	if v, ok := a.Get("k"); !ok || v != 1.0 {
		t.Errorf(`Get("k") = %v, %v; want the first, 1`, v, ok)
	}
}

// hostileAMF0 are inputs of about n bytes whose decoded values would cost
// far more memory than their bytes without a budget.
func hostileAMF0(n int) map[string][]byte {
	repeat := func(head, unit []byte) []byte {
		return append(head, bytes.Repeat(unit, (n-len(head))/len(unit))...)
	}
	count := func(marker byte, c int) []byte {
		return []byte{marker, byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
	}
	return map[string][]byte{
		// The RTMP connect of the issue: a strict array of nulls, its
		// count true or a lie.
		"strict array of nulls":       repeat(count(markerStrictArray, n-5), []byte{markerNull}),
		"strict array of lying count": repeat(count(markerStrictArray, 1<<30), []byte{markerNull}),
		"nulls one after another":     repeat(nil, []byte{markerNull}),
		"object of empty-named nulls": repeat([]byte{markerObject}, []byte{0, 0, markerNull}),
		"ECMA array of empty objects": repeat(count(markerECMAArray, 0), []byte{0, 0, markerObject, 0, 0, markerObjectEnd}),
		"arrays of empty arrays":      repeat(nil, count(markerStrictArray, 0)),
		"objects nested without end":  repeat(nil, []byte{markerObject, 0, 1, 'k'}),
	}
}

// Without a budget, 8 MiB of nulls in a strict array decoded to over
// 400 MiB of interfaces and their copies as the array grew. Within the
// default budget no shape costs more than some 100 MiB (measured: 12 times
// the 8 MiB for an ECMA array of empty objects, the worst), and the
// smaller budgets of RTMP commands far less (TestAMF0SmallBudget).
func TestAMF0BudgetBoundsMemory(t *testing.T) {
	const size = 8 << 20
	for name, in := range hostileAMF0(size) {
		n := heapAllocated(func() { _, _ = DecodeAMF0(in) })
		t.Logf("%s: %d bytes allocated for %d", name, n, len(in))
		if n > 16*size {
			t.Errorf("%s: decoding %d bytes allocated %d", name, len(in), n)
		}
	}
}

// A small budget, as for an RTMP command, makes any input cost at most
// twice its own bytes, and refuses it with ErrTooLarge (ErrInvalid when
// nested too deep).
func TestAMF0SmallBudget(t *testing.T) {
	budget := AMF0Limits{MaxBytes: 64 << 10, MaxValues: 1024, MaxDepth: 8}
	for name, in := range hostileAMF0(64 << 10) {
		var err error
		n := heapAllocated(func() { _, err = budget.Decode(in) })
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalid) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v, want it refused", name, err)
		}
		if n > 2*uint64(len(in)) {
			t.Errorf("%s: decoding %d bytes within %+v allocated %d", name, len(in), budget, n)
		}
	}
	if _, err := budget.Decode(make([]byte, 64<<10+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("input over MaxBytes: err = %v, want ErrTooLarge", err)
	}
	ok := connectCommand(t)
	if vals, err := budget.Decode(ok); err != nil || len(vals) != 6 {
		t.Errorf("a real connect within the budget: %v, %v", vals, err)
	}
	nested := bytes.Repeat([]byte{markerStrictArray, 0, 0, 0, 1}, 9)
	if _, err := budget.Decode(append(nested, markerNull)); !errors.Is(err, ErrInvalid) {
		t.Errorf("9 levels within MaxDepth 8: err = %v, want ErrInvalid", err)
	}
	if _, err := budget.Decode(append(nested[5:], markerNull)); err != nil {
		t.Errorf("8 levels within MaxDepth 8: %v", err)
	}
	if _, _, err := budget.ParseScript(append(mustAMF0(t, "onMetaData"), hostileAMF0(4096)["strict array of nulls"]...)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseScript over the budget: err = %v, want ErrTooLarge", err)
	}
}
