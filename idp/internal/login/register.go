package login

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
	"golang.org/x/text/width"
)

// setupPath is the registration's password page.
const setupPath = "/login/password-setup"

// setupStep is the registration's second page: a registration whose
// real-name check passed (state.Pending) sets its password there. It is
// done when no registration is pending, or once the citizen is identified.
var setupStep = &Step{
	Name: "setup", Path: setupPath, PromptNone: "login_required",
	Done: func(_ context.Context, _ *Handler, f *flow) (bool, error) {
		return f.identified() || f.st.Pending == nil, nil
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("GET "+setupPath, h.getSetup)
		mux.HandleFunc("POST "+setupPath, h.postSetup)
	},
}

// postRegister is the first step of the one-time registration: name and
// number, checked locally and then by the real-name check.
func (h *Handler) postRegister(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(width.Narrow.String(r.PostFormValue("name")))
	ssn := r.PostFormValue("ssn")
	values := map[string]string{"register.name": name, "register.ssn": ssn}
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		h.cfg.Observer.Login("register", "invalid_name")
		h.renderLogin(w, r, req, http.StatusBadRequest, "err.name", values)
		return
	}
	num, key, err := parseNumber(ssn)
	if err != nil {
		h.cfg.Observer.Login("register", "invalid_number")
		h.renderLogin(w, r, req, http.StatusBadRequest, key, values)
		return
	}
	index := h.cfg.Sealer.BlindIndex(num.String())
	// The attempt is counted before the check and decided on the count
	// (lockout.go attempt), so parallel requests cannot all pass a limit
	// read before any of them counted; a match or a platform fault takes
	// it back.
	limits := h.realNameLimits(r, index)
	if _, locked, err := h.attempt(ctx, limits...); err != nil {
		h.internal(w, r, "count real-name check", err)
		return
	} else if locked {
		h.cfg.Observer.Login("register", "locked")
		h.cfg.Logger.InfoContext(ctx, "real-name checks locked", "number", num, "client", req.ClientID)
		h.renderLogin(w, r, req, http.StatusTooManyRequests, "err.locked.realname", map[string]string{"register.name": name})
		return
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	res, err := h.cfg.RealName.CheckRealName(cctx, name, num)
	cancel()
	if err != nil {
		h.forgive(ctx, limits...)
		h.cfg.Observer.Check("realname", "unavailable")
		h.cfg.Observer.Login("register", "unavailable")
		h.cfg.Logger.WarnContext(ctx, "real-name check failed", "number", num, "client", req.ClientID,
			"unavailable", errors.Is(err, connectors.ErrUnavailable), "error", err)
		h.renderLogin(w, r, req, http.StatusServiceUnavailable, "err.unavailable", values)
		return
	}
	if !res.Matched {
		h.cfg.Observer.Check("realname", "mismatch")
		h.cfg.Observer.Login("register", "mismatch")
		h.cfg.Logger.InfoContext(ctx, "real-name check: no match", "number", num, "client", req.ClientID)
		// The answer is the same, byte for byte, for an unknown number and
		// a wrong name: the number typed is not echoed.
		h.renderLogin(w, r, req, http.StatusUnauthorized, "err.mismatch", map[string]string{"register.name": name})
		return
	}
	h.cfg.Observer.Check("realname", "match")
	h.forgive(ctx, limits...)
	// The account is not looked up: a registered number and an unregistered
	// one get the same answer here (303 to the password page), so this step
	// tells nobody whether a number is registered. A registered number is
	// found at postSetup, which offers the real-card reclaim (reclaim.go).
	accountID := rand.Text()
	sealed, err := h.cfg.Sealer.Seal([]byte(num.String()), storage.SSNAssociatedData(accountID))
	if err != nil {
		h.internal(w, r, "seal number", err)
		return
	}
	p := &pending{
		AccountID: accountID, Name: name, SSNSealed: sealed, SSNIndex: index,
		SSNMasked: num.Masked(), CardRegion: res.CardRegion, VerifiedAt: h.cfg.Now().UTC(),
	}
	if err := h.saveState(ctx, req.ID, state{Pending: p}); err != nil {
		h.internal(w, r, "save login state", err)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "real-name check: match", "number", num, "client", req.ClientID)
	http.Redirect(w, r, stepURL(setupPath, req.ID), http.StatusSeeOther)
}

func (h *Handler) getSetup(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	p, ok := h.pendingOf(w, r, req)
	if !ok {
		return
	}
	h.renderSetup(w, r, req, p, http.StatusOK, "")
}

func (h *Handler) renderSetup(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, pd *pending, status int, errKey string) {
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	p.Who = pd.Name + " (" + pd.SSNMasked + ")"
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	h.render(w, status, "setup", p)
}

// postSetup sets the password and creates the account: the end of the
// one-time registration.
func (h *Handler) postSetup(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	pd, ok := h.pendingOf(w, r, req)
	if !ok {
		return
	}
	ctx := r.Context()
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("password_confirm")
	if pw != confirm {
		h.renderSetup(w, r, req, pd, http.StatusBadRequest, "err.password.mismatch")
		return
	}
	if err := password.CheckPolicy(pw); err != nil {
		key := "err.password.invalid"
		switch {
		case errors.Is(err, password.ErrTooShort):
			key = "err.password.short"
		case errors.Is(err, password.ErrTooLong):
			key = "err.password.long"
		case errors.Is(err, password.ErrTooSimple):
			key = "err.password.simple"
		}
		h.renderSetup(w, r, req, pd, http.StatusBadRequest, key)
		return
	}
	encoded, err := h.hashes.Hash(ctx, pw, h.cfg.Password, h.cfg.Rand)
	if err != nil {
		h.internal(w, r, "hash password", err)
		return
	}
	now := h.cfg.Now().UTC()
	acct := storage.Account{
		ID: pd.AccountID, Name: pd.Name, SSNSealed: pd.SSNSealed, SSNIndex: pd.SSNIndex,
		SSNMasked: pd.SSNMasked, CardRegion: pd.CardRegion, PasswordHash: encoded,
		RealNameVerifiedAt: pd.VerifiedAt, CreatedAt: now, UpdatedAt: now,
	}
	err = h.cfg.Store.CreateAccount(ctx, acct)
	if errors.Is(err, storage.ErrAlreadyExists) {
		// The number is registered already: by the citizen themselves, or
		// by someone who knew their name and number (squatting). Keep the
		// new password for a reclaim by the real-card check, which only the
		// card holder passes.
		pd.ReclaimHash = encoded
		if err := h.saveState(ctx, req.ID, state{Pending: pd}); err != nil {
			h.internal(w, r, "save login state", err)
			return
		}
		h.cfg.Observer.Login("register", "reclaim_offered")
		h.cfg.Logger.InfoContext(ctx, "registration of a registered number: reclaim offered", "number", pd.SSNMasked, "client", req.ClientID)
		http.Redirect(w, r, stepURL(reclaimPath, req.ID), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.internal(w, r, "create account", err)
		return
	}
	h.cfg.Observer.Login("register", "success")
	h.cfg.Logger.InfoContext(ctx, "account registered", "number", pd.SSNMasked, "account", acct.ID, "client", req.ClientID)
	h.primary(w, r, req, acct.ID, []string{assurance.AMRPassword})
}

// primary records that the citizen proved who they are (password, or the
// registration that just set it) and moves on to the checks the request
// still needs.
func (h *Handler) primary(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, accountID string, amr []string) {
	st := state{Auth: &authState{AccountID: accountID, AuthTime: h.cfg.Now().UTC(), AMR: amr}}
	h.proceed(w, r, req, st, true, nil)
}
