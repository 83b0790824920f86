package rtmp

import "encoding/binary"

// Message type IDs (RTMP specification 1.0, sections 5.4, 6.2 and 7.1).
const (
	TypeSetChunkSize     uint8 = 1
	TypeAbort            uint8 = 2
	TypeAck              uint8 = 3
	TypeUserControl      uint8 = 4
	TypeWindowAckSize    uint8 = 5
	TypeSetPeerBandwidth uint8 = 6
	TypeAudio            uint8 = 8
	TypeVideo            uint8 = 9
	TypeDataAMF3         uint8 = 15
	TypeCommandAMF3      uint8 = 17
	TypeDataAMF0         uint8 = 18
	TypeCommandAMF0      uint8 = 20
	TypeAggregate        uint8 = 22
)

// User Control event types (section 7.1.7).
const (
	eventStreamBegin  uint16 = 0
	eventPingRequest  uint16 = 6
	eventPingResponse uint16 = 7
)

// Chunk streams for what the server sends. Protocol control must go on 2;
// the others are a convention clients do not depend on.
const (
	csidControl uint32 = 2
	csidCommand uint32 = 3
	csidStatus  uint32 = 5
)

// Message is one RTMP message, reassembled from its chunks.
type Message struct {
	CSID      uint32 // chunk stream it came on or is to go on
	Type      uint8
	StreamID  uint32 // message stream ID
	Timestamp uint32 // absolute, in milliseconds; wraps at 2^32
	Payload   []byte
}

// controlMessage is a protocol control message with a single 32-bit value:
// Set Chunk Size, Abort, Acknowledgement or Window Acknowledgement Size.
func controlMessage(typ uint8, v uint32) Message {
	return Message{CSID: csidControl, Type: typ, Payload: binary.BigEndian.AppendUint32(nil, v)}
}

// peerBandwidthDynamic lets the peer treat the limit as hard or soft as it likes.
const peerBandwidthDynamic = 2

func setPeerBandwidth(size uint32, limitType uint8) Message {
	p := binary.BigEndian.AppendUint32(make([]byte, 0, 5), size)
	return Message{CSID: csidControl, Type: TypeSetPeerBandwidth, Payload: append(p, limitType)}
}

func userControl(event uint16, data uint32) Message {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 6), event)
	return Message{CSID: csidControl, Type: TypeUserControl, Payload: binary.BigEndian.AppendUint32(p, data)}
}
