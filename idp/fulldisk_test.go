package idp_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// TmpfsEnv names the environment variable that lets the full-disk test
// mount a small tmpfs (which needs root, as CI and the development machines
// run). .ci/run sets it; when it is unset the test does not run, and when it
// is set but the mount fails the test fails: a configured fault test is a
// requirement, never a skip.
const TmpfsEnv = "CARDSSO_TEST_TMPFS"

// tmpfsSize is the size of the file system the node's data directory is on:
// room for the fresh database with its WAL, and small enough to fill in a
// moment.
const tmpfsSize = "24m"

// mountTmpfs mounts a tmpfs of tmpfsSize on a new temporary directory and
// unmounts it when the test ends (after the node, started later, has
// closed its database: cleanups run last-in first-out).
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+tmpfsSize+",mode=0700"); err != nil {
		t.Fatalf("%s is set, but mounting a tmpfs on %s failed (the test needs root): %v", TmpfsEnv, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes path until the file system says ENOSPC, in large writes and
// then small ones, so that not even a page is left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 4 << 10, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v; want ENOSPC in the end", path, err)
				}
				break
			}
		}
	}
}

// answer is a response of the node, with the headers the test looks at.
type answer struct {
	status     int
	retryAfter string
	location   string
	body       string
}

func doAnswer(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	req.Header.Set("Accept-Language", "en")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), location: resp.Header.Get("Location"), body: string(body)}
}

// internalText is what no answer may carry: the driver's and the file
// system's words, SQL, paths, a Go stack.
var internalText = []string{"database or disk is full", "no space left", "sqlite", "sqlstore", "SQLITE",
	"INSERT", "UPDATE ", "/tmp", ".db", "goroutine ", "panic", "runtime/", ".go:"}

func checkNoInternalText(t *testing.T, what string, a answer) {
	t.Helper()
	text := a.body + " " + a.location
	if u, err := url.Parse(a.location); err == nil {
		text += " " + u.Query().Get("error_description")
	}
	for _, leak := range internalText {
		if strings.Contains(text, leak) {
			t.Errorf("%s: the answer shows internal text %q:\n%s", what, leak, text)
		}
	}
}

