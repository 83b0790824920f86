package web

import "testing"

// TestSettingChecks: the rules of the settings that the config asks web
// about.
func TestSettingChecks(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		value string
		ok    bool
	}{
		{CheckMpegtsURL, "https://cdn.example/mpegts.js", true},
		{CheckMpegtsURL, "http://10.0.0.1/mpegts.js", true},
		{CheckMpegtsURL, "/static/mpegts.js", true},
		{CheckMpegtsURL, "", false},
		{CheckMpegtsURL, "//cdn.example/mpegts.js", false},
		{CheckMpegtsURL, "javascript:alert(1)", false},
		{CheckMpegtsURL, "mpegts.js", false},
		{CheckCredentialOrigin, "https://player.example.com", true},
		{CheckCredentialOrigin, "http://10.0.0.1:8080/", true},
		{CheckCredentialOrigin, "https://a.example/page", false},
		{CheckCredentialOrigin, "*", false},
		{CheckCredentialOrigin, "https://*.example", false},
		{CheckCredentialOrigin, "https://u@a.example", false},
		{CheckAdminHost, "metrics.internal", true},
		{CheckAdminHost, "m.internal:9090", false},
		{CheckAdminHost, "", false},
		{CheckAdminHost, "[::1]", false},
		{CheckAdminToken, "", true},
		{CheckAdminToken, "0123456789abcdef", true},
		{CheckAdminToken, "short", false},
		{func(s string) error { _, err := ParseCoalesceMode(s); return err }, "adaptive", true},
		{func(s string) error { _, err := ParseCoalesceMode(s); return err }, "fixed", true},
		{func(s string) error { _, err := ParseCoalesceMode(s); return err }, "smart", false},
	} {
		if err := tc.check(tc.value); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.value, err)
		}
	}
	if m, _ := ParseCoalesceMode("fixed"); m != CoalesceFixed {
		t.Errorf("fixed is %v", m)
	}
}
