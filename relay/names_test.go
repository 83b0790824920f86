package relay

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	long := strings.Repeat("a", MaxNameLen)
	for _, tc := range []struct {
		app, name string
		ok        bool
	}{
		{"live", "cam1", true},
		{"Live-2", "a.b-c_d~e.F9", true},
		{long, long, true},
		{"live", "cam..1.", true},
		{"live", long + "a", false},
		{long + "a", "cam", false},
		{"live", "", false},
		{"", "cam", false},
		{"live", ".", false},
		{"live", "..", false},
		{"..", "cam", false},
		{"live", ".hidden", false},
		{"x/../../admin", "y", false},
		{"live", "a/b", false},
		{"live", "a?q=1&", false},
		{"live", "x#", false},
		{"live", "a b", false},
		{"live", "a%2Fb", false},
		{"live", "café", false},
		{"live", "a\x00", false},
		{"live", "a\nb", false},
		{"live", "a:b", false},
	} {
		err := CheckName(tc.app, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q, %q) = %v, want ok %v", tc.app, tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q, %q) = %v, not ErrBadName", tc.app, tc.name, err)
		}
	}
}

func TestCheckNameSaysWhatIsWrongWithoutRepeatingTheName(t *testing.T) {
	for _, tc := range []struct{ app, name, want string }{
		{"live", strings.Repeat("x", 1<<20), "stream name is 1048576 bytes long"},
		{"live", "a?q", "stream name has '?' at byte 1"},
		{"li ve", "cam", "app name has ' ' at byte 2"},
		{"live", "é", "stream name has byte 0xc3 at 0"},
		{"live", ".x", "stream name starts with '.'"},
	} {
		err := CheckName(tc.app, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 200 {
			t.Errorf("CheckName(%.20q, %.20q) = %v, want a short error saying %q", tc.app, tc.name, err, tc.want)
		}
	}
}

func TestHubRefusesBadNames(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	name := strings.Repeat("n", 1<<20)
	if p, err := h.Publish("live", name, func() {}); !errors.Is(err, ErrBadName) {
		if p != nil {
			p.Close()
		}
		t.Fatalf("publishing a 1 MiB name: %v, want ErrBadName", err)
	}
	if h.Lookup("live", name) != nil {
		t.Fatal("the refused name has a stream in the hub")
	}
}

// FuzzCheckName: no input panics, and every accepted name is short and
// reads the same escaped in a URL path or query.
func FuzzCheckName(f *testing.F) {
	for _, seed := range []string{"cam1", "", ".", "..", "a/b", "a?q=1&", "x#", "a%2F", "é", "~-._", strings.Repeat("a", MaxNameLen+1)} {
		f.Add("live", seed)
	}
	f.Fuzz(func(t *testing.T, app, name string) {
		err := CheckName(app, name)
		if err != nil {
			if !errors.Is(err, ErrBadName) || len(err.Error()) > 200 {
				t.Fatalf("error %q", err)
			}
			return
		}
		for _, s := range []string{app, name} {
			if len(s) > MaxNameLen || url.PathEscape(s) != s || url.QueryEscape(s) != s || s[0] == '.' {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
