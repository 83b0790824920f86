package rtmp

import "fmt"

// Bounds of Server.MaxMessageSize and MaxCommandSize.
const (
	// minMessageSize leaves room for a keyframe of a small stream.
	minMessageSize = 64 << 10
	// maxMessageSize is the largest length an RTMP message header holds
	// (24 bits).
	maxMessageSize = 1<<24 - 1
	// minCommandSize leaves room for a connect command with every
	// enhanced-RTMP property and for onMetaData.
	minCommandSize = 4 << 10
)

// CheckMaxMessageSize reports whether n can bound media messages
// (Server.MaxMessageSize).
func CheckMaxMessageSize(n int64) error {
	if n < minMessageSize || n > maxMessageSize {
		return fmt.Errorf("max message size %d: must be between 64KiB and 16MiB-1 (the longest RTMP message)", n)
	}
	return nil
}

// CheckMaxCommandSize reports whether n can bound the other messages
// (Server.MaxCommandSize) beside media messages bounded by maxMessage.
func CheckMaxCommandSize(n, maxMessage int64) error {
	if n < minCommandSize || n > maxMessage {
		return fmt.Errorf("max command size %d: must be between 4KiB and the max message size, %d", n, maxMessage)
	}
	return nil
}

// checkLimits refuses limits that CheckMaxMessageSize or
// CheckMaxCommandSize refuse, once zeros stand for their defaults.
func (s *Server) checkLimits() error {
	media := int64(s.MaxMessageSize)
	if media == 0 {
		media = DefaultMaxMessageSize
	}
	if err := CheckMaxMessageSize(media); err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	if err := CheckMaxCommandSize(int64(s.maxCommandSize()), media); err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	return nil
}
