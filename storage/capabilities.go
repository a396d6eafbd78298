package storage

import (
	"context"
	"time"
)

// Capabilities: optional interfaces a Store may also implement, found by
// type assertion (house rule 2). The fast paths (CodeSaver, TokenIssuer,
// Completer) do in one statement or one transaction what their callers
// would otherwise do through the Store methods in several; a caller uses
// them when the store has them and the Store methods otherwise, so both
// must give the same results. The others serve operations (readiness,
// migrations, backups, seeding). storagetest checks every capability a
// store under test has.

// CodeSaver attaches an authorization code to a completed auth request in
// one statement, what UpdateAuthRequest with the same checks does in a
// transaction.
type CodeSaver interface {
	// SaveAuthCode stores codeHash on the request with this id and sets its
	// ExpiresAt to expiresAt, if the request is unexpired at now, done,
	// and was never given a code: a completed request yields one code,
	// ever. Anything else gives ErrNotCompleted and changes nothing; a
	// code hash another request holds gives ErrAlreadyExists. An empty
	// code hash is refused.
	SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt, now time.Time) error
}

// TokenIssuer claims a code or a refresh token and stores the tokens issued
// for it in one transaction, instead of three writes (claim, access token,
// refresh token), each its own commit.
//
// For both methods: issue is called with the claimed value and returns the
// access token and, when not nil, the refresh token to store; the claim and
// the tokens are written together or not at all. Like an updater, issue
// may run more than once (a transaction retried after a deadlock), so it
// must have no effect beyond what it returns. When
// issue fails, its error is returned (errors.Is) and nothing is written, so
// the code or token can still be claimed. The claim errors are those of
// ClaimAuthCode and ClaimRefreshToken: a value claimed before gives it back
// with ErrAlreadyUsed (so the caller can revoke its grant), an unknown or
// expired one ErrNotFound; then issue is not called and nothing is written.
// Of concurrent claims of one value exactly one succeeds. The store does
// not judge the client: the caller checks it before claiming, and the
// claimed value carries its ClientID for the tokens.
type TokenIssuer interface {
	// ClaimAuthCodeAndIssue claims the code with this hash at now, as
	// ClaimAuthCode does, and keeps its request until keepUntil without its
	// login state (what a redeemed request keeps, so that a replayed code
	// is recognised): what DeleteAuthRequest's caller would do next.
	ClaimAuthCodeAndIssue(ctx context.Context, codeHash []byte, now, keepUntil time.Time,
		issue func(AuthRequest) (AccessToken, *RefreshToken, error)) (AuthRequest, error)
	// ClaimRefreshTokenAndIssue claims the refresh token with this hash at
	// now (rotation), as ClaimRefreshToken does.
	ClaimRefreshTokenAndIssue(ctx context.Context, hash []byte, now time.Time,
		issue func(RefreshToken) (AccessToken, *RefreshToken, error)) (RefreshToken, error)
}

// Completer records the authentication that completes an auth request in
// one statement, what UpdateAuthRequest with the same checks does in a
// transaction.
type Completer interface {
	// CompleteAuthRequest sets Done, AccountID, SessionID, AuthTime, ACR and
	// AMR of the request with this id and drops its LoginState, leaving
	// every other field as it was. A request unknown or expired at now
	// gives ErrNotFound; one completed before for another account
	// ErrOtherAccount, and is left as it was. Completing again for the same
	// account (a step-up) is allowed. Of concurrent completions for
	// different accounts exactly one succeeds.
	CompleteAuthRequest(ctx context.Context, id, accountID, sessionID string, authTime time.Time, acr string, amr []string, now time.Time) error
}

// Health is what readiness asks of a store: whether the database answers
// and whether it takes writes (docs/operations.md, "When things fail").
type Health interface {
	// Ping reports whether the database answers (as Store.Ping).
	Ping(ctx context.Context) error
	// ProbeWrite proves that the database takes writes now, leaving
	// nothing behind; a database that answers reads but cannot write fails
	// it.
	ProbeWrite(ctx context.Context) error
	// LastWriteFault is when a write last failed because the database
	// could not take writes (disk full, read-only, I/O error); zero when
	// none has.
	LastWriteFault() time.Time
}

// Migrator brings a store's schema up to date (`cardsso migrate`).
type Migrator interface {
	// Migrate applies every pending migration; it is idempotent and safe
	// to run on several nodes at once.
	Migrate(ctx context.Context) error
	// MigrationVersion is the version of the last migration applied (0
	// for an empty database).
	MigrationVersion(ctx context.Context) (int64, error)
}

// Backuper writes a consistent copy of the database while it stays in use
// (`cardsso backup`, docs/operations.md "Backups").
type Backuper interface {
	// BackupTo writes the copy to path, readable by its owner only. path
	// must not exist (it is never overwritten); on failure nothing is left
	// there. A store whose database is backed up by its own tools (pg_dump)
	// returns an error for which errors.Is(err, errors.ErrUnsupported)
	// holds.
	BackupTo(ctx context.Context, path string) error
}

// BulkCreator inserts many rows at once, for seeding a database with
// realistic table sizes (benchmarks), not for service. A batch is all or
// nothing: a duplicate key fails the whole batch.
type BulkCreator interface {
	BulkCreateAccounts(ctx context.Context, as []Account) error
	BulkCreateSessions(ctx context.Context, ss []Session) error
}

// CounterVerification is the record of one counter verification of an
// e-card code (POST /ecard/verify): which staff app asked, when, and what
// came of it. It holds the holder's number masked, never in full.
type CounterVerification struct {
	ID           string // random, unique; the verification_id answered
	ClientID     string // the staff app (empty when no valid token named one)
	At           time.Time
	Outcome      string // "valid", or the error code answered (e.g. "used_code")
	NumberMasked string // first 3 + last 4; empty unless the code was the holder's
	BindingID    string // the app binding whose code it was, when known
}

// CounterLog records counter verifications (the e-card's counter
// verification record, docs/ecard.md).
type CounterLog interface {
	// RecordCounterVerification stores v; an id recorded before gives
	// ErrAlreadyExists. An empty id or outcome is refused.
	RecordCounterVerification(ctx context.Context, v CounterVerification) error
	// ListCounterVerifications lists the verifications, newest first: of
	// clientID, or of every client when clientID is empty.
	ListCounterVerifications(ctx context.Context, clientID string) ([]CounterVerification, error)
}
