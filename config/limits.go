package config

import "errors"

// Limits bound the work a server takes on over all streams and clients, so
// that it refuses new work before it runs out of memory.
type Limits struct {
	WindowBytes              ByteSize `yaml:"window_bytes"`
	Streams                  int      `yaml:"streams"`
	Publishers               int      `yaml:"publishers"`
	RTMPConnections          int      `yaml:"rtmp_connections"`
	RTMPConnectionsPerClient int      `yaml:"rtmp_connections_per_client"`
}

func (c Config) checkLimits() error {
	l := c.Limits
	switch {
	case l.WindowBytes != 0 && l.WindowBytes < c.Window.Bytes:
		return errors.New("limits.window_bytes: must be 0 (half the memory) or at least window.bytes")
	case l.Streams < 0, l.Publishers < 0, l.RTMPConnections < 0, l.RTMPConnectionsPerClient < 0:
		return errors.New("limits: streams, publishers, rtmp_connections and rtmp_connections_per_client must not be negative (0: none)")
	}
	return nil
}
