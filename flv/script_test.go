package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestParseScriptSetDataFrame(t *testing.T) {
	name, vals, err := ParseScript(obsMetadata(t))
	if err != nil {
		t.Fatal(err)
	}
	if name != "onMetaData" || len(vals) != 1 {
		t.Fatalf("ParseScript = %q, %v", name, vals)
	}
	meta, ok := vals[0].(ECMAArray)
	if !ok {
		t.Fatalf("value is %T, want ECMAArray", vals[0])
	}
	if w, _ := meta.Get("width"); w != 1280.0 {
		t.Errorf("width = %v, want 1280", w)
	}
	if enc, _ := meta.Get("encoder"); enc != "obs-output module (libobs version 30.1.2)" {
		t.Errorf("encoder = %v", enc)
	}
}

func TestParseScriptPlain(t *testing.T) {
	body := mustAMF0(t, "onCuePoint", Object{{"name", "ad"}, {"time", 12.5}}, "extra")
	name, vals, err := ParseScript(body)
	if err != nil || name != "onCuePoint" || len(vals) != 2 || vals[1] != "extra" {
		t.Fatalf("ParseScript = %q, %v, %v", name, vals, err)
	}
	if got := TrimSetDataFrame(body); !bytes.Equal(got, body) {
		t.Error("TrimSetDataFrame changed a body without @setDataFrame")
	}
}

func TestTrimSetDataFrame(t *testing.T) {
	rtmp := obsMetadata(t)
	got := TrimSetDataFrame(rtmp)
	if want := rtmp[16:]; !bytes.Equal(got, want) {
		t.Fatalf("TrimSetDataFrame = % x..., want % x...", got[:16], want[:16])
	}
	if name, _, err := ParseScript(got); err != nil || name != "onMetaData" {
		t.Errorf("ParseScript(trimmed) = %q, %v", name, err)
	}
}

func TestParseScriptErrors(t *testing.T) {
	if _, _, err := ParseScript(nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("empty: err = %v", err)
	}
	if _, _, err := ParseScript(mustAMF0(t, 1.0, "x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("number name: err = %v", err)
	}
	if _, _, err := ParseScript(mustAMF0(t, "@setDataFrame")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("@setDataFrame alone: err = %v", err)
	}
	// A broken value after the name still lets the caller see the name and
	// what came before it.
	body := append(mustAMF0(t, "onMetaData", 1.0), 0x42)
	name, vals, err := ParseScript(body)
	if !errors.Is(err, ErrInvalid) || name != "onMetaData" || len(vals) != 1 || vals[0] != 1.0 {
		t.Errorf("trailing garbage: ParseScript = %q, %v, %v", name, vals, err)
	}
}

func TestProperties(t *testing.T) {
	arr := ECMAArray{{Key: "width", Value: 1.0}}
	obj := Object{{Key: "height", Value: 2.0}}
	if p := Properties([]any{arr}); len(p) != 1 || p[0].Key != "width" {
		t.Fatalf("ECMA array: %v", p)
	}
	if p := Properties([]any{obj, "x"}); len(p) != 1 || p[0].Key != "height" {
		t.Fatalf("object: %v", p)
	}
	for _, v := range [][]any{nil, {"onMetaData"}, {1.0}} {
		if p := Properties(v); p != nil {
			t.Fatalf("%v: %v", v, p)
		}
	}
}
