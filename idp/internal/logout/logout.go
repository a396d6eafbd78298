// Package logout tells everyone who signed in through an SSO session that
// it ended, across protocols:
//
//	/logout (RP-initiated OIDC logout, the logout page)
//	  └─ login.Config.SessionEnded = Fanout.SessionEnded
//	       ├─ OIDC clients with a backchannel_logout_uri: a logout token,
//	       │  POSTed in the background (timeout, bounded retries)
//	       └─ SAML participants: the browser goes through /saml/slo/start,
//	          one LogoutRequest per SP, then on to the post-logout redirect
//	SAML LogoutRequest from an SP at /saml/slo
//	  └─ crewjam/saml ends the session, sends LogoutRequests to the other
//	     SAML participants; cardsaml.Config.SessionEnded = Fanout.SAMLEnded
//	       └─ OIDC clients: logout tokens, as above
//
// Deliveries never block the citizen's page; the node waits for the ones in
// flight (at most their timeouts) when it closes.
package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// Clients finds a relying party's registration (its backchannel_logout_uri).
type Clients interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

// Tokens signs logout tokens (idp/internal/oidc.Storage.LogoutToken).
type Tokens interface {
	LogoutToken(ctx context.Context, issuer string, c storage.Client, accountID, sessionID string) (string, error)
}

// SAMLChain sends the browser through the SAML participants' single logout
// (idp/internal/saml.Provider.LogoutChain), returning where to go first, or
// "" when the session had none.
type SAMLChain interface {
	LogoutChain(ctx context.Context, s storage.Session, next string) string
}

// Config sets the fan-out.
type Config struct {
	Clients Clients
	Tokens  Tokens
	Issuer  string
	// Timeout bounds one delivery of a logout token.
	Timeout time.Duration
	// Attempts is how many times a delivery is tried (network errors, 5xx
	// and 429 answers are tried again).
	Attempts int
	// Backoff is the wait before the second attempt, doubled for each
	// further one.
	Backoff time.Duration
	Logger  *slog.Logger
}

// Fanout announces ended sessions.
type Fanout struct {
	store  Clients
	tokens Tokens
	saml   SAMLChain
	issuer string
	cfg    Config
	client *http.Client
	log    *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{} // bounds deliveries in flight
}

// New returns a fan-out; Close stops it.
func New(cfg Config) *Fanout {
	ctx, cancel := context.WithCancel(context.Background())
	return &Fanout{
		store: cfg.Clients, tokens: cfg.Tokens, issuer: cfg.Issuer, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, 32),
		client: &http.Client{
			Timeout: cfg.Timeout,
			// A logout token goes to the registered URI only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// UseSAML sets the SAML single logout chain (the SAML provider is built
// after the fan-out, which it calls back).
func (f *Fanout) UseSAML(c SAMLChain) { f.saml = c }

// SessionEnded is login.Config.SessionEnded: back-channel logout to the
// OIDC clients, and the SAML logout chain for the browser when the session
// had SAML participants.
func (f *Fanout) SessionEnded(_ http.ResponseWriter, r *http.Request, s storage.Session, next string) string {
	f.backchannel(s)
	if f.saml == nil {
		return ""
	}
	return f.saml.LogoutChain(r.Context(), s, next)
}

// SAMLEnded is cardsaml.Config.SessionEnded: a SAML LogoutRequest ended the
// session; the SAML participants are crewjam/saml's.
func (f *Fanout) SAMLEnded(_ context.Context, s storage.Session) { f.backchannel(s) }

// backchannel starts a delivery for each OIDC client of the session.
func (f *Fanout) backchannel(s storage.Session) {
	for _, id := range s.Clients {
		if strings.HasPrefix(id, "saml:") {
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			select {
			case f.sem <- struct{}{}:
				defer func() { <-f.sem }()
			case <-f.ctx.Done():
				return
			}
			f.deliver(id, s)
		}()
	}
}

// errPermanent: the relying party refused the token; trying again will not
// help.
var errPermanent = errors.New("refused")

// deliver sends client id its logout token (OpenID Connect Back-Channel
// Logout 1.0 §2.5: POST, application/x-www-form-urlencoded, logout_token),
// trying up to Attempts times on network errors and 5xx answers,
// waiting Backoff, then twice as long, between attempts.
func (f *Fanout) deliver(clientID string, s storage.Session) {
	ctx := f.ctx
	c, err := f.store.GetClient(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err != nil {
		f.log.WarnContext(ctx, "backchannel logout: load client", "client", clientID, "error", err)
		return
	}
	if c.BackchannelLogoutURI == "" {
		return
	}
	token, err := f.tokens.LogoutToken(ctx, f.issuer, c, s.AccountID, s.ID)
	if err != nil {
		f.log.ErrorContext(ctx, "backchannel logout: sign logout token", "client", clientID, "error", err)
		return
	}
	wait := f.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err = f.post(ctx, c.BackchannelLogoutURI, token)
		if err == nil {
			f.log.InfoContext(ctx, "backchannel logout delivered", "client", clientID, "attempt", attempt)
			return
		}
		if errors.Is(err, errPermanent) || attempt >= f.cfg.Attempts || ctx.Err() != nil {
			f.log.WarnContext(ctx, "backchannel logout failed", "client", clientID, "attempts", attempt, "error", err)
			return
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		wait *= 2
	}
}

func (f *Fanout) post(ctx context.Context, uri, token string) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("status %d", resp.StatusCode)
	default:
		return fmt.Errorf("%w with status %d", errPermanent, resp.StatusCode)
	}
}

// Close lets deliveries in flight finish for up to Timeout, then cancels
// the rest and waits for them.
func (f *Fanout) Close() {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(f.cfg.Timeout):
	}
	f.cancel()
	<-done
}
