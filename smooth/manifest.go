package smooth

import (
	"encoding/xml"
	"fmt"
)

// The manifest ([MS-SSTR] 2.2.2), as encoding/xml writes it.
type ssmMedia struct {
	XMLName      xml.Name    `xml:"SmoothStreamingMedia"`
	MajorVersion int         `xml:"MajorVersion,attr"`
	MinorVersion int         `xml:"MinorVersion,attr"`
	TimeScale    uint64      `xml:"TimeScale,attr"`
	Duration     uint64      `xml:"Duration,attr"`
	Streams      []ssmStream `xml:"StreamIndex"`
}

type ssmStream struct {
	Type          string     `xml:"Type,attr"`
	Name          string     `xml:"Name,attr"`
	Chunks        int        `xml:"Chunks,attr"`
	QualityLevels int        `xml:"QualityLevels,attr"`
	URL           string     `xml:"Url,attr"`
	MaxWidth      uint16     `xml:"MaxWidth,attr,omitempty"`
	MaxHeight     uint16     `xml:"MaxHeight,attr,omitempty"`
	DisplayWidth  uint16     `xml:"DisplayWidth,attr,omitempty"`
	DisplayHeight uint16     `xml:"DisplayHeight,attr,omitempty"`
	Levels        []ssmLevel `xml:"QualityLevel"`
	C             []ssmChunk `xml:"c"`
}

type ssmLevel struct {
	Index            int    `xml:"Index,attr"`
	Bitrate          uint64 `xml:"Bitrate,attr"`
	FourCC           string `xml:"FourCC,attr"`
	MaxWidth         uint16 `xml:"MaxWidth,attr,omitempty"`
	MaxHeight        uint16 `xml:"MaxHeight,attr,omitempty"`
	SamplingRate     uint32 `xml:"SamplingRate,attr,omitempty"`
	Channels         uint16 `xml:"Channels,attr,omitempty"`
	BitsPerSample    uint16 `xml:"BitsPerSample,attr,omitempty"`
	PacketSize       uint16 `xml:"PacketSize,attr,omitempty"`
	AudioTag         uint16 `xml:"AudioTag,attr,omitempty"`
	CodecPrivateData string `xml:"CodecPrivateData,attr"`
}

// ssmChunk is a c element: its start time only on the first, the others
// following on.
type ssmChunk struct {
	T *uint64 `xml:"t,attr,omitempty"`
	D uint64  `xml:"d,attr"`
}

func (p *presentation) writeManifest() ([]byte, error) {
	m := ssmMedia{MajorVersion: 2, TimeScale: smoothTimescale}
	for _, s := range p.streams {
		m.Duration = max(m.Duration, s.end)
		x := ssmStream{
			Type: s.kind, Name: s.kind, Chunks: len(s.starts), QualityLevels: len(s.levels),
			URL: "QualityLevels({bitrate})/Fragments(" + s.kind + "={start time})",
		}
		for i, lv := range s.levels {
			l := ssmLevel{Index: i, Bitrate: lv.bitrate, FourCC: lv.fourCC, CodecPrivateData: lv.private}
			if s.kind == "video" {
				l.MaxWidth, l.MaxHeight = lv.width, lv.height
				x.MaxWidth, x.MaxHeight = max(x.MaxWidth, lv.width), max(x.MaxHeight, lv.height)
			} else {
				l.SamplingRate, l.Channels, l.BitsPerSample = lv.sampleRate, lv.channels, lv.sampleSize
				l.PacketSize = lv.channels * lv.sampleSize / 8
				l.AudioTag = 255 // AAC, as [MS-SSTR] and its clients name it
			}
			x.Levels = append(x.Levels, l)
		}
		x.DisplayWidth, x.DisplayHeight = x.MaxWidth, x.MaxHeight
		for i, t := range s.starts {
			c := ssmChunk{}
			if i == 0 {
				c.T = &s.starts[0]
			}
			if i+1 < len(s.starts) {
				c.D = s.starts[i+1] - t
			} else {
				c.D = max(s.end, t) - t
			}
			x.C = append(x.C, c)
		}
		m.Streams = append(m.Streams, x)
	}
	b, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
