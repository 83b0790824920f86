// Package relay is the stream hub: streams by app and name, one publisher
// each, any number of viewers; publishers that leave and come back within a
// grace period; timestamps that viewers can always play, also across a
// change of source; pulls from origins, with failover and origin health.
package relay
