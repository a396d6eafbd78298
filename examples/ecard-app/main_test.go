package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/cardsso/cardsso/connectors/ecardapp"
	"github.com/cardsso/cardsso/examples/ecard-app/app"
)

// ecardApp runs the command line and returns its exit code and output.
func ecardApp(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// bound binds a new key file at the platform and returns its path.
func bound(t *testing.T, p *testPlatform) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "ecard-app.json")
	code, out, errOut := ecardApp(t, "", "bind", "--platform", p.base, "--name", holderName,
		"--ssn", holderNumber, "--card", holderCard, "--device", "测试手机", "--key", key)
	if code != exitOK {
		t.Fatalf("bind = %d, %q, %q; want 0", code, out, errOut)
	}
	return key
}

// TestBind: the key file is 0600 and holds the private key, the binding
// id, the platform and the masked number, never the full number; the
// platform got the public key of that private key.
func TestBind(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o; want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(key)
	if strings.Contains(string(b), holderNumber) {
		t.Errorf("the key file holds the full number:\n%s", b)
	}
	var kf struct {
		Platform     string         `json:"platform"`
		BindingID    string         `json:"binding_id"`
		MaskedNumber string         `json:"masked_number"`
		Key          map[string]any `json:"key"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	if kf.Platform != p.base || kf.BindingID != "binding-1" || kf.MaskedNumber != "110***********0017" || kf.Key["d"] == nil {
		t.Errorf("key file = %s; want platform %s, binding-1, a masked number, a private JWK", b, p.base)
	}
	a, err := app.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Key.PublicKey.Equal(p.bindings["binding-1"]) {
		t.Error("the platform holds another public key than the key file's")
	}
}

// TestBindRefusesExistingKeyFile: an existing key file is kept, and
// nothing is bound, unless --force; --force replaces it, still 0600.
func TestBindRefusesExistingKeyFile(t *testing.T) {
	p := newTestPlatform(t)
	key := filepath.Join(t.TempDir(), "ecard-app.json")
	if err := os.WriteFile(key, []byte("the old binding\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"bind", "--platform", p.base, "--name", holderName, "--ssn", holderNumber, "--card", holderCard, "--key", key}
	code, _, errOut := ecardApp(t, "", args...)
	if code != exitFailure || !strings.Contains(errOut, "key file exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("bind over a key file = %d, %q; want 1 and a message naming --force", code, errOut)
	}
	if b, _ := os.ReadFile(key); string(b) != "the old binding\n" {
		t.Errorf("the key file was changed: %q", b)
	}
	if n := p.requestCount(); n != 0 {
		t.Errorf("the platform got %d requests; want none", n)
	}
	if code, _, errOut := ecardApp(t, "", append(args, "--force")...); code != exitOK {
		t.Fatalf("bind --force = %d, %q; want 0", code, errOut)
	}
	if a, err := app.Load(key); err != nil || a.BindingID != "binding-1" {
		t.Errorf("after --force Load = %+v, %v; want binding-1", a, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after --force = %04o; want 0600", fi.Mode().Perm())
	}
}

// TestScanConfirms: a confirmation from scan is one the platform accepts:
// signed by the bound key, for that ticket, fresh jti, exp 60 s after
// iat; the output names the portal. The ticket is found in a bare URL, a
// login page URL with ticket_url, and a text containing a URL.
func TestScanConfirms(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	payloads := map[string]func(ticketURL string) string{
		"ticket URL": func(u string) string { return u },
		"login page URL": func(u string) string {
			return "https://sso.example.gov.cn/login/ecard?ticket_url=" + url.QueryEscape(u)
		},
		"text": func(u string) string { return "请用电子社保卡扫码登录：" + u + " (2 分钟内有效)" },
	}
	for name, payload := range payloads {
		id, u := p.newTicket("某市人社网上办事大厅")
		before := time.Now().Unix()
		code, out, errOut := ecardApp(t, "", "scan", payload(u), "--yes", "--key", key)
		if code != exitOK {
			t.Errorf("%s: scan = %d, %q, %q; want 0", name, code, out, errOut)
			continue
		}
		if !strings.Contains(out, "某市人社网上办事大厅") || !strings.Contains(out, "confirmed") {
			t.Errorf("%s: scan printed %q; want the portal's name and confirmed", name, out)
		}
		if state, by := p.ticketState(id); state != "confirmed" || by != "binding-1" {
			t.Errorf("%s: ticket %s, by %q; want confirmed by binding-1", name, state, by)
		}
		c := p.lastClaim
		if c.Ticket != id || c.IssuedAt < before || c.Expiry-c.IssuedAt != 60 {
			t.Errorf("%s: claims %+v; want ticket %s, iat now, exp iat+60", name, c, id)
		}
	}
	// The same ticket again: the app sees it is no longer pending.
	_, u := p.newTicket("portal")
	ecardApp(t, "", "scan", u, "--yes", "--key", key)
	code, _, errOut := ecardApp(t, "", "scan", u, "--yes", "--key", key)
	if code != exitFailure || !strings.Contains(errOut, "confirmed") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("scan twice = %d, %q; want 1 and one line saying it is confirmed", code, errOut)
	}
}

// TestScanPrompt: without --yes the holder is asked; anything but y sends
// nothing.
func TestScanPrompt(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	id, u := p.newTicket("portal")
	for _, answer := range []string{"n\n", "\n", "", "yess\n"} {
		code, out, errOut := ecardApp(t, answer, "scan", u, "--key", key)
		if code != exitFailure || !strings.Contains(out, "confirm? [y/N]") || !strings.Contains(errOut, "not confirmed") {
			t.Errorf("answer %q: scan = %d, %q, %q; want 1, the question, not confirmed", answer, code, out, errOut)
		}
		if state, _ := p.ticketState(id); state != "pending" {
			t.Fatalf("answer %q: ticket %s; want pending", answer, state)
		}
	}
	if code, _, errOut := ecardApp(t, "Y\n", "scan", u, "--key", key); code != exitOK {
		t.Errorf("answer Y: scan = %d, %q; want 0", code, errOut)
	}
	if state, _ := p.ticketState(id); state != "confirmed" {
		t.Errorf("answer Y: ticket %s; want confirmed", state)
	}
}

// TestScanRefuse: --refuse posts a signed refusal the platform accepts.
func TestScanRefuse(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	id, u := p.newTicket("portal")
	code, out, errOut := ecardApp(t, "", "scan", u, "--refuse", "--key", key)
	if code != exitOK || !strings.Contains(out, "refused") {
		t.Errorf("scan --refuse = %d, %q, %q; want 0, refused", code, out, errOut)
	}
	if state, by := p.ticketState(id); state != "refused" || by != "binding-1" {
		t.Errorf("ticket %s by %q; want refused by binding-1", state, by)
	}
}

// TestScanOtherPlatform: a ticket URL not under the key file's platform
// (another host, or another path on the same host) is refused with a
// clear message, and nothing is sent to it.
func TestScanOtherPlatform(t *testing.T) {
	p, other := newTestPlatform(t), newTestPlatform(t)
	key := bound(t, p)
	_, foreign := other.newTicket("某市人社网上办事大厅")
	for name, u := range map[string]string{
		"another host": foreign,
		"another path": p.srv.URL + "/elsewhere" + ecardapp.PathTickets + "/ticket-0000000000000001",
		"a sub-path":   p.base + "/x" + ecardapp.PathTickets + "/ticket-0000000000000001",
	} {
		before := p.requestCount()
		code, _, errOut := ecardApp(t, "", "scan", u, "--yes", "--key", key)
		if code != exitFailure || !strings.Contains(errOut, "not from the platform this app is bound to") {
			t.Errorf("%s: scan = %d, %q; want 1 and the ticket named as another platform's", name, code, errOut)
		}
		if n := other.requestCount() + p.requestCount() - before; n != 0 {
			t.Errorf("%s: %d requests were sent; want none", name, n)
		}
	}
}

// TestPlatformErrors: the platform's ecardapp.Error is one line on stderr
// with exit code 1; so is an answer over the bound.
func TestPlatformErrors(t *testing.T) {
	p := newTestPlatform(t)
	key := filepath.Join(t.TempDir(), "k.json")
	code, _, errOut := ecardApp(t, "", "bind", "--platform", p.base, "--name", "李四", "--ssn", holderNumber, "--card", holderCard, "--key", key)
	if code != exitFailure || !strings.Contains(errOut, "not_matched") || !strings.Contains(errOut, "real-name check failed for this holder") ||
		strings.Count(errOut, "\n") != 1 {
		t.Errorf("bind with another name = %d, %q; want 1 and the platform's error on one line", code, errOut)
	}
	if _, err := os.Stat(key); err == nil {
		t.Error("a key file was written for a refused binding")
	}

	key = bound(t, p)
	_, u := p.newTicket("portal")
	p.mu.Lock()
	p.revoked["binding-1"] = true
	p.mu.Unlock()
	code, _, errOut = ecardApp(t, "", "scan", u, "--yes", "--key", key)
	if code != exitFailure || !strings.Contains(errOut, "bad_signature") {
		t.Errorf("scan with a revoked binding = %d, %q; want 1 and bad_signature", code, errOut)
	}

	code, _, errOut = ecardApp(t, "", "scan", p.base+ecardapp.PathTickets+"/huge", "--yes", "--key", key)
	if code != exitFailure || !strings.Contains(errOut, "over 1048576 bytes") {
		t.Errorf("scan of a huge answer = %d, %q; want 1 and the bound named", code, errOut)
	}
}

// TestShowCode: the code printed verifies at the platform as a counter
// code of the binding (60 s, fresh jti each time), and the QR drawn in
// text blocks reads back as the QR code of exactly that code.
func TestShowCode(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	seen := map[string]bool{}
	for i := range 2 {
		code, out, errOut := ecardApp(t, "", "show-code", "--key", key)
		if code != exitOK {
			t.Fatalf("show-code = %d, %q; want 0", code, errOut)
		}
		jws, qr := splitShowCode(t, out)
		kid, c, err := p.verifyCounter(jws)
		if err != nil || kid != "binding-1" || c.Expiry-c.IssuedAt != int64(ecardapp.CounterCodeLifetime/time.Second) {
			t.Errorf("#%d: verifyCounter = %q, %+v, %v; want binding-1, a 60 s code", i, kid, c, err)
		}
		if seen[c.JTI] {
			t.Errorf("#%d: jti %q again", i, c.JTI)
		}
		seen[c.JTI] = true
		q, err := qrcode.New(jws, app.QRLevel)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readBlocks(qr), q.Bitmap(); !equalBitmaps(got, inverted(want)) {
			t.Errorf("#%d: the QR text reads as a %dx? bitmap that is not the code's %dx%d QR", i, len(got), len(want), len(want))
		}
	}
}

// splitShowCode splits show-code's output into the JWS line and the QR.
func splitShowCode(t *testing.T, out string) (jws, qr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		if strings.Count(l, ".") == 2 && strings.HasPrefix(l, "ey") {
			return l, strings.Join(lines[:i], "\n")
		}
	}
	t.Fatalf("no JWS in the output:\n%s", out)
	return "", ""
}

// readBlocks reads a QR drawn with ▀ ▄ █ and spaces, two rows a line,
// into rows of modules (true where a block is drawn).
func readBlocks(s string) [][]bool {
	var rows [][]bool
	for _, line := range strings.Split(strings.Trim(s, "\n"), "\n") {
		var top, bottom []bool
		for _, r := range line {
			top = append(top, r == '█' || r == '▀')
			bottom = append(bottom, r == '█' || r == '▄')
		}
		rows = append(rows, top, bottom)
	}
	return rows
}

// inverted is the bitmap as the default (dark terminal) drawing shows
// it: light modules drawn.
func inverted(b [][]bool) [][]bool {
	out := make([][]bool, len(b))
	for y := range b {
		out[y] = make([]bool, len(b[y]))
		for x := range b[y] {
			out[y][x] = !b[y][x]
		}
	}
	return out
}

// equalBitmaps compares got (an even number of rows) with want; an odd
// want's last row is drawn with its lower half empty.
func equalBitmaps(got, want [][]bool) bool {
	if len(want) == 0 || len(got) < len(want) || len(got) > len(want)+1 {
		return false
	}
	for y := range got {
		if y == len(want) { // the padding half of an odd last line
			for _, v := range got[y] {
				if v {
					return false
				}
			}
			continue
		}
		if len(got[y]) != len(want[y]) {
			return false
		}
		for x := range got[y] {
			if got[y][x] != want[y][x] {
				return false
			}
		}
	}
	return true
}

// TestUsage: command line mistakes exit 2, with one line on stderr.
func TestUsage(t *testing.T) {
	p := newTestPlatform(t)
	key := filepath.Join(t.TempDir(), "k.json")
	bind := func(platform, ssn string) []string {
		return []string{"bind", "--platform", platform, "--name", holderName, "--ssn", ssn, "--card", holderCard, "--key", key}
	}
	for name, args := range map[string][]string{
		"no command":             {"frobnicate"},
		"unknown flag":           {"show-code", "--frob"},
		"scan without payload":   {"scan"},
		"scan of no ticket":      {"scan", "hello world", "--key", key},
		"scan of a ftp URL":      {"scan", "ftp://127.0.0.1/app/v1/tickets/ticket-0000000000000001", "--key", key},
		"scan of http elsewhere": {"scan", "http://sso.example.com/app/v1/tickets/ticket-0000000000000001", "--key", key},
		"bind without --card":    {"bind", "--platform", p.base, "--name", holderName, "--ssn", holderNumber},
		"bind over http":         bind("http://platform.example.com/app", holderNumber),
		"bind to a ftp URL":      bind("ftp://127.0.0.1/app", holderNumber),
		"bind with a bad number": bind(p.base, "110105199003070018"),
	} {
		code, _, errOut := ecardApp(t, "", args...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, %q; want 2 and one line", name, code, errOut)
		}
		if strings.Contains(errOut, "110105199003070018") {
			t.Errorf("%s: the full number is printed: %q", name, errOut)
		}
	}
	if n := p.requestCount(); n != 0 {
		t.Errorf("the platform got %d requests; want none", n)
	}
	if code, _, errOut := ecardApp(t, "", "show-code", "--key", key); code != exitFailure || !strings.Contains(errOut, "bind first") {
		t.Errorf("show-code without a key file = %d, %q; want 1 and 'bind first'", code, errOut)
	}
}

// TestLoadRefusesReadableKeyFile: a key file others may read is refused.
func TestLoadRefusesReadableKeyFile(t *testing.T) {
	p := newTestPlatform(t)
	key := bound(t, p)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ecardApp(t, "", "show-code", "--key", key); code != exitFailure || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("show-code with a 0644 key file = %d, %q; want 1 and chmod 600", code, errOut)
	}
}
