package relay

import (
	"fmt"
	"net/url"
	"strings"
)

// CheckOrigin reports whether s can be an origin's base URL (PullConfig's
// Origins) or the URL of a static pull (Puller.Keep): http:// or https://
// with a host.
func CheckOrigin(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

// maxNodeID bounds PullConfig.NodeID: it goes into the ViaHeader of every
// request to an origin.
const maxNodeID = 128

// CheckNodeID reports whether id can name this server in ViaHeader: a
// comma-separated list, so at most maxNodeID bytes without commas or
// spaces. Empty stands for a random one.
func CheckNodeID(id string) error {
	if len(id) > maxNodeID || strings.ContainsAny(id, ", \t") {
		return fmt.Errorf("node id: at most %d bytes, without commas or spaces (it is one entry of the %s list)", maxNodeID, ViaHeader)
	}
	return nil
}

// Check reports the first setting of c that cannot work. Zero values
// stand for the defaults; NewPuller refuses what Check refuses.
func (c PullConfig) Check() error {
	if err := CheckNodeID(c.NodeID); err != nil {
		return err
	}
	if c.MaxHops < 0 {
		return fmt.Errorf("max hops %d: must not be negative", c.MaxHops)
	}
	return nil
}
