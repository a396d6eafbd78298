package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// Taking a squatted number back.
//
// Whoever knows a citizen's name and number passes the real-name check, so
// they can register the number first. The registration therefore never
// says "already registered": the real-name step answers the same for a
// registered and an unregistered number (it does not look the account up),
// and when the password step finds the number taken, the citizen is offered
// the real-card check, which only the card holder passes:
//
//	POST /login/register  real-name match ─303→ /login/password-setup (always)
//	POST /login/password-setup
//	  ├─ number free: the account is created, the login goes on
//	  └─ number taken: the new password hash is kept in the pending state
//	     (pending.ReclaimHash) ─303→ /login/reclaim
//	POST /login/reclaim  card number; the attempt is counted first
//	  (per account and per client address, ReclaimConfig), then verifyCard
//	  ├─ pass: the password is replaced, remembered consents are dropped,
//	  │  every session of the account ends (tokens revoked, back-channel
//	  │  logout to the portals), "account.reclaimed" is audited, and the
//	  │  login goes on as a fresh password login of the holder
//	  └─ fail: nothing on the account changes
//
// A number registered by the citizen themselves takes the same path: they
// may simply log in with their password instead, or take the account over
// with their card (a password reset by card).

const reclaimPath = "/login/reclaim"

// reclaimStep is the reclaim's page: a registration that found its number
// taken (pending.ReclaimHash) continues there, before the password setup.
var reclaimStep = &Step{
	Name: "reclaim", Path: reclaimPath, PromptNone: "login_required",
	Done: func(_ context.Context, _ *Handler, f *flow) (bool, error) {
		return f.identified() || f.st.Pending == nil || f.st.Pending.ReclaimHash == "", nil
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("GET "+reclaimPath, h.getReclaim)
		mux.HandleFunc("POST "+reclaimPath, h.limitForms(h.postReclaim))
	},
}

// ReclaimConfig limits the reclaim's real-card checks. Zero fields take
// the defaults.
type ReclaimConfig struct {
	// PerAccount and PerIP attempts within Window; further attempts are
	// refused with 429 before any check. Defaults 5, 20 and 1h.
	PerAccount int
	PerIP      int
	Window     time.Duration
}

func (c ReclaimConfig) withDefaults() ReclaimConfig {
	if c.PerAccount == 0 {
		c.PerAccount = 5
	}
	if c.PerIP == 0 {
		c.PerIP = 20
	}
	if c.Window == 0 {
		c.Window = time.Hour
	}
	return c
}

func reclaimKey(accountID string) string { return "reclaim:acct:" + accountID }
func reclaimIPKey(ip string) string      { return "reclaim:ip:" + ip }

// reclaimOf is the pending registration of a registered number, or sends
// the browser on to where its login is.
func (h *Handler) reclaimOf(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) (*pending, bool) {
	pd, ok := h.pendingOf(w, r, req)
	if !ok {
		return nil, false
	}
	if pd.ReclaimHash == "" {
		http.Redirect(w, r, stepURL(setupPath, req.ID), http.StatusSeeOther)
		return nil, false
	}
	return pd, true
}

func (h *Handler) getReclaim(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	pd, ok := h.reclaimOf(w, r, req)
	if !ok {
		return
	}
	if h.cfg.Card == nil {
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "reclaim.unavailable", stepURL(cancelPath, req.ID))
		return
	}
	h.renderReclaim(w, r, req, pd, http.StatusOK, "")
}

func (h *Handler) renderReclaim(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, pd *pending, status int, errKey string) {
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	p.Who = maskName(pd.Name) + " (" + pd.SSNMasked + ")"
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	p.Link = stepURL(cancelPath, req.ID)
	h.render(w, status, "reclaim", p)
}

