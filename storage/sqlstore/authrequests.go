package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cardsso/cardsso/storage"
)

type authRequestRow struct {
	ID                  string `db:"id"`
	Protocol            string `db:"protocol"`
	ClientID            string `db:"client_id"`
	RedirectURI         string `db:"redirect_uri"`
	State               string `db:"state"`
	Nonce               string `db:"nonce"`
	Scopes              string `db:"scopes"`
	ResponseType        string `db:"response_type"`
	ResponseMode        string `db:"response_mode"`
	CodeChallenge       string `db:"code_challenge"`
	CodeChallengeMethod string `db:"code_challenge_method"`
	Prompt              string `db:"prompt"`
	MaxAge              *int64 `db:"max_age"`
	ACRValues           string `db:"acr_values"`
	UILocales           string `db:"ui_locales"`
	LoginHint           string `db:"login_hint"`
	RequiredACR         string `db:"required_acr"`
	Claims              []byte `db:"claims"`
	BrowserHash         []byte `db:"browser_hash"`
	IDTokenHint         string `db:"id_token_hint"`
	LoginState          []byte `db:"login_state"`
	Done                bool   `db:"done"`
	AccountID           string `db:"account_id"`
	SessionID           string `db:"session_id"`
	AuthTime            int64  `db:"auth_time"`
	ACR                 string `db:"acr"`
	AMR                 string `db:"amr"`
	CodeHash            []byte `db:"code_hash"`
	CodeUsedAt          *int64 `db:"code_used_at"`
	CreatedAt           int64  `db:"created_at"`
	ExpiresAt           int64  `db:"expires_at"`
}

var authRequests = newEntity(entity[storage.AuthRequest, authRequestRow]{
	what:  "auth request",
	table: "auth_requests",
	columns: []string{"id", "protocol", "client_id", "redirect_uri", "state", "nonce", "scopes", "response_type",
		"response_mode", "code_challenge", "code_challenge_method", "prompt", "max_age", "acr_values",
		"ui_locales", "login_hint", "required_acr", "claims", "browser_hash", "id_token_hint", "login_state", "done", "account_id", "session_id", "auth_time", "acr",
		"amr", "code_hash", "code_used_at", "created_at", "expires_at"},
	expires: true,
	fromRow: func(r authRequestRow) (storage.AuthRequest, error) {
		a := storage.AuthRequest{
			ID:                  r.ID,
			Protocol:            r.Protocol,
			ClientID:            r.ClientID,
			RedirectURI:         r.RedirectURI,
			State:               r.State,
			Nonce:               r.Nonce,
			ResponseType:        r.ResponseType,
			ResponseMode:        r.ResponseMode,
			CodeChallenge:       r.CodeChallenge,
			CodeChallengeMethod: r.CodeChallengeMethod,
			MaxAge:              r.MaxAge,
			LoginHint:           r.LoginHint,
			RequiredACR:         r.RequiredACR,
			Claims:              r.Claims,
			BrowserHash:         r.BrowserHash,
			IDTokenHint:         r.IDTokenHint,
			LoginState:          r.LoginState,
			Done:                r.Done,
			AccountID:           r.AccountID,
			SessionID:           r.SessionID,
			AuthTime:            fromMillis(r.AuthTime),
			ACR:                 r.ACR,
			CodeHash:            r.CodeHash,
			CodeUsedAt:          fromMillisPtr(r.CodeUsedAt),
			CreatedAt:           fromMillis(r.CreatedAt),
			ExpiresAt:           fromMillis(r.ExpiresAt),
		}
		err := decodeLists(
			listColumn{"scopes", r.Scopes, &a.Scopes},
			listColumn{"prompt", r.Prompt, &a.Prompt},
			listColumn{"acr_values", r.ACRValues, &a.ACRValues},
			listColumn{"ui_locales", r.UILocales, &a.UILocales},
			listColumn{"amr", r.AMR, &a.AMR},
		)
		return a, err
	},
	args: func(a storage.AuthRequest) []any {
		return []any{a.ID, a.Protocol, a.ClientID, a.RedirectURI, a.State, a.Nonce, encodeList(a.Scopes), a.ResponseType,
			a.ResponseMode, a.CodeChallenge, a.CodeChallengeMethod, encodeList(a.Prompt), a.MaxAge,
			encodeList(a.ACRValues), encodeList(a.UILocales), a.LoginHint, a.RequiredACR, a.Claims, a.BrowserHash, a.IDTokenHint, a.LoginState, a.Done, a.AccountID,
			a.SessionID, millis(a.AuthTime), a.ACR, encodeList(a.AMR), uniqueBytes(a.CodeHash),
			millisPtr(a.CodeUsedAt), millis(a.CreatedAt), millis(a.ExpiresAt)}
	},
})

// CreateAuthRequest stores a new auth request. A duplicate id, or a CodeHash
// another request holds, gives storage.ErrAlreadyExists.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return authRequests.create(ctx, s, fmt.Sprintf("create auth request %q", r.ID), r)
}

// GetAuthRequest returns the auth request with this id unless it has expired.
func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	return authRequests.get(ctx, s, nil, fmt.Sprintf("get auth request %q", id), "", "id = ?", id)
}

// UpdateAuthRequest runs update on the (unexpired) auth request inside a
// transaction and writes the result; update must keep the id. Setting a
// CodeHash another request holds gives storage.ErrAlreadyExists.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, update func(storage.AuthRequest) (storage.AuthRequest, error)) error {
	return authRequests.updateByID(ctx, s, id, func(r storage.AuthRequest) string { return r.ID }, update)
}

// DeleteAuthRequest deletes the auth request, expired or not.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return authRequests.deleteByKey(ctx, s, fmt.Sprintf("delete auth request %q", id), id)
}

// GetAuthRequestByCode returns the unexpired request holding the code with
// this hash, used or not.
func (s *Store) GetAuthRequestByCode(ctx context.Context, codeHash []byte) (storage.AuthRequest, error) {
	return authRequests.getByHash(ctx, s, "get auth request by code", "code_hash", codeHash)
}

// ClaimAuthCode marks the code with this hash used at now, in one statement
// that only an unused code unexpired at now matches, and returns its request.
// A code used before gives its request and storage.ErrAlreadyUsed; an unknown
// code, or one expired at now, gives storage.ErrNotFound.
func (s *Store) ClaimAuthCode(ctx context.Context, codeHash []byte, now time.Time) (storage.AuthRequest, error) {
	return authRequests.claim(ctx, s, "claim auth code", "code_hash", "code_used_at", codeHash, now)
}
