package idp_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/idp/internal/login"
)

// TestEveryPOSTRouteCapsItsBody takes the routes from the server itself
// (so a route added later is covered without anyone remembering it) and
// sends each route that takes a POST an oversized url-encoded body and an
// oversized multipart upload, with and without a Content-Length: every
// answer is 413 (with a length) or 413 / 415 (without one: a multipart body
// is refused by its type), never a 5xx, and nothing is left in TMPDIR
// (issue #18 §1).
func TestEveryPOSTRouteCapsItsBody(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	n := startNode(t)
	var paths []string
	for _, p := range n.srv.Routes() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			path, method = p, http.MethodPost // a pattern without a method takes a POST too
		}
		if method == http.MethodPost {
			paths = append(paths, path)
		}
	}
	for _, want := range []string{"/login/password", "/login/face/photo", "/logout", "/account/card", "/oauth/token", "/oauth/introspect", "/saml/sso", "/saml/slo", "/authorize"} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("route POST %s is not among the server's routes %v", want, paths)
		}
	}
	if len(paths) < 20 {
		t.Fatalf("only %d POST routes found: %v", len(paths), paths)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const mp = "multipart/form-data; boundary=xyz"
	for _, path := range paths {
		size := int64(1 << 20) // beyond every cap but the photo's
		if path == login.PhotoPath {
			size = login.PhotoBodyBytes + 1<<20
		}
		for _, tc := range []struct {
			name, contentType string
			chunked           bool
		}{
			{"form", "application/x-www-form-urlencoded", false},
			{"form chunked", "application/x-www-form-urlencoded", true},
			{"multipart", mp, false},
			{"multipart chunked", mp, true},
		} {
			var body io.Reader = strings.NewReader("a=" + strings.Repeat("x", int(size)-2))
			if tc.contentType == mp {
				head := "--xyz\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
				body = io.MultiReader(strings.NewReader(head), strings.NewReader(strings.Repeat("x", int(size)-len(head))))
			}
			req, err := http.NewRequest(http.MethodPost, "http://"+n.addr+path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = size
			if tc.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := client.Do(req)
			if err != nil {
				// The server may close the connection once the cap is
				// reached, before the client has sent everything.
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode >= 500:
				t.Errorf("POST %s (%s): %d", path, tc.name, resp.StatusCode)
			case !tc.chunked && resp.StatusCode != http.StatusRequestEntityTooLarge:
				t.Errorf("POST %s (%s, Content-Length %d): %d; want 413", path, tc.name, size, resp.StatusCode)
			case tc.chunked && resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusUnsupportedMediaType:
				t.Errorf("POST %s (%s): %d; want 413 or 415", path, tc.name, resp.StatusCode)
			}
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in TMPDIR: %s", e.Name())
	}
}
