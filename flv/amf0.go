package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
)

// AMF0 type markers.
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerMovieClip   = 0x04
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0a
	markerDate        = 0x0b
	markerLongString  = 0x0c
	markerUnsupported = 0x0d
	markerRecordSet   = 0x0e
	markerXMLDocument = 0x0f
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// maxAMF0Depth bounds the nesting of objects and arrays, for both decoding
// and encoding, so that hostile input cannot exhaust the stack and a cyclic
// value cannot loop forever.
const maxAMF0Depth = 64

// AMF0Limits is a budget for decoding AMF0 from outside. Every decoded value
// costs memory well beyond its bytes on the wire (a one-byte null is a
// 16-byte interface in its array, a three-byte empty property 32 bytes), so
// the number of values is what bounds the memory a message can make the
// decoder take, whatever its length.
type AMF0Limits struct {
	// MaxBytes refuses a longer input before anything is decoded.
	// 0: any length.
	MaxBytes int
	// MaxValues bounds the values decoded in all: each container and each
	// value in it counts one. 0: DefaultAMF0Limits.MaxValues.
	MaxValues int
	// MaxDepth bounds the nesting of objects and arrays; at most 64.
	// 0: 64.
	MaxDepth int
}

// DefaultAMF0Limits is the budget of [DecodeAMF0], [ReadAMF0] and
// [ParseScript]: room for the keyframe index of a long stored file (two
// arrays of up to 2^17 numbers), and at most some 25 MiB of decoded values
// whatever the input.
var DefaultAMF0Limits = AMF0Limits{MaxValues: 1 << 19, MaxDepth: maxAMF0Depth}

// decoder returns a decoder of b within the budget, or an error when b is
// longer than MaxBytes.
func (l AMF0Limits) decoder(b []byte) (amf0Decoder, error) {
	if l.MaxBytes > 0 && len(b) > l.MaxBytes {
		return amf0Decoder{}, fmt.Errorf("flv: amf0 of %d bytes, over the limit of %d: %w", len(b), l.MaxBytes, ErrTooLarge)
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultAMF0Limits.MaxValues
	}
	if l.MaxDepth <= 0 || l.MaxDepth > maxAMF0Depth {
		l.MaxDepth = maxAMF0Depth
	}
	return amf0Decoder{b: b, valuesLeft: l.MaxValues, maxDepth: l.MaxDepth}, nil
}

// Property is one key and value of an Object or ECMAArray.
type Property struct {
	Key   string
	Value any
}

// Object is an AMF0 object (marker 0x03). It keeps the keys in wire order.
type Object []Property

// ECMAArray is an AMF0 ECMA array (marker 0x08). It keeps the keys in wire
// order.
type ECMAArray []Property

// StrictArray is an AMF0 strict array (marker 0x0A).
type StrictArray []any

// Date is an AMF0 date (marker 0x0B): milliseconds since the Unix epoch in
// UTC, and a time zone that the specification reserves and says to ignore.
type Date struct {
	Millis   float64
	TimeZone int16
}

// Undefined is the AMF0 undefined value (marker 0x06).
type Undefined struct{}

// Get returns the value of the first property named key.
func (o Object) Get(key string) (any, bool) {
	return getProperty(o, key)
}

// Get returns the value of the first property named key.
func (a ECMAArray) Get(key string) (any, bool) {
	return getProperty(a, key)
}

