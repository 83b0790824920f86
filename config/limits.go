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
	if l.WindowBytes != 0 && l.WindowBytes < c.Window.Bytes {
		return at(errors.New("must be 0 (half the memory) or at least window.bytes"), "limits", "window_bytes")
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"streams", l.Streams}, {"publishers", l.Publishers}, {"rtmp_connections", l.RTMPConnections}, {"rtmp_connections_per_client", l.RTMPConnectionsPerClient}} {
		if l.n < 0 {
			return at(errors.New("must not be negative (0: none)"), "limits", l.key)
		}
	}
	return nil
}
