package ecard

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// LicenceType is the typ header of the licence JWS (RFC 7515 §4.1.9,
// RFC 8725 §3.11: explicit typing, so that it is not taken for an ID token).
const LicenceType = "licence+jwt"

// LicenceClaims are the claims of the licence document: the key elements
// of the card's electronic licence (社会保障卡电子证照) as the platform holds
// them, for the citizen sub of the portal aud, signed by the node iss at iat.
// ID (jti) identifies this document, random and unique. The number is
// masked (SSNMasked) unless the portal was granted cardsso.ssn, then in
// full (SSN), as the release policy says for claims (policies/release).
// Dates are YYYY-MM-DD; ValidUntil is empty for a card without end date.
// Status is the card's status when the document was issued: a verifier
// judges its freshness by iat.
type LicenceClaims struct {
	Issuer           string `json:"iss"`
	Subject          string `json:"sub"`
	Audience         string `json:"aud"`
	IssuedAt         int64  `json:"iat"`
	ID               string `json:"jti"`
	Name             string `json:"name"`
	Sex              string `json:"sex"`
	Nationality      string `json:"nationality"`
	SSNMasked        string `json:"ssn_masked,omitempty"`
	SSN              string `json:"ssn,omitempty"`
	CardNumber       string `json:"card_number"`
	IssuingRegion    string `json:"issuing_region"`
	IssuingAuthority string `json:"issuing_authority"`
	IssueDate        string `json:"issue_date"`
	ValidUntil       string `json:"valid_until,omitempty"`
	Status           string `json:"card_status"`
}

const dateLayout = "2006-01-02"

// licenceClaims makes the claims of l for token t at now.
func licenceClaims(issuer string, t Token, l connectors.Licence, now time.Time) LicenceClaims {
	c := LicenceClaims{
		Issuer: issuer, Subject: t.Subject, Audience: t.ClientID, IssuedAt: now.Unix(), ID: newID(),
		Name: l.Name, Sex: l.Sex, Nationality: l.Nationality, CardNumber: l.CardNumber,
		IssuingRegion: l.IssuingRegion, IssuingAuthority: l.IssuingAuthority,
		IssueDate: l.IssueDate.Format(dateLayout), Status: string(l.Status),
	}
	if !l.ValidUntil.IsZero() {
		c.ValidUntil = l.ValidUntil.Format(dateLayout)
	}
	if slices.Contains(release.Granted(t.Scopes, t.AllowedClaims), release.ScopeSSN) {
		c.SSN = l.Number.String()
	} else {
		c.SSNMasked = l.Number.Masked()
	}
	return c
}

// licence serves GET /ecard/license: the licence of the token's citizen,
// a compact JWS (Content-Type application/jose, RFC 7515 §9.2.1) signed
// with the node's active signing key.
func (h *Handler) licence(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, refused := h.bearer(w, r, release.ScopeLicense)
	if refused != "" {
		return
	}
	if t.AccountID == "" { // a client credentials token names no citizen
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardsso", error="insufficient_scope", scope="`+release.ScopeLicense+`"`)
		writeError(w, http.StatusForbidden, errScope, "the access token names no citizen")
		return
	}
	a, err := h.cfg.Store.GetAccount(ctx, t.AccountID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardsso", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, errInvalidToken, "the account of this token no longer exists")
		return
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "e-card: licence account", "error", err)
		writeError(w, http.StatusServiceUnavailable, errUnavailable, "try again later")
		return
	}
	number, err := h.number(a)
	if err != nil {
		h.cfg.Logger.ErrorContext(ctx, "e-card: licence number", "account", a.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	l, found, err := h.cfg.Licences.Licence(ctx, number)
	switch {
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "e-card: platform unavailable", "what", "licence", "error", err)
		writeError(w, http.StatusServiceUnavailable, errUnavailable, "the card service platform is unavailable; try again later")
		return
	case !found:
		writeError(w, http.StatusNotFound, errNotFound, "the card service platform holds no licence for this citizen")
		return
	}
	jws, err := h.cfg.Signer.SignJWT(LicenceType, licenceClaims(h.cfg.Issuer, t, l, h.cfg.Now()))
	if err != nil {
		h.cfg.Logger.ErrorContext(ctx, "e-card: sign licence", "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, jws)
}

func (h *Handler) number(a storage.Account) (citizenid.Number, error) {
	b, err := h.cfg.Numbers.Open(a.SSNSealed, storage.SSNAssociatedData(a.ID))
	if err != nil {
		return citizenid.Number{}, fmt.Errorf("open number: %w", err)
	}
	return citizenid.Parse(string(b))
}

// licenceVerify serves POST /ecard/license/verify: the body is a licence
// JWS; the answer says whether this node signed it ({"valid": true,
// "claims": …}) or why not ({"valid": false, "reason": …}).
func (h *Handler) licenceVerify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxLicenceBody)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, errInvalidRequest, "request body too large")
		return
	}
	claims, err := VerifyLicence(strings.TrimSpace(string(b)), h.cfg.Signer.PublicJWKS(), h.cfg.Issuer)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"valid": false, "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "claims": claims})
}