func getProperty(props []Property, key string) (any, bool) {
	for _, p := range props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// ReadAMF0 decodes one AMF0 value from the start of b and returns it with
// the number of bytes it took.
//
// Values decode to float64 (number), bool, string (string, long string and
// XML document), nil (null), Undefined (undefined and unsupported), Object
// (object, and typed object without its class name), ECMAArray, StrictArray
// and Date. The count of an ECMA array is ignored, as encoders often get it
// wrong: its properties run to the end marker. An object or ECMA array that
// runs to the end of b without its end marker, as some encoders write it,
// is accepted. References, movie clips, record sets and AMF3 (AVM+) values
// are an error.
//
// It decodes within DefaultAMF0Limits.
func ReadAMF0(b []byte) (v any, n int, err error) {
	d, _ := DefaultAMF0Limits.decoder(b) // no byte limit: no error
	if v, err = d.next(); err != nil {
		return nil, 0, fmt.Errorf("flv: %w", err)
	}
	return v, d.off, nil
}

// DecodeAMF0 decodes all the values in b, within DefaultAMF0Limits.
func DecodeAMF0(b []byte) ([]any, error) {
	return DefaultAMF0Limits.Decode(b)
}

// Decode decodes all the values in b within the budget l; beyond it the
// error wraps ErrTooLarge (ErrInvalid for nesting too deep).
func (l AMF0Limits) Decode(b []byte) ([]any, error) {
	d, err := l.decoder(b)
	if err != nil {
		return nil, err
	}
	var vals []any
	for d.off < len(b) {
		v, err := d.next()
		if err != nil {
			return nil, fmt.Errorf("flv: %w", err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

type amf0Decoder struct {
	b          []byte
	off        int
	valuesLeft int
	maxDepth   int
}

func (d *amf0Decoder) take(n int) ([]byte, error) {
	// n < 0 happens where int is 32 bits and a 32-bit length is over 2 GiB.
	if n < 0 || n > len(d.b)-d.off {
		return nil, io.ErrUnexpectedEOF
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *amf0Decoder) u8() (byte, error) {
	p, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *amf0Decoder) u16() (uint16, error) {
	p, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(p), nil
}

func (d *amf0Decoder) u32() (uint32, error) {
	p, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (d *amf0Decoder) number() (float64, error) {
	p, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
}

// string reads a string whose length was already read, so the length is
// checked against the bytes left before anything is allocated.
func (d *amf0Decoder) string(n int) (string, error) {
	p, err := d.take(n)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

func (d *amf0Decoder) shortString() (string, error) {
	n, err := d.u16()
	if err != nil {
		return "", err
	}
	return d.string(int(n))
}

func (d *amf0Decoder) longString() (string, error) {
	n, err := d.u32()
	if err != nil {
		return "", err
	}
	return d.string(int(n))
}

// next decodes the value at the current offset. Its errors say where in b
// decoding failed.
func (d *amf0Decoder) next() (any, error) {
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("amf0 at offset %d: %w", d.off, err)
	}
	return v, nil
}

// value decodes one value; depth is the number of containers around it.
func (d *amf0Decoder) value(depth int) (any, error) {
	if d.valuesLeft <= 0 {
		return nil, fmt.Errorf("more values than the budget: %w", ErrTooLarge)
	}
	d.valuesLeft--
	marker, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch marker {
	case markerNumber:
		return d.number()
	case markerBoolean:
		b, err := d.u8()
		return b != 0, err
	case markerString:
		return d.shortString()
	case markerLongString, markerXMLDocument:
		return d.longString()
	case markerNull:
		return nil, nil
	case markerUndefined, markerUnsupported:
		return Undefined{}, nil
	case markerObject:
		props, err := d.properties(depth)
		return Object(props), err
	case markerTypedObject:
		// The class name has no place in the decoded value.
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		if _, err := d.take(int(n)); err != nil {
			return nil, err
		}
		props, err := d.properties(depth)
		return Object(props), err
	case markerECMAArray:
		if _, err := d.u32(); err != nil {
			return nil, err
		}
		props, err := d.properties(depth)
		return ECMAArray(props), err
	case markerStrictArray:
		return d.strictArray(depth)
	case markerDate:
		ms, err := d.number()
		if err != nil {
			return nil, err
		}
		tz, err := d.u16()
		return Date{Millis: ms, TimeZone: int16(tz)}, err
	case markerReference:
		return nil, fmt.Errorf("reference: %w", errors.ErrUnsupported)
	case markerAVMPlus:
		return nil, fmt.Errorf("AMF3 value: %w", errors.ErrUnsupported)
	case markerMovieClip, markerRecordSet:
		return nil, fmt.Errorf("reserved marker 0x%02x: %w", marker, errors.ErrUnsupported)
	default:
		return nil, fmt.Errorf("unknown marker 0x%02x: %w", marker, ErrInvalid)
	}
}

// properties decodes the properties of an object or ECMA array up to and
// including the end marker.
func (d *amf0Decoder) properties(depth int) ([]Property, error) {
	if depth >= d.maxDepth {
		return nil, fmt.Errorf("nested deeper than %d: %w", d.maxDepth, ErrInvalid)
	}
	props := []Property{}
	for d.off < len(d.b) {
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		if n == 0 && (d.off == len(d.b) || d.b[d.off] == markerObjectEnd) {
			d.off = min(d.off+1, len(d.b))
			return props, nil
		}
		key, err := d.string(int(n))
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Key: key, Value: v})
	}
	return props, nil
}

func (d *amf0Decoder) strictArray(depth int) (StrictArray, error) {
	if depth >= d.maxDepth {
		return nil, fmt.Errorf("nested deeper than %d: %w", d.maxDepth, ErrInvalid)
	}
	count, err := d.u32()
	if err != nil {
		return nil, err
	}
	// Every value takes at least one byte, so a count over the bytes left
	// is a lie; checking it here fails fast without decoding anything.
	if int64(count) > int64(len(d.b)-d.off) {
		return nil, io.ErrUnexpectedEOF
	}
	// Likewise a count over the budget fails before the array grows.
	if int64(count) > int64(d.valuesLeft) {
		return nil, fmt.Errorf("strict array of %d values, over the budget: %w", count, ErrTooLarge)
	}
	arr := StrictArray{}
	for range count {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	return arr, nil
}

// AppendAMF0 appends the AMF0 encoding of vals to dst. It accepts float64,
// float32 and every integer type (as numbers), bool, string (as a long
// string when over 65535 bytes), nil (as null), Undefined, Object,
// ECMAArray, StrictArray, []any (as a strict array), Date and
// map[string]any (as an object, keys sorted so the output is
// deterministic), nested up to 64 deep. Anything else is an error, and then
// dst is returned without any partial value.
func AppendAMF0(dst []byte, vals ...any) ([]byte, error) {
	start := len(dst)
	for _, v := range vals {
		var err error
		dst, err = appendAMF0Value(dst, v, 0)
		if err != nil {
			return dst[:start], fmt.Errorf("flv: amf0 encode: %w", err)
		}
	}
	return dst, nil
}

// appendAMF0Value appends one value; depth is the number of containers
// around it.
func appendAMF0Value(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, markerNull), nil
	case float64:
		return appendAMF0Number(dst, v), nil
	case float32:
		return appendAMF0Number(dst, float64(v)), nil
	case int:
		return appendAMF0Number(dst, float64(v)), nil
	case int8:
		return appendAMF0Number(dst, float64(v)), nil
	case int16:
		return appendAMF0Number(dst, float64(v)), nil
	case int32:
		return appendAMF0Number(dst, float64(v)), nil
	case int64:
		return appendAMF0Number(dst, float64(v)), nil
	case uint:
		return appendAMF0Number(dst, float64(v)), nil
	case uint8:
		return appendAMF0Number(dst, float64(v)), nil
	case uint16:
		return appendAMF0Number(dst, float64(v)), nil
	case uint32:
		return appendAMF0Number(dst, float64(v)), nil
	case uint64:
		return appendAMF0Number(dst, float64(v)), nil
	case bool:
		var b byte
		if v {
			b = 1
		}
		return append(dst, markerBoolean, b), nil
	case string:
		return appendAMF0String(dst, v)
	case Undefined:
		return append(dst, markerUndefined), nil
	case Date:
		dst = binary.BigEndian.AppendUint64(append(dst, markerDate), math.Float64bits(v.Millis))
		return binary.BigEndian.AppendUint16(dst, uint16(v.TimeZone)), nil
	case Object:
		return appendAMF0Properties(append(dst, markerObject), v, depth)
	case ECMAArray:
		dst = binary.BigEndian.AppendUint32(append(dst, markerECMAArray), uint32(len(v)))
		return appendAMF0Properties(dst, v, depth)
	case map[string]any:
		obj := make(Object, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			obj = append(obj, Property{Key: k, Value: v[k]})
		}
		return appendAMF0Properties(append(dst, markerObject), obj, depth)
	case StrictArray:
		return appendAMF0StrictArray(dst, v, depth)
	case []any:
		return appendAMF0StrictArray(dst, v, depth)
	default:
		return dst, fmt.Errorf("cannot encode %T: %w", v, errors.ErrUnsupported)
	}
}

func appendAMF0Number(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, markerNumber), math.Float64bits(f))
}

func appendAMF0String(dst []byte, s string) ([]byte, error) {
	switch {
	case len(s) <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, markerString), uint16(len(s)))
	case uint64(len(s)) <= math.MaxUint32:
		dst = binary.BigEndian.AppendUint32(append(dst, markerLongString), uint32(len(s)))
	default:
		return dst, fmt.Errorf("string of %d bytes: %w", len(s), ErrTooLarge)
	}
	return append(dst, s...), nil
}

func appendAMF0Properties(dst []byte, props []Property, depth int) ([]byte, error) {
	if depth >= maxAMF0Depth {
		return dst, fmt.Errorf("nested deeper than %d: %w", maxAMF0Depth, ErrTooLarge)
	}
	for _, p := range props {
		if len(p.Key) > math.MaxUint16 {
			return dst, fmt.Errorf("key of %d bytes: %w", len(p.Key), ErrTooLarge)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Key)))
		dst = append(dst, p.Key...)
		var err error
		if dst, err = appendAMF0Value(dst, p.Value, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, 0, 0, markerObjectEnd), nil
}

func appendAMF0StrictArray(dst []byte, vals []any, depth int) ([]byte, error) {
	if depth >= maxAMF0Depth {
		return dst, fmt.Errorf("nested deeper than %d: %w", maxAMF0Depth, ErrTooLarge)
	}
	if uint64(len(vals)) > math.MaxUint32 {
		return dst, fmt.Errorf("strict array of %d values: %w", len(vals), ErrTooLarge)
	}
	dst = binary.BigEndian.AppendUint32(append(dst, markerStrictArray), uint32(len(vals)))
	for _, v := range vals {
		var err error
		if dst, err = appendAMF0Value(dst, v, depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}
