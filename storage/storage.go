package storage

import (
	"context"
	"errors"
	"time"
)

// Errors that callers branch on with errors.Is.
var (
	// ErrNotFound: no row with that key (or it has expired).
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists: a row with that key (or unique value) already exists.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrAlreadyUsed: a single-use value was claimed before.
	ErrAlreadyUsed = errors.New("storage: already used")
	// ErrUnavailable wraps a failure of the database rather than of the
	// input: it cannot be reached, did not answer within the query timeout,
	// has no connection free, or cannot take writes (disk full, read-only,
	// busy). The request may succeed when tried again shortly; callers
	// answer "temporarily unavailable" (503, Retry-After), never "you are
	// wrong".
	ErrUnavailable = errors.New("storage: temporarily unavailable")
	// ErrNotCompleted: CodeSaver.SaveAuthCode found no auth request it
	// may give a code: unknown, expired, not done (the citizen has not
	// authenticated) or given a code before.
	ErrNotCompleted = errors.New("storage: auth request not found, not authenticated or given a code before")
	// ErrOtherAccount: Completer.CompleteAuthRequest found the request
	// completed before for another account.
	ErrOtherAccount = errors.New("storage: auth request completed for another account")
)

// Store is everything a CardSSO node keeps. Implementations must be safe for
// concurrent use by many goroutines and many processes sharing one database.
type Store interface {
	// Accounts.
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	// GetAccountBySSNIndex finds an account by the blind index of its number.
	GetAccountBySSNIndex(ctx context.Context, index []byte) (Account, error)
	UpdateAccount(ctx context.Context, id string, update func(Account) (Account, error)) error
	DeleteAccount(ctx context.Context, id string) error

	// Clients (OpenID Connect relying parties).
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) error
	DeleteClient(ctx context.Context, id string) error

	// Authorization requests, from /authorize until their code is redeemed.
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, update func(AuthRequest) (AuthRequest, error)) error
	DeleteAuthRequest(ctx context.Context, id string) error
	// GetAuthRequestByCode returns the request that holds the code with this
	// hash, used or not (callers check CodeUsedAt).
	GetAuthRequestByCode(ctx context.Context, codeHash []byte) (AuthRequest, error)
	// ClaimAuthCode atomically marks the code with this hash used at now and
	// returns its request. A code claimed before gives ErrAlreadyUsed together
	// with the request (so the caller can revoke what the first use issued);
	// an unknown or expired code gives ErrNotFound.
	ClaimAuthCode(ctx context.Context, codeHash []byte, now time.Time) (AuthRequest, error)

	// Access tokens (opaque; the value carries the id, the row carries the grant).
	CreateAccessToken(ctx context.Context, t AccessToken) error
	GetAccessToken(ctx context.Context, id string) (AccessToken, error)
	DeleteAccessToken(ctx context.Context, id string) error

	// Refresh tokens, looked up by a key derived from their value through
	// SHA-256 (RefreshToken.Hash).
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
	// ClaimRefreshToken atomically marks the token used at now (rotation). A
	// token claimed before gives ErrAlreadyUsed together with the token (so the
	// caller can revoke its family); unknown or expired gives ErrNotFound.
	ClaimRefreshToken(ctx context.Context, hash []byte, now time.Time) (RefreshToken, error)
	DeleteRefreshToken(ctx context.Context, hash []byte) error

	// RevokeGrant deletes every access and refresh token issued under the
	// grant (one code redemption and all its refreshes). It is not an error
	// when there are none.
	RevokeGrant(ctx context.Context, grantID string) error

	// SSO sessions, keyed by the SHA-256 hash of the cookie value.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	UpdateSession(ctx context.Context, id string, update func(Session) (Session, error)) error
	// ListSessionsByAccount returns the account's unexpired sessions,
	// newest first.
	ListSessionsByAccount(ctx context.Context, accountID string) ([]Session, error)
	// DeleteSession ends a session and revokes the tokens issued within it.
	DeleteSession(ctx context.Context, id string) error

	// Signing keys. UpdateSigningKeys runs update on the whole set inside one
	// transaction that excludes every other UpdateSigningKeys (on every node),
	// then writes the returned set: rotation is compare-and-swap.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	UpdateSigningKeys(ctx context.Context, update func([]SigningKey) ([]SigningKey, error)) error

	// SAML service providers, by our id or their entity id.
	CreateServiceProvider(ctx context.Context, sp ServiceProvider) error
	GetServiceProvider(ctx context.Context, id string) (ServiceProvider, error)
	GetServiceProviderByEntityID(ctx context.Context, entityID string) (ServiceProvider, error)
	ListServiceProviders(ctx context.Context) ([]ServiceProvider, error)
	UpdateServiceProvider(ctx context.Context, id string, update func(ServiceProvider) (ServiceProvider, error)) error
	DeleteServiceProvider(ctx context.Context, id string) error

	// Session participants: the SAML service providers an SSO session
	// issued assertions to, for single logout. Adding the same (session,
	// entity id) twice keeps one row (the latest). DeleteSession removes
	// them.
	AddSessionParticipant(ctx context.Context, p SessionParticipant) error
	ListSessionParticipants(ctx context.Context, sessionID string) ([]SessionParticipant, error)

	// RecordOnce records a single-use key (a SAML message id, a QR ticket,
	// a nonce) until expiresAt. A key recorded before and not yet expired
	// gives ErrAlreadyUsed; of concurrent calls exactly one succeeds.
	RecordOnce(ctx context.Context, key string, expiresAt time.Time) error

	// Consents: what a citizen allowed a client to receive.
	GetConsent(ctx context.Context, accountID, clientID string) (Consent, error)
	// PutConsent creates or replaces the consent of (account, client).
	PutConsent(ctx context.Context, c Consent) error
	// ListConsents returns every consent of the account, by client id.
	ListConsents(ctx context.Context, accountID string) ([]Consent, error)
	DeleteConsent(ctx context.Context, accountID, clientID string) error

	// Counters count events in a time window (failed logins, failed checks)
	// across nodes and restarts. IncrementCounter adds one to key's count,
	// starting a new window at now when there is none or the last one is
	// older than window, and returns the count and the window's start.
	IncrementCounter(ctx context.Context, key string, window time.Duration, now time.Time) (count int, since time.Time, err error)
	// GetCounter returns key's count in its window (0 when none or over).
	GetCounter(ctx context.Context, key string, window time.Duration, now time.Time) (count int, since time.Time, err error)
	ResetCounter(ctx context.Context, key string) error
	// DecrementCounter takes one back from key's count (not below zero): an
	// attempt counted before its check that turned out to be no failure.
	DecrementCounter(ctx context.Context, key string) error

	// DeleteExpired removes auth requests, access and refresh tokens,
	// sessions (with their participants), single-use keys and counters
	// that expired before now, and returns how many rows went. Safe to run
	// on every node at once.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Account is a registered citizen. The number is held sealed, indexed and
