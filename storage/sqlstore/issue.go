package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

// Token issue in one transaction. A token response claims a code or a
// refresh token and stores a new access token, and with refresh a new
// refresh token: three writes, each its own commit when made through the
// storage.Store methods. A commit is most of a write's cost (SQLite: the WAL
// append and its locks, all under the one write lock; PostgreSQL: a WAL
// flush the client waits for), so these methods make the claim and the
// inserts one transaction. They are capabilities beyond storage.Store
// (storage.TokenIssuer, storage.CodeSaver, storage.Completer), which
// idp/internal/oidc and idp/internal/login use when the store has them;
// the Store methods stay the fallback, and storagetest checks both.

// errNothingClaimed: the claim statement matched no row.
var errNothingClaimed = errors.New("nothing claimed")

// claimCodeKeepQuery claims a code (code_used_at = arg 1) and keeps its
// request until arg 2 without its login state, for the code (arg 3) unused
// and unexpired at arg 4.
var claimCodeKeepQuery = "UPDATE auth_requests SET code_used_at = ?, login_state = NULL, expires_at = ? " +
	"WHERE code_hash = ? AND code_used_at IS NULL AND expires_at > ? RETURNING " + strings.Join(authRequests.columns, ", ")

// ClaimAuthCodeAndIssue claims the code with this hash as ClaimAuthCode
// does, and in the same transaction keeps its request until keepUntil
// without its login state (what a redeemed request keeps, so that a replayed
// code is recognised) and stores the tokens issue returns for it. A code
// claimed before gives its request and storage.ErrAlreadyUsed; an unknown or
// expired code storage.ErrNotFound; then, and when issue fails, nothing is
// written.
func (s *Store) ClaimAuthCodeAndIssue(ctx context.Context, codeHash []byte, now, keepUntil time.Time, issue func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error)) (storage.AuthRequest, error) {
	const op = "claim auth code and issue"
	return claimAndIssue(ctx, s, authRequests, op, "code_hash", "code_used_at", codeHash, now, issue, nil,
		claimCodeKeepQuery, millis(now), millis(keepUntil), codeHash, millis(now))
}

// ClaimRefreshTokenAndIssue claims the refresh token with this hash as
// ClaimRefreshToken does (rotation), and in the same transaction stores the
// tokens issue returns for it (as in ClaimAuthCodeAndIssue). A token
// claimed before gives it back with
// storage.ErrAlreadyUsed; an unknown or expired one storage.ErrNotFound;
// then, and when issue fails, nothing is written.
func (s *Store) ClaimRefreshTokenAndIssue(ctx context.Context, hash []byte, now time.Time, issue func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error)) (storage.RefreshToken, error) {
	const op = "claim refresh token and issue"
	return claimAndIssue(ctx, s, refreshTokens, op, "hash", "used_at", hash, now, issue,
		func(t storage.RefreshToken) (string, string) { return t.GrantID, t.SessionID },
		claimRefreshQuery, millis(now), hash, millis(now))
}

// claimRefreshQuery is the refresh token's claimQuery that also returns the
// expiry of its grant_sessions row (NULL when there is none): the tokens a
// rotation issues are of the same grant and session, and when that row
// covers them already nothing is written to grant_sessions.
var claimRefreshQuery = refreshTokens.claimQuery("hash", "used_at") +
	", (SELECT g.expires_at FROM grant_sessions g WHERE g.grant_id = refresh_tokens.grant_id AND g.session_id = refresh_tokens.session_id)"

// claimAndIssue claims a row with claimQuery and stores the tokens issue
// returns for it, in one transaction; an empty key claims nothing
// (storage.ErrNotFound). With grantOf, claimQuery returns one
// more column after the entity's, the expiry of the grant_sessions row of
// the claimed row's grant and session (grantOf), which then needs no write
// for tokens it covers.
func claimAndIssue[T, R any](ctx context.Context, s *Store, e *entity[T, R], op, keyColumn, usedColumn string,
	key []byte, now time.Time, issue func(T) (storage.AccessToken, *storage.RefreshToken, error),
	grantOf func(T) (grantID, sessionID string), claimQuery string, claimArgs ...any) (T, error) {
	var claimed T
	if len(key) == 0 {
		return claimed, notFound(op)
	}
	err := s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		var (
			rec   recorded
			extra []any
		)
		if grantOf != nil {
			extra = []any{&rec.until}
		}
		row, err := e.scanOneWith(ctx, s, tx, true, claimQuery, extra, claimArgs...)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errNothingClaimed
			}
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		v, err := e.fromRow(row)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		at, rt, err := issue(v)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		if grantOf != nil {
			rec.grantID, rec.sessionID = grantOf(v)
		}
		if err := s.txInsertTokens(ctx, tx, op, at, rt, rec); err != nil {
			return err
		}
		claimed = v
		return nil
	})
	if !errors.Is(err, errNothingClaimed) {
		return claimed, err
	}
	return e.usedBefore(ctx, s, op, keyColumn, usedColumn, key, now)
}

