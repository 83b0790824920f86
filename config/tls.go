package config

import "errors"

// TLS is the encrypted listener's certificate and protocols. The listener
// itself is Config.HTTPSListen.
type TLS struct {
	Cert  string `yaml:"cert"`
	Key   string `yaml:"key"`
	HTTP3 bool   `yaml:"http3"`
	H2C   bool   `yaml:"h2c"`
}

func (c Config) checkTLS() error {
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return at(errors.New("cert and key go together"), "tls")
	}
	return nil
}