// masked, never in clear.
type Account struct {
	ID                 string // stable, random; the basis of the OIDC subject
	Name               string // the name matched by the real-name check
	SSNSealed          []byte // the social security number sealed under the master key
	SSNIndex           []byte // HMAC blind index of the number, unique
	SSNMasked          string // first 3 + last 4, e.g. 110***********0017
	CardRegion         string // issuing region of the holder's card, when known
	PasswordHash       string // PHC-format argon2id hash
	RealNameVerifiedAt time.Time

	// The last real-card check (empty/nil when there was none). The card is
	// identified by (CardRegion, CardNumber).
	CardNumber     string
	CardStatus     string // a connectors.CardStatus value
	CardGeneration int
	CardCheckedAt  *time.Time // when the platform last answered for the card
	CardVerifiedAt *time.Time // when it last answered "normal"

	// The last passed real-person (face) check. It is a record only: a face
	// match counts for the level of the authentication it was made in.
	FaceVerifiedAt *time.Time
	// Failed real-person (face) checks in the current window, for the
	// attempt limit.
	FaceFailures      int
	FaceFailuresSince *time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// SSNAssociatedData is the associated data an account's number is sealed
// with (Account.SSNSealed): it binds the sealed number to its account, so a
// sealed value copied onto another account does not open.
func SSNAssociatedData(accountID string) []byte { return []byte("account-ssn:" + accountID) }

// Client is a registered OpenID Connect relying party.
type Client struct {
	ID                     string
	Name                   string
	SecretHash             []byte // keyed SHA-256 of the secret; empty for public clients
	Public                 bool   // public clients authenticate with PKCE only
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	FirstParty             bool   // skips consent
	MinACR                 string // minimum assurance level, empty for none
	// AllowedClaims lists the restricted scopes/claims the client may
	// receive (e.g. cardsso.ssn); nothing restricted is released otherwise.
	AllowedClaims []string
	// PublicSubject gives the client the account's public sub instead of a
	// pairwise one (OIDC Core §8).
	PublicSubject bool
	// SectorIdentifierURI is the registered sector_identifier_uri, whose
	// host is the sector for pairwise subjects; empty means the host of the
	// redirect URIs.
	SectorIdentifierURI string
	// BackchannelLogoutURI receives OIDC Back-Channel Logout tokens.
	BackchannelLogoutURI string
	// RefreshReuseGrace is how long after a refresh token was rotated the
	// client may present it again and get a fresh pair in the same family
	// (a client that crashed before storing the new one); 0: strict, any
	// reuse revokes the family.
	RefreshReuseGrace time.Duration
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// AuthRequest is an authorization request from /authorize until its code is
// redeemed. The login steps work over it; the code lives on it.
type AuthRequest struct {
	ID string
	// Protocol is the front end that created the request and takes it back
	// when the login is done: "oidc" (or empty) or "saml". ClientID is the
	// OIDC client id or the SAML service provider's entity id.
	Protocol            string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *int64 // seconds; nil when not requested
	ACRValues           []string
	UILocales           []string
	LoginHint           string
	// RequiredACR is the lowest level that satisfies the request: the
	// higher of the client's minimum and what the request asked for
	// (acr_values, an essential acr claim, RequestedAuthnContext); empty
	// for level 1.
	RequiredACR string
	// Claims is the OIDC claims request parameter as received (JSON).
	Claims []byte
	// BrowserHash is the SHA-256 of the cookie of the browser that started
	// the request: every login step and the protocol callback accept the
	// request only from that browser. Empty for a request that was never
	// bound (stored before binding existed): the login refuses it.
	BrowserHash []byte
	// IDTokenHint is the subject an id_token_hint named, in the form the
	// login's hint matcher reads ("client sub"); empty without a hint.
	IDTokenHint string

	// LoginState is the login steps' own record (opaque to storage).
	LoginState []byte

	// Set when the citizen has authenticated.
	Done      bool
	AccountID string
	SessionID string
	AuthTime  time.Time
	ACR       string
	AMR       []string

	// Set when the code is issued and claimed.
	CodeHash   []byte
	CodeUsedAt *time.Time

	CreatedAt time.Time
	ExpiresAt time.Time
}

// AccessToken is the stored side of an opaque access token.
type AccessToken struct {
	ID        string
	GrantID   string // the auth request (code redemption) the token descends from
	ClientID  string
	AccountID string // empty for client-credentials tokens
	SessionID string
	Scopes    []string
	Audience  []string
	AuthTime  time.Time
	ACR       string
	AMR       []string
	// Claims is the claims request parameter of the grant (JSON), kept so
	// that userinfo answers what it asked for there.
	Claims    []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RefreshToken is a refresh token; its value is never stored, only its hash.
// Every token of one grant forms a family: rotation creates a new token in the
// family and marks the old one used.
type RefreshToken struct {
	// Hash is the key the token is stored and found under: the SHA-256 of
	// its value, which idp/internal/oidc prefixes with the time of issue (taken from
	// the value) so that keys are stored in the order tokens are issued.
	Hash      []byte
	ID        string // public id (token introspection and revocation)
	GrantID   string
	ClientID  string
	AccountID string
	SessionID string
	Scopes    []string
	Audience  []string
	AuthTime  time.Time
	ACR       string
	AMR       []string
	Claims    []byte // the grant's claims request parameter (JSON)
	UsedAt    *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session is an SSO session: one authentication shared by every portal
// (OIDC client or SAML SP) the citizen signs in to while it lasts.
type Session struct {
	ID string // a random hex id: the first half of the cookie value
	// SecretHash is the SHA-256 of the cookie's secret half. It changes
	// when the cookie is rotated (at every step-up) while ID, and with it
	// the tokens and participants of the session, stays. Empty for
	// sessions whose cookie value was hashed into the ID (before rotation).
	SecretHash []byte
	AccountID  string
	AuthTime   time.Time
	ACR        string
	AMR        []string
	Clients    []string // client ids signed in through this session
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// KeyState says what a signing key is used for.
type KeyState string

const (
	// KeyNext is published but not yet used to sign, so relying parties
	// that cache the JWKS know it before the first token it signs.
	KeyNext KeyState = "next"
	// KeyActive signs every new token. There is exactly one.
	KeyActive KeyState = "active"
	// KeyRetired no longer signs, and is published until RetireAt+token
	// lifetime (ExpiresAt), when it is removed.
	KeyRetired KeyState = "retired"
)

// Uses of signing keys: what a key signs. Each use has its own set of keys
// (one active, next and retired keys) and its own rotation.
const (
	KeyUseOIDC = "oidc" // OpenID Connect tokens; also the use of keys stored with an empty Use
	KeyUseSAML = "saml" // SAML responses, assertions and logout messages
)

// SigningKey is one token signing key, its private part sealed under the
// master key.
type SigningKey struct {
	ID            string // JWK kid
	Algorithm     string // JOSE alg, e.g. ES256, RS256
	State         KeyState
	PrivateSealed []byte // sealed PKCS#8 DER
	PublicJWK     []byte // JSON of the public JWK
	// Use is what the key signs: KeyUseOIDC (or empty, for keys stored
	// before uses existed) or KeyUseSAML.
	Use string
	// Certificate is the DER of a self-signed X.509 certificate of the
	// public key, made once when the key was generated, so that every node
	// publishes the same one (SAML metadata); empty for keys without one.
	Certificate []byte
	CreatedAt   time.Time
	ActivatedAt *time.Time
	RetiredAt   *time.Time
	ExpiresAt   *time.Time // when a retired key leaves the JWKS
}

// ServiceProvider is a registered SAML 2.0 service provider.
type ServiceProvider struct {
	ID       string // our short id (cardsso sps add --id)
	EntityID string // unique
	Name     string
	Metadata []byte // the SP's metadata XML as imported and validated
	MinACR   string
	// Attributes is the release allow-list (attribute names).
	Attributes []string
	// NameIDFormat is "persistent" (pairwise, stable) or "transient".
	NameIDFormat string
	// IdPInitiated allows unsolicited (IdP-initiated) SSO to this SP; off
	// by default.
	IdPInitiated bool
	// RelayStates is the allow-list of RelayState values an IdP-initiated
	// SSO may post to this SP (an empty RelayState is always allowed).
	RelayStates []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SessionParticipant is a SAML service provider an SSO session issued an
// assertion to: what a LogoutRequest to it must carry.
type SessionParticipant struct {
	SessionID       string
	EntityID        string
	NameID          string
	NameIDFormat    string
	NameQualifier   string
	SPNameQualifier string
	SessionIndex    string
	CreatedAt       time.Time
}

// Consent is what a citizen allowed a client to receive.
type Consent struct {
	AccountID string
	ClientID  string
	Scopes    []string // the scopes (and restricted claims) granted
	GrantedAt time.Time
}
