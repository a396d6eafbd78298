package login

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// state is the login's record on the auth request (storage.AuthRequest.LoginState).
type state struct {
	// Pending is a registration whose real-name check passed and whose
	// password is not set yet.
	Pending *pending `json:"pending,omitempty"`
	// Auth is an authentication in progress: the citizen is identified and
	// further checks (steps) may follow before the request completes.
	Auth *authState `json:"auth,omitempty"`
	// Challenge is the single-use face-check challenge of this attempt.
	Challenge *challenge `json:"challenge,omitempty"`
	// ECard is the e-card login ticket shown to this browser (ecard.go).
	ECard *ecardTicket `json:"ecard,omitempty"`
}

type authState struct {
	AccountID string    `json:"account_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	// SessionID is set when an existing SSO session answers the request
	// (FromSession) or is stepped up.
	SessionID   string `json:"session_id,omitempty"`
	FromSession bool   `json:"from_session,omitempty"`
	// Stepped is set when this login added a check to a session's
	// authentication (a new auth_time).
	Stepped     bool `json:"stepped,omitempty"`
	FaceConsent bool `json:"face_consent,omitempty"`
	Consented   bool `json:"consented,omitempty"`
	FacePassed  bool `json:"face_passed,omitempty"`
	// DeviceBound is set when the citizen was identified by their bound
	// e-card app (ecard.go): a device-bound login counts as real-person
	// (docs/architecture.md, "Assurance levels").
	DeviceBound bool `json:"device_bound,omitempty"`
}

type challenge struct {
	Value     string    `json:"value"`
	ExpiresAt time.Time `json:"expires_at"`
}

type pending struct {
	AccountID  string    `json:"account_id"`
	Name       string    `json:"name"`
	SSNSealed  []byte    `json:"ssn_sealed"`
	SSNIndex   []byte    `json:"ssn_index"`
	SSNMasked  string    `json:"ssn_masked"`
	CardRegion string    `json:"card_region,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
	// ReclaimHash, when set, marks a registration of a number that is
	// registered already: the password hash the citizen chose, set on the
	// account only if they pass the real-card check (reclaim.go).
	ReclaimHash string `json:"reclaim_hash,omitempty"`
}

func decodeState(b []byte) (state, error) {
	var s state
	if len(b) == 0 {
		return s, nil
	}
	err := json.Unmarshal(b, &s)
	return s, err
}

func encodeState(st state) ([]byte, error) {
	if st.Pending == nil && st.Auth == nil && st.Challenge == nil && st.ECard == nil {
		return nil, nil
	}
	return json.Marshal(st)
}

func (h *Handler) saveState(ctx context.Context, id string, st state) error {
	b, err := encodeState(st)
	if err != nil {
		return err
	}
	return h.cfg.Store.UpdateAuthRequest(ctx, id, func(a storage.AuthRequest) (storage.AuthRequest, error) {
		a.LoginState = b
		return a, nil
	})
}

// updateState changes the login state of request id in a compare-and-swap
// update (storage UpdateAuthRequest runs update in a transaction); an
// error of change aborts it and is returned as is.
func (h *Handler) updateState(ctx context.Context, id string, change func(*state) error) (state, error) {
	var out state
	err := h.cfg.Store.UpdateAuthRequest(ctx, id, func(a storage.AuthRequest) (storage.AuthRequest, error) {
		st, err := decodeState(a.LoginState)
		if err != nil {
			return a, fmt.Errorf("decode login state: %w", err)
		}
		if err := change(&st); err != nil {
			return a, err
		}
		b, err := encodeState(st)
		if err != nil {
			return a, err
		}
		a.LoginState, out = b, st
		return a, nil
	})
	return out, err
}

// pendingOf returns the pending registration or sends the browser back to
// the first page.
func (h *Handler) pendingOf(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) (*pending, bool) {
	st, err := decodeState(req.LoginState)
	if err != nil {
		h.internal(w, r, "decode login state", err)
		return nil, false
	}
	if st.Pending == nil {
		http.Redirect(w, r, LoginURL(req.ID), http.StatusSeeOther)
		return nil, false
	}
	return st.Pending, true
}
