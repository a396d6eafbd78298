package idp_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// TestParallelRealNameMismatchesStopAtTheLimit: the real-name check counts
// the attempt before it asks the platform, so 20 parallel wrong names for
// one number get at most the limit of "no match" answers and the rest the
// locked page; the right name is then locked out too.
func TestParallelRealNameMismatchesStopAtTheLimit(t *testing.T) {
	const limit = 3
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{RealNamePerNumber: limit, RealNamePerIP: 1000})
	})
	const red = "http://127.0.0.1:9815/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	const parallel = 20
	type attempt struct {
		b *browser
		f form
	}
	var attempts []attempt
	for range parallel {
		b := newBrowser(t, red)
		attempts = append(attempts, attempt{b, formFor(t, r.authorize(b, "s", "n", oauth2.GenerateVerifier()), "/login/register")})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses, bodies := make([]int, parallel), make([]string, parallel)
	for i, a := range attempts {
		wg.Go(func() {
			v := a.f.fields
			v.Set("name", "王二麻子")
			v.Set("ssn", zhangSanSSN)
			req, _ := http.NewRequest(http.MethodPost, n.issuer+"/login/register", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept-Language", "en")
			<-start
			resp, err := a.b.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i], bodies[i] = resp.StatusCode, string(body)
		})
	}
	close(start)
	wg.Wait()
	mismatch, locked := 0, 0
	for i := range parallel {
		switch {
		case statuses[i] == http.StatusUnauthorized && strings.Contains(bodies[i], "do not match the card records"):
			mismatch++
		case statuses[i] == http.StatusTooManyRequests && strings.Contains(bodies[i], "registration is paused"):
			locked++
		default:
			t.Errorf("attempt %d: status %d", i, statuses[i])
		}
	}
	if mismatch > limit || mismatch+locked != parallel {
		t.Errorf("%d parallel mismatches: %d reached the check, %d locked; want at most %d and the rest locked", parallel, mismatch, locked, limit)
	}
	b := newBrowser(t, red)
	p := b.submit(n.issuer, formFor(t, r.authorize(b, "s", "n", oauth2.GenerateVerifier()), "/login/register"),
		map[string]string{"name": zhangSan, "ssn": zhangSanSSN})
	if p.status != http.StatusTooManyRequests {
		t.Errorf("the right name while locked: %d; want 429", p.status)
	}
}
