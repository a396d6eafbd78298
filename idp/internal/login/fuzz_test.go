package login

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoginForm feeds a login form body (the url-encoded forms of
// /login/password, /login/register, /login/card) through what the steps
// read of it: the number (parseNumber: full-width digits and spaces
// folded), the card number, the name shown masked on the consent page and
// the claims a consent page lists. Nothing panics; an accepted number is
// 18 characters that parse again to themselves and shows only its first 3
// and last 4 characters when masked; a masked name is one character and
// "*".
func FuzzLoginForm(f *testing.F) {
	f.Add("ssn=110105199003070017&password=x&name=%E5%BC%A0%E4%B8%89")
	f.Add("ssn=%EF%BC%91%EF%BC%91%EF%BC%90105199003070017&card_number=+a0000+0001+")
	f.Add("ssn=11010519900307001x&name=&claims=%7B%22id_token%22%3A%7B%22verified_claims%22%3A%7B%22claims%22%3A%7B%22name%22%3Anull%7D%7D%7D%7D")
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > MaxFormBytes {
			return // BoundBodies refuses it before any step reads it
		}
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if n, key, err := parseNumber(v.Get("ssn")); err == nil {
			s := n.String()
			if len(s) != 18 || key != "" {
				t.Fatalf("accepted number %q (%d characters), key %q", s, len(s), key)
			}
			again, _, err := parseNumber(s)
			if err != nil || again.String() != s {
				t.Fatalf("accepted number %q does not parse again to itself: %q, %v", s, again.String(), err)
			}
			m := n.Masked()
			if !strings.HasPrefix(m, s[:3]) || !strings.HasSuffix(m, s[14:]) || strings.Contains(m, s[3:14]) {
				t.Fatalf("Masked(%s) = %q", s, m)
			}
		} else if key == "" {
			t.Fatalf("a refused number has no message key")
		}
		_ = normaliseCardNumber(v.Get("card_number"))
		if name := v.Get("name"); utf8.ValidString(name) && name != "" {
			if m := maskName(name); utf8.RuneCountInString(m) != 2 || !strings.HasSuffix(m, "*") {
				t.Fatalf("maskName(%q) = %q", name, m)
			}
		}
		_ = requestedClaims([]byte(v.Get("claims")))
		_, _ = decodeState([]byte(v.Get("state")))
	})
}
