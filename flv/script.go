package flv

import (
	"bytes"
	"fmt"
)

// setDataFrame is the AMF0 string "@setDataFrame" that RTMP publishers put
// before the name of a data message to ask the server to store it.
var setDataFrame = []byte("\x02\x00\x0d@setDataFrame")

// TrimSetDataFrame returns data without a leading AMF0 "@setDataFrame"
// string, turning an RTMP publisher's data message into the script tag body
// a file or a viewer expects. Other data is returned as it is. The result
// shares data's bytes.
func TrimSetDataFrame(data []byte) []byte {
	return bytes.TrimPrefix(data, setDataFrame)
}

// ParseScript decodes a script tag body: the name (e.g. "onMetaData") and
// the values after it. It also accepts a leading "@setDataFrame" (RTMP form)
// and skips it.
//
// When a value after the name fails to decode, ParseScript returns the name
// and the values before the bad one along with the error, so that a caller
// that only needs the name can still recognise the tag.
//
// It decodes within DefaultAMF0Limits.
func ParseScript(data []byte) (name string, values []any, err error) {
	return DefaultAMF0Limits.ParseScript(data)
}

// ParseScript is [ParseScript] within the budget l.
func (l AMF0Limits) ParseScript(data []byte) (name string, values []any, err error) {
	d, err := l.decoder(TrimSetDataFrame(data))
	if err != nil {
		return "", nil, err
	}
	v, err := d.next()
	if err != nil {
		return "", nil, fmt.Errorf("flv: script name: %w", err)
	}
	name, ok := v.(string)
	if !ok {
		return "", nil, fmt.Errorf("flv: script name is %T, not a string: %w", v, ErrInvalid)
	}
	for d.off < len(d.b) {
		v, err := d.next()
		if err != nil {
			return name, values, fmt.Errorf("flv: script %q: %w", name, err)
		}
		values = append(values, v)
	}
	return name, values, nil
}

// Properties returns the properties of the first of a script tag's values
// when it is an object or an ECMA array (onMetaData's usual shape, which
// encoders send as either), else nil.
func Properties(values []any) []Property {
	if len(values) == 0 {
		return nil
	}
	switch v := values[0].(type) {
	case ECMAArray:
		return v
	case Object:
		return v
	}
	return nil
}