// postReclaim runs the real-card check for the registered account of the
// pending number and, when the card holder passes it, gives them the
// account.
func (h *Handler) postReclaim(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	pd, ok := h.reclaimOf(w, r, req)
	if !ok {
		return
	}
	if h.cfg.Card == nil {
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "reclaim.unavailable", stepURL(cancelPath, req.ID))
		return
	}
	cn := normaliseCardNumber(r.PostFormValue("card_number"))
	if !connectors.ValidCardNumber(cn) {
		h.renderReclaim(w, r, req, pd, http.StatusBadRequest, "err.card.form")
		return
	}
	ctx := r.Context()
	acct, err := h.cfg.Store.GetAccountBySSNIndex(ctx, pd.SSNIndex)
	if errors.Is(err, storage.ErrNotFound) {
		// The account went away meanwhile (deleted by an administrator):
		// the number is free, so this is a plain registration again.
		pd.ReclaimHash = ""
		if err := h.saveState(ctx, req.ID, state{Pending: pd}); err != nil {
			h.internal(w, r, "save login state", err)
			return
		}
		http.Redirect(w, r, stepURL(setupPath, req.ID), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.internal(w, r, "find account", err)
		return
	}
	if locked, err := h.reclaimAttempt(r, acct.ID); err != nil {
		h.internal(w, r, "count reclaim attempt", err)
		return
	} else if locked {
		h.cfg.Observer.Login("reclaim", "locked")
		h.cfg.Logger.InfoContext(ctx, "reclaim locked", "number", pd.SSNMasked, "client", req.ClientID)
		h.renderReclaim(w, r, req, pd, http.StatusTooManyRequests, "err.locked.reclaim")
		return
	}
	card, err := h.verifyCard(ctx, req.ClientID, acct, cn)
	switch {
	case errors.Is(err, errCardUnavailable):
		h.renderReclaim(w, r, req, pd, http.StatusServiceUnavailable, "err.unavailable")
		return
	case errors.Is(err, errCardMismatch):
		h.cfg.Observer.Login("reclaim", "card_mismatch")
		h.renderReclaim(w, r, req, pd, http.StatusUnauthorized, "err.card.mismatch")
		return
	case err != nil:
		h.internal(w, r, "card check", err)
		return
	case !card.Status.Passes():
		// The card is the citizen's, but not usable (lost, cancelled …):
		// the status is recorded, the password stays.
		h.cfg.Observer.Login("reclaim", "card_refused")
		h.cardRefused(w, r, req, card.Status)
		return
	}
	h.reclaimed(w, r, req, acct, pd)
}

// reclaimAttempt counts a reclaim's card check per account and per client
// address before the check, and decides on the counted value: parallel
// attempts cannot all slip in under the limit.
func (h *Handler) reclaimAttempt(r *http.Request, accountID string) (locked bool, err error) {
	ctx, lim, now := r.Context(), h.cfg.Reclaim, h.cfg.Now()
	byAccount, _, err := h.cfg.Store.IncrementCounter(ctx, reclaimKey(accountID), lim.Window, now)
	if err != nil {
		return false, err
	}
	byIP, _, err := h.cfg.Store.IncrementCounter(ctx, reclaimIPKey(clientIP(r)), lim.Window, now)
	if err != nil {
		return false, err
	}
	return byAccount > lim.PerAccount || byIP > lim.PerIP, nil
}

// reclaimed gives the account to the card holder who passed its check
// (reclaim), audits it, and goes on as a fresh password login.
func (h *Handler) reclaimed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, acct storage.Account, pd *pending) {
	ctx := r.Context()
	ended, err := h.reclaim(w, r, acct, pd)
	if err != nil {
		h.internal(w, r, "reclaim account", err)
		return
	}
	if err := h.cfg.Store.ResetCounter(ctx, reclaimKey(acct.ID)); err != nil {
		h.cfg.Logger.WarnContext(ctx, "reset reclaim counter", "error", err)
	}
	if err := h.cfg.Store.ResetCounter(ctx, passwordKey(pd.SSNIndex)); err != nil {
		h.cfg.Logger.WarnContext(ctx, "reset lockout counter", "error", err)
	}
	h.cfg.Observer.Login("reclaim", "success")
	h.audit(ctx, "account.reclaimed", "number", pd.SSNMasked, "account", acct.ID,
		"client", req.ClientID, "sessions_ended", ended)
	h.primary(w, r, req, acct.ID, []string{assurance.AMRPassword})
}