// txInsert inserts v in tx; an empty key is refused as in create.
func txInsert[T, R any](ctx context.Context, s *Store, tx *sqlx.Tx, e *entity[T, R], op string, v T) error {
	args := e.args(v)
	if !hasKey(args) {
		return fmt.Errorf("sqlstore: %s: empty %s %s", op, e.what, e.columns[0])
	}
	if _, err := s.txExec(ctx, tx, e.insert, args...); err != nil {
		return s.writeErr(op+": "+e.what, err)
	}
	return nil
}

// saveAuthCodeQuery sets the code (arg 1) and expiry (arg 2) of the request
// (arg 3) if it is done (arg 4, true), its code unredeemed, and it is
// unexpired at arg 5.
const saveAuthCodeQuery = "UPDATE auth_requests SET code_hash = ?, expires_at = ? " +
	"WHERE id = ? AND done = ? AND code_hash IS NULL AND code_used_at IS NULL AND expires_at > ?"

// ErrNotCompleted is the answer of SaveAuthCode for a request that is
// unknown, expired, not done (the citizen has not authenticated) or that
// was given a code before: a completed request yields one code, ever. It
// is storage.ErrNotCompleted.
var ErrNotCompleted = storage.ErrNotCompleted

// SaveAuthCode attaches a code (its hash) to a completed auth request, valid
// until expiresAt, in one statement that only a done, unredeemed request
// unexpired at now matches (what UpdateAuthRequest with the same checks
// does in a transaction). No match gives ErrNotCompleted; a code hash
// another request holds storage.ErrAlreadyExists.
func (s *Store) SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt, now time.Time) error {
	op := fmt.Sprintf("save auth code of %q", id)
	if len(codeHash) == 0 {
		return fmt.Errorf("sqlstore: %s: empty code hash", op)
	}
	n, err := s.execCount(ctx, saveAuthCodeQuery, codeHash, millis(expiresAt), id, true, millis(now))
	if err != nil {
		return s.writeErr(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%w (%s)", ErrNotCompleted, op)
	}
	return nil
}

// completeAuthRequestQuery marks a request done (arg 1, true) for account
// arg 2 in session arg 3 with auth_time, acr, amr (args 4-6), dropping its
// login state, if it is live at arg 8 and not done (arg 9, false) or done
// for the same account (arg 10).
const completeAuthRequestQuery = "UPDATE auth_requests SET done = ?, account_id = ?, session_id = ?, auth_time = ?, acr = ?, amr = ?, " +
	"login_state = NULL WHERE id = ? AND expires_at > ? AND (done = ? OR account_id = ?)"

// ErrOtherAccount is the answer of CompleteAuthRequest for a request
// completed before for another account. It is storage.ErrOtherAccount.
var ErrOtherAccount = storage.ErrOtherAccount

// CompleteAuthRequest records the authentication that completes an auth
// request (Done, AccountID, SessionID, AuthTime, ACR, AMR; the login state
// is dropped) in one statement, what UpdateAuthRequest with the same checks
// does in a transaction: an unknown or expired request gives
// storage.ErrNotFound, one completed before for another account
// ErrOtherAccount.
func (s *Store) CompleteAuthRequest(ctx context.Context, id, accountID, sessionID string, authTime time.Time, acr string, amr []string, now time.Time) error {
	op := fmt.Sprintf("complete auth request %q", id)
	n, err := s.execCount(ctx, completeAuthRequestQuery, true, accountID, sessionID, millis(authTime), acr, encodeList(amr),
		id, millis(now), false, accountID)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n == 1 {
		return nil
	}
	// Nothing changed: tell a missing request from another account's.
	if _, err := authRequests.getAt(ctx, s, nil, now, op, "", "id = ?", id); err != nil {
		return err
	}
	return fmt.Errorf("%w (%s)", ErrOtherAccount, op)
}
