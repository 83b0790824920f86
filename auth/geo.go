package auth

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// CountryDB looks up the country of an address in a MaxMind DB file, such
// as GeoLite2-Country, GeoIP2-City or DB-IP's country databases, which all
// keep the code at country.iso_code. It is safe for concurrent use.
type CountryDB struct {
	r *maxminddb.Reader
}

// OpenCountryDB opens an .mmdb file. Close it when done.
func OpenCountryDB(path string) (*CountryDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: country database: %w", err)
	}
	return &CountryDB{r: r}, nil
}

// countryRecord decodes only the codes, so that a lookup does not build the
// names in every language.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	// Anycast networks and some ranges have only the country that
	// registered them.
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code of a's country, or "" when the
// database does not know it.
func (db *CountryDB) Country(a netip.Addr) (string, error) {
	if !a.IsValid() {
		return "", nil
	}
	var rec countryRecord
	if err := db.r.Lookup(a).Decode(&rec); err != nil {
		return "", fmt.Errorf("auth: country of %v: %w", a, err)
	}
	if rec.Country.ISOCode != "" {
		return rec.Country.ISOCode, nil
	}
	return rec.Registered.ISOCode, nil
}

// Close releases the file.
func (db *CountryDB) Close() error { return db.r.Close() }