// reclaim gives the account to the card holder who just passed the
// real-card check: their password replaces the old one, the consents given
// in the account's name are dropped (the holder did not give them), and
// every session of the account ends, with the logout fan-out, so whoever
// held it is signed out everywhere. It returns the number of sessions
// ended.
func (h *Handler) reclaim(w http.ResponseWriter, r *http.Request, acct storage.Account, pd *pending) (int, error) {
	ctx := r.Context()
	now := h.cfg.Now().UTC()
	if !strings.HasPrefix(pd.ReclaimHash, "$argon2id$") {
		return 0, errors.New("pending reclaim without a password hash")
	}
	err := h.cfg.Store.UpdateAccount(ctx, acct.ID, func(a storage.Account) (storage.Account, error) {
		a.PasswordHash = pd.ReclaimHash
		// The card check just matched name, number and card at the card
		// service: the real-name check of the account is now. Logins of
		// the account authenticated before it are stale (authStale).
		a.RealNameVerifiedAt = now
		a.UpdatedAt = now
		return a, nil
	})
	if err != nil {
		return 0, fmt.Errorf("set password: %w", err)
	}
	consents, err := h.cfg.Store.ListConsents(ctx, acct.ID)
	if err != nil {
		return 0, fmt.Errorf("list consents: %w", err)
	}
	for _, c := range consents {
		if err := h.cfg.Store.DeleteConsent(ctx, acct.ID, c.ClientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("drop consent: %w", err)
		}
	}
	return h.endAllSessions(w, r, acct.ID)
}

// endAllSessions ends every session of the account, each with the logout
// fan-out (back-channel logout to its OIDC portals). The SAML front-channel
// chain needs the browser of each session and is not run; the SAML
// service providers' own sessions end when they next ask.
func (h *Handler) endAllSessions(w http.ResponseWriter, r *http.Request, accountID string) (int, error) {
	sessions, err := h.cfg.Store.ListSessionsByAccount(r.Context(), accountID)
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	n := 0
	for _, s := range sessions {
		ended, ok, err := h.cfg.Sessions.EndID(r.Context(), s.ID)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		n++
		if h.cfg.SessionEnded != nil {
			_ = h.cfg.SessionEnded(w, r, ended, "/logout/done")
		}
	}
	return n, nil
}

// authStale reports whether an authentication in progress predates the
// account's latest (re)claim: someone authenticated as the account (the
// squatter, with the password that the reclaim replaced) must not finish a
// login the real holder has since taken the account from. A registration
// or a reclaim sets Account.RealNameVerifiedAt; every authentication that
// counts comes after it.
func authStale(a *authState, acct storage.Account) bool {
	return a != nil && a.AuthTime.Before(acct.RealNameVerifiedAt)
}

// refuseStale sends a login whose authentication is stale (authStale)
// back to the first page, with the authentication dropped.
func (h *Handler) refuseStale(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, acct storage.Account) bool {
	if !authStale(st.Auth, acct) {
		return false
	}
	h.cfg.Observer.Login("form", "stale_authentication")
	h.cfg.Logger.InfoContext(r.Context(), "login of a reclaimed account refused", "account", acct.ID, "client", req.ClientID)
	if err := h.saveState(r.Context(), req.ID, state{}); err != nil {
		h.internal(w, r, "save login state", err)
		return true
	}
	http.Redirect(w, r, LoginURL(req.ID), http.StatusSeeOther)
	return true
}

// audit writes an audit event: a log line at warning level with
// audit=true and the event's name as message. Callers pass masked numbers
// only.
func (h *Handler) audit(ctx context.Context, event string, args ...any) {
	h.cfg.Logger.WarnContext(ctx, event, append([]any{"audit", true}, args...)...)
}
