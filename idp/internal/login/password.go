package login

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
	"golang.org/x/text/width"
)

// parseNumber normalises what a citizen typed (full-width digits from a
// Chinese input method, inner spaces) and validates it locally.
func parseNumber(s string) (citizenid.Number, string, error) {
	s = width.Narrow.String(s)
	s = strings.Join(strings.Fields(s), "")
	n, err := citizenid.Parse(s)
	if err == nil {
		return n, "", nil
	}
	switch {
	case errors.Is(err, citizenid.ErrLength):
		return n, "err.number.length", err
	case errors.Is(err, citizenid.ErrCharacters):
		return n, "err.number.characters", err
	case errors.Is(err, citizenid.ErrRegion):
		return n, "err.number.region", err
	case errors.Is(err, citizenid.ErrBirthDate):
		return n, "err.number.birthdate", err
	default:
		return n, "err.number.check", err
	}
}

// loginStep is the first page: the returning citizen's number and
// password, and the first-time registration's name and number. It is done
// once the citizen is identified (by a password, a registration, a
// reclaim or the SSO session).
var loginStep = &Step{
	Name: "login", Path: "/login", PromptNone: "login_required",
	Done: func(_ context.Context, _ *Handler, f *flow) (bool, error) { return f.identified(), nil },
	Show: func(h *Handler, w http.ResponseWriter, r *http.Request, f *flow) {
		h.renderLogin(w, r, f.req, http.StatusOK, "", nil)
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("POST /login/password", h.limitForms(h.postPassword))
		mux.HandleFunc("POST /login/register", h.limitForms(h.postRegister))
		h.ecardRoutes(mux) // the e-card app, instead of the password (ecard.go)
	},
}

// postPassword is the returning citizen's login: number + password.
func (h *Handler) postPassword(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	ctx := r.Context()
	ssn := r.PostFormValue("ssn")
	values := map[string]string{"login.ssn": ssn}
	num, key, err := parseNumber(ssn)
	if err != nil {
		h.cfg.Observer.Login("password", "invalid_number")
		h.renderLogin(w, r, req, http.StatusBadRequest, key, values)
		return
	}
	pw := r.PostFormValue("password")
	index := h.cfg.Sealer.BlindIndex(num.String())
	lock := h.cfg.Lockout
	limits := []limit{
		{passwordKey(index), lock.PasswordWindow, lock.PasswordFailures},
		{passwordIPKey(clientIP(r)), lock.PasswordWindow, lock.PasswordPerIP},
	}
	// The attempt is counted before any password work, registered number
	// or not, and the decision taken on the counted value: of parallel
	// attempts at most the limit reach the hash. A lock says nothing about
	// whether the number exists.
	counts, locked, err := h.attempt(ctx, limits...)
	if err != nil {
		h.internal(w, r, "count login attempt", err)
		return
	}
	if locked {
		h.cfg.Observer.Login("password", "locked")
		h.cfg.Logger.InfoContext(ctx, "password login locked", "number", num, "client", req.ClientID,
			"ip", clientAddr(r), "by_number", counts[0] > lock.PasswordFailures, "by_ip", counts[1] > lock.PasswordPerIP)
		key := "err.locked"
		if counts[0] <= lock.PasswordFailures {
			key = "err.locked.ip"
		}
		h.renderLogin(w, r, req, http.StatusTooManyRequests, key, values)
		return
	}
	acct, err := h.cfg.Store.GetAccountBySSNIndex(ctx, index)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Same work and same answer as a wrong password: no oracle for
		// whether a number is registered.
		_, _ = h.hashes.Verify(ctx, pw, h.dummyHash)
		h.wrongCredentials(w, r, req, num, counts[0], values)
		return
	case err != nil:
		h.forgive(ctx, limits...)
		h.internal(w, r, "find account", err)
		return
	}
	ok, err = h.hashes.Verify(ctx, pw, acct.PasswordHash)
	if err != nil {
		h.forgive(ctx, limits...)
		h.internal(w, r, "verify password", err)
		return
	}
	if !ok {
		h.wrongCredentials(w, r, req, num, counts[0], values)
		return
	}
	if err := h.cfg.Store.ResetCounter(ctx, passwordKey(index)); err != nil {
		h.cfg.Logger.WarnContext(ctx, "reset lockout counter", "error", err)
	}
	h.forgive(ctx, limits[1]) // the address: a success is no failure
	if password.NeedsRehash(acct.PasswordHash, h.cfg.Password) {
		h.rehash(ctx, acct.ID, pw)
	}
	h.cfg.Observer.Login("password", "success")
	h.cfg.Logger.InfoContext(ctx, "password login", "number", num, "account", acct.ID, "client", req.ClientID, "ip", clientAddr(r))
	h.primary(w, r, req, acct.ID, []string{assurance.AMRPassword})
}

// wrongCredentials answers a failed password, already counted (n is the
// number's count), after the progressive delay.
func (h *Handler) wrongCredentials(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, num citizenid.Number, n int, values map[string]string) {
	ctx := r.Context()
	h.cfg.Observer.Login("password", "wrong_credentials")
	h.cfg.Logger.InfoContext(ctx, "password login failed", "number", num, "client", req.ClientID, "ip", clientAddr(r), "failures", n)
	sleep(ctx, h.cfg.Lockout.failureDelay(n))
	h.renderLogin(w, r, req, http.StatusUnauthorized, "err.credentials", values)
}

// rehash upgrades a password hash made with older parameters; a failure
// only means the upgrade waits for the next login.
func (h *Handler) rehash(ctx context.Context, accountID, pw string) {
	encoded, err := h.hashes.Hash(ctx, pw, h.cfg.Password, h.cfg.Rand)
	if err != nil {
		return
	}
	err = h.cfg.Store.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
		a.PasswordHash = encoded
		a.UpdatedAt = h.cfg.Now().UTC()
		return a, nil
	})
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "password rehash failed", "account", accountID, "error", err)
	}
}

// firstPage is a page of the first step (the password form, the e-card QR
// code): the request's id, its CSRF token, and whom the citizen logs in to.
func (h *Handler) firstPage(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) *page {
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	if isSelf(req) {
		p.ClientName = p.T("account.title")
	} else if prov := h.provider(req); prov != nil {
		p.ClientName = prov.DisplayName(r.Context(), req.ClientID)
	}
	return p
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, status int, errKey string, values map[string]string) {
	p := h.firstPage(w, r, req)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if h.cfg.Tickets != nil {
		p.Values["ecard_url"] = stepURL(ecardPath, req.ID)
	}
	for k, v := range values {
		p.Values[k] = v
	}
	h.render(w, status, "login", p)
}
