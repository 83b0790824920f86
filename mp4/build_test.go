package mp4

import "encoding/binary"

// Helpers that write boxes for tests: small movies made by hand, whose
// tables say what a test needs (huge claims, 64-bit offsets).

func be32(vals ...uint32) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func be64(vals ...uint64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func box(typ string, payload ...[]byte) *Box { return NewBox(Type([]byte(typ)), cat(payload...)) }

func container(typ string, children ...*Box) *Box {
	return NewContainer(Type([]byte(typ)), children...)
}

// fullHead is a full box's version and flags.
func fullHead(version byte) []byte { return []byte{version, 0, 0, 0} }

func mvhdOf(timescale, duration uint32) *Box {
	matrix := be32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
	return box("mvhd", fullHead(0), be32(0, 0, timescale, duration, 0x10000), []byte{1, 0, 0, 0}, make([]byte, 8),
		matrix, make([]byte, 24), be32(2))
}

func tkhdOf(id, duration uint32) *Box {
	matrix := be32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
	return box("tkhd", []byte{0, 0, 0, 3}, be32(0, 0, id, 0, duration), make([]byte, 8), be32(0, 0), matrix, be32(0, 0))
}

func mdhdOf(timescale, duration uint32) *Box {
	return box("mdhd", fullHead(0), be32(0, 0, timescale, duration), []byte{0x55, 0xc4, 0, 0})
}

func hdlrOf(handler string) *Box {
	return box("hdlr", fullHead(0), be32(0), []byte(handler), make([]byte, 12), []byte{0})
}

// table returns a table box: version and flags, an entry count, entries.
func table(typ string, count int, entries ...[]byte) *Box {
	return box(typ, fullHead(0), be32(uint32(count)), cat(entries...))
}

// trakOf returns a track of the given sample tables.
func trakOf(id uint32, handler string, timescale, duration uint32, stbl ...*Box) *Box {
	return container("trak", tkhdOf(id, duration),
		container("mdia", mdhdOf(timescale, duration), hdlrOf(handler),
			container("minf", container("stbl", append([]*Box{table("stsd", 0)}, stbl...)...))))
}

// encode returns the encoded boxes one after another.
func encode(boxes ...*Box) []byte {
	var b []byte
	for _, x := range boxes {
		b = x.Append(b)
	}
	return b
}