// TestFullDisk: a running node whose SQLite database is on a file system
// that fills up stops saying it is ready within seconds, answers "try
// again shortly" (503, Retry-After, temporarily_unavailable) where it
// needs to write, never a 500 or internal text, and keeps /healthz up;
// when space is freed it is ready again by itself, the tokens issued before
// still work and the database is intact, every client still there (issue
// #18 §3, §5, §6).
//
// It runs the node in-process (idp.New, as the other fault tests here do:
// TestPostgresOutage) on a real tmpfs: SQLite meets ENOSPC from the kernel,
// as an operator's node does, rather than a page limit.
func TestFullDisk(t *testing.T) {
	if os.Getenv(TmpfsEnv) == "" {
		t.Logf("%s is not set: the full-disk test mounts a tmpfs (as root) and does not run", TmpfsEnv)
		return
	}
	dir := mountTmpfs(t)
	n := startNode(t, func(c *idp.Config) { c.DataDir = dir })
	base := "http://" + n.addr
	plain := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) answer {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		return doAnswer(t, plain, req)
	}
	waitFor := func(path string, want int, within time.Duration) {
		t.Helper()
		start := time.Now()
		deadline := start.Add(within)
		for {
			a := get(path)
			if a.status == want {
				t.Logf("GET %s = %d after %s", path, want, time.Since(start).Round(time.Millisecond))
				return
			}
			if a.status >= 500 && a.status != http.StatusServiceUnavailable {
				t.Errorf("GET %s = %d; want %d or 503, never another 5xx", path, a.status, want)
			}
			checkNoInternalText(t, "GET "+path, a)
			if time.Now().After(deadline) {
				t.Fatalf("GET %s = %d after %s; want %d", path, a.status, within, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("/readyz", http.StatusOK, 10*time.Second)

	// Before the disk fills: two clients, a citizen with tokens at the
	// portal, and a login page open in another browser.
	const redirect = "http://127.0.0.1:9411/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "portal", RedirectURIs: []string{redirect}})
	_ = registerClient(t, n, admin.ClientSpec{ID: "other-portal", RedirectURIs: []string{"http://127.0.0.1:9412/cb"}})
	r := newRP(t, n, "portal", secret, redirect)
	br := newBrowser(t, redirect)
	v := oauth2.GenerateVerifier()
	held, _ := exchange(t, r, register(t, br, n, r.authorize(br, "st", "n", v), zhangSan, zhangSanSSN, goodPass), v, "st")
	if held.RefreshToken == "" {
		t.Fatal("no refresh token before the fault")
	}
	clientCredentials := func() answer {
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("portal", secret)
		return doAnswer(t, plain, req)
	}
	if a := clientCredentials(); a.status != http.StatusOK {
		t.Fatalf("client credentials before the fault: %d %s", a.status, a.body)
	}
	other := newBrowser(t, redirect)
	loginPage := r.authorize(other, "st2", "n", oauth2.GenerateVerifier())
	loginForm := formFor(t, loginPage, "/login/password")

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	removed := false
	defer func() {
		if !removed {
			_ = os.Remove(filler)
		}
	}()

	// Readiness tells the truth within a few probe intervals; liveness
	// stays (the process is fine, restarting it would not help).
	waitFor("/readyz", http.StatusServiceUnavailable, 15*time.Second)
	if a := get("/healthz"); a.status != http.StatusOK {
		t.Errorf("healthz on a full disk: %d; want 200", a.status)
	}

	// A refresh must write (rotation): 503 temporarily_unavailable, and the
	// token is not used up by the failed attempt.
	_, err := r.refresh(held.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable || re.ErrorCode != "temporarily_unavailable" || re.Response.Header.Get("Retry-After") == "" {
		t.Errorf("refresh on a full disk: %v; want 503 temporarily_unavailable with Retry-After", err)
	} else {
		checkNoInternalText(t, "refresh", answer{body: string(re.Body)})
	}
	// Client credentials are issued from the cached client: a token, or at
	// worst 503; never a 500.
	if a := clientCredentials(); a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
		t.Errorf("client credentials on a full disk: %d; want 200 or 503:\n%s", a.status, a.body)
	} else {
		checkNoInternalText(t, "client credentials", a)
	}
	// A new sign-in at the portal goes back with temporarily_unavailable
	// (RFC 6749 §4.1.2.1), or a 503 page.
	authz, _ := http.NewRequest(http.MethodGet, r.conf.AuthCodeURL("st3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	a := doAnswer(t, plain, authz)
	if lu, _ := url.Parse(a.location); a.status != http.StatusServiceUnavailable && (lu == nil || lu.Query().Get("error") != "temporarily_unavailable") {
		t.Errorf("authorize on a full disk: %d %q; want a redirect with error=temporarily_unavailable or 503", a.status, a.location)
	}
	checkNoInternalText(t, "authorize", a)
	// The citizen at the open login page signs in: 503 with Retry-After,
	// "try again", no 500.
	form := url.Values{}
	for k, vs := range loginForm.fields {
		form[k] = vs
	}
	form.Set("ssn", zhangSanSSN)
	form.Set("password", goodPass)
	lreq, _ := http.NewRequest(http.MethodPost, base+loginForm.action, strings.NewReader(form.Encode()))
	lreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	la := doAnswer(t, other.c, lreq)
	if la.status != http.StatusServiceUnavailable || la.retryAfter == "" || !strings.Contains(la.body, "briefly unavailable") {
		t.Errorf("login POST on a full disk: %d Retry-After %q; want 503 with Retry-After saying it is briefly unavailable:\n%s", la.status, la.retryAfter, la.body)
	}
	checkNoInternalText(t, "login POST", la)

	// Space comes back: the node is ready again by itself (within the
	// hold of a recent write fault and a probe).
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	removed = true
	waitFor("/readyz", http.StatusOK, 45*time.Second)
	if a := clientCredentials(); a.status != http.StatusOK {
		t.Errorf("client credentials after the fault: %d %s", a.status, a.body)
	}
	// What was issued before still works: the access token at userinfo,
	// the refresh token (neither consumed nor taken as a reuse).
	if _, err := r.userinfo(held); err != nil {
		t.Errorf("userinfo with the access token issued before the fault: %v", err)
	}
	if _, err := r.refresh(held.RefreshToken); err != nil {
		t.Errorf("refresh after the fault with the token held through it: %v", err)
	}
	// The file is intact and nothing was lost.
	checkIntegrity(t, filepath.Join(dir, "cardsso.db"))
	list, err := n.admin(t).ListClients(context.Background())
	if err != nil {
		t.Fatalf("clients after the full disk: %v", err)
	}
	got := map[string]bool{}
	for _, c := range list {
		got[c.ID] = true
	}
	if !got["portal"] || !got["other-portal"] || len(list) != 2 {
		t.Errorf("clients after the full disk: %+v; want portal and other-portal", list)
	}
}

// checkIntegrity runs SQLite's integrity_check on the file, opened
// read-only next to the running node.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after the full disk = %q, %v; want ok", check, err)
	}
}
