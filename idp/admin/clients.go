package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	cardoidc "github.com/cardsso/cardsso/idp/internal/oidc"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// ClientSpec is a client registration request.
type ClientSpec struct {
	ID                     string
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	Secret                 string // optional; at least 32 characters; generated when empty
	FirstParty             bool
	MinACR                 string
	// AllowedClaims lists restricted scopes the client may receive
	// (cardsso.ssn).
	AllowedClaims []string
	// PublicSubject gives the client the account's public sub instead of a
	// pairwise one.
	PublicSubject bool
	// SectorIdentifierURI sets the pairwise sector (its host); needed when
	// the redirect URIs are on several hosts.
	SectorIdentifierURI string
	// BackchannelLogoutURI receives OpenID Connect Back-Channel Logout 1.0
	// logout tokens when a session the client signed in through ends.
	BackchannelLogoutURI string
	// RefreshReuseGrace lets the client present a rotated refresh token
	// again for this long (0 to MaxRefreshReuseGrace; 0: strict rotation).
	RefreshReuseGrace time.Duration
}

// MaxRefreshReuseGrace bounds a client's refresh reuse grace: long enough
// for a portal to restart after a crash, short enough that a stolen token
// is of little use.
const MaxRefreshReuseGrace = 5 * time.Minute

func checkReuseGrace(d time.Duration) error {
	if d < 0 || d > MaxRefreshReuseGrace {
		return &InvalidError{Field: "refresh-reuse-grace", Reason: fmt.Sprintf("from 0 (strict rotation) to %s, got %s", MaxRefreshReuseGrace, d)}
	}
	return nil
}

// ClientInfo is a registered client as shown to administrators (no secret).
type ClientInfo struct {
	ID                     string    `json:"client_id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	AuthMethod             string    `json:"token_endpoint_auth_method"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	FirstParty             bool      `json:"first_party"`
	MinACR                 string    `json:"min_acr,omitempty"`
	AllowedClaims          []string  `json:"allowed_claims,omitempty"`
	SubjectType            string    `json:"subject_type"`
	SectorIdentifierURI    string    `json:"sector_identifier_uri,omitempty"`
	BackchannelLogoutURI   string    `json:"backchannel_logout_uri,omitempty"`
	RefreshReuseGrace      string    `json:"refresh_reuse_grace"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// MinSecretLength is the shortest client secret accepted from an operator.
const MinSecretLength = 32

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validateRedirect checks one redirect URI: absolute, no fragment, https, or
// http on a loopback host (development), or — for public (native) clients
// only — a private-use scheme (RFC 8252 §7.1). Anything else (javascript:,
// data:, relative) is refused.
func validateRedirect(field, raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q is not an absolute URI", raw)}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q must not contain a fragment", raw)}
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return &InvalidError{Field: field, Reason: fmt.Sprintf("%q has no host", raw)}
		}
		return nil
	case "http":
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			return nil
		}
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q: http is allowed only for localhost, 127.0.0.1 and ::1; use https", raw)}
	case "javascript", "data", "vbscript", "file":
		return &InvalidError{Field: field, Reason: fmt.Sprintf("scheme %q is not allowed", u.Scheme)}
	default:
		if public && strings.Contains(u.Scheme, ".") {
			return nil
		}
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q: use https (private-use schemes like com.example.app: are for public clients only)", raw)}
	}
}

func newSecret() (string, error) {
	var b [32]byte // 256 bits
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CreateClient registers a client. For a confidential client it returns the
// secret, which is shown once and stored only as a keyed hash.
func (a *Admin) CreateClient(ctx context.Context, spec ClientSpec) (ClientInfo, string, error) {
	if err := spec.check(); err != nil {
		return ClientInfo{}, "", err
	}
	secret := spec.Secret
	switch {
	case spec.Public && secret != "":
		return ClientInfo{}, "", &InvalidError{Field: "secret", Reason: "a public client has no secret"}
	case !spec.Public && secret != "" && len(secret) < MinSecretLength:
		return ClientInfo{}, "", &InvalidError{Field: "secret", Reason: fmt.Sprintf("at least %d characters", MinSecretLength)}
	case !spec.Public && secret == "":
		var err error
		if secret, err = newSecret(); err != nil {
			return ClientInfo{}, "", err
		}
	}
	now := a.cfg.Now().UTC()
	c := storage.Client{
		ID: spec.ID, Name: spec.Name, Public: spec.Public,
		RedirectURIs: spec.RedirectURIs, PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs,
		FirstParty: spec.FirstParty, MinACR: spec.MinACR, CreatedAt: now, UpdatedAt: now,
		AllowedClaims: spec.AllowedClaims, PublicSubject: spec.PublicSubject, SectorIdentifierURI: spec.SectorIdentifierURI,
		BackchannelLogoutURI: spec.BackchannelLogoutURI, RefreshReuseGrace: spec.RefreshReuseGrace,
	}
	if !c.PublicSubject {
		if _, err := cardoidc.Sector(c); err != nil {
			return ClientInfo{}, "", &InvalidError{Field: "redirect-uri", Reason: err.Error()}
		}
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if !spec.Public {
		c.SecretHash = a.secrets.Sum([]byte(secret))
	}
	if err := a.store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return ClientInfo{}, "", fmt.Errorf("client %q: %w", spec.ID, ErrAlreadyExists)
		}
		return ClientInfo{}, "", err
	}
	return clientInfo(c), secret, nil
}

// check validates a registration request field by field.
func (spec ClientSpec) check() error {
	if !clientIDPattern.MatchString(spec.ID) {
		return &InvalidError{Field: "id", Reason: "1 to 64 characters: letters, digits, '.', '_', '-', starting with a letter or digit"}
	}
	if utf8.RuneCountInString(spec.Name) > 200 {
		return &InvalidError{Field: "name", Reason: "at most 200 characters"}
	}
	if len(spec.RedirectURIs) == 0 {
		return &InvalidError{Field: "redirect-uri", Reason: "at least one is required"}
	}
	for _, u := range spec.RedirectURIs {
		if err := validateRedirect("redirect-uri", u, spec.Public); err != nil {
			return err
		}
	}
	for _, u := range spec.PostLogoutRedirectURIs {
		if err := validateRedirect("post-logout-redirect-uri", u, spec.Public); err != nil {
			return err
		}
	}
	if spec.MinACR != "" {
		if _, err := assurance.ParseACR(spec.MinACR); err != nil {
			return &InvalidError{Field: "min-acr", Reason: err.Error()}
		}
	}
	for _, c := range spec.AllowedClaims {
		if !release.Restricted(c) {
			return &InvalidError{Field: "allow-claim", Reason: fmt.Sprintf("%q is not a restricted claim (known: %s)", c, strings.Join(release.RestrictedScopes(), ", "))}
		}
	}
	if spec.SectorIdentifierURI != "" {
		if u, err := url.Parse(spec.SectorIdentifierURI); err != nil || u.Scheme != "https" || u.Host == "" {
			return &InvalidError{Field: "sector-identifier-uri", Reason: "must be an https URL"}
		}
	}
	if spec.BackchannelLogoutURI != "" {
		if err := validateBackchannelURI(spec.BackchannelLogoutURI); err != nil {
			return err
		}
	}
	if err := checkReuseGrace(spec.RefreshReuseGrace); err != nil {
		return err
	}
	return nil
}

func clientInfo(c storage.Client) ClientInfo {
	method := "client_secret_basic"
	if c.Public {
		method = "none"
	}
	subjectType := "pairwise"
	if c.PublicSubject {
		subjectType = "public"
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return ClientInfo{
		ID: c.ID, Name: c.Name, Public: c.Public, AuthMethod: method,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		FirstParty: c.FirstParty, MinACR: c.MinACR, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		AllowedClaims: c.AllowedClaims, SubjectType: subjectType, SectorIdentifierURI: c.SectorIdentifierURI,
		BackchannelLogoutURI: c.BackchannelLogoutURI, RefreshReuseGrace: c.RefreshReuseGrace.String(),
	}
}

func notFound(what, id string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%s %q: %w", what, id, ErrNotFound)
	}
	return err
}

// ListClients lists every client.
func (a *Admin) ListClients(ctx context.Context) ([]ClientInfo, error) {
	cs, err := a.store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ClientInfo, len(cs))
	for i, c := range cs {
		out[i] = clientInfo(c)
	}
	return out, nil
}

// GetClient shows one client.
func (a *Admin) GetClient(ctx context.Context, id string) (ClientInfo, error) {
	c, err := a.store.GetClient(ctx, id)
	if err != nil {
		return ClientInfo{}, notFound("client", id, err)
	}
	return clientInfo(c), nil
}

// DeleteClient removes a client.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	return notFound("client", id, a.store.DeleteClient(ctx, id))
}

// RotateClientSecret replaces a confidential client's secret and returns the
// new one; the old secret stops working at once.
// SetRefreshReuseGrace changes how long the client may present a rotated
// refresh token again (`cardsso clients update --refresh-reuse-grace`).
// Nodes pick the change up when their client cache refreshes.
func (a *Admin) SetRefreshReuseGrace(ctx context.Context, id string, d time.Duration) (ClientInfo, error) {
	if err := checkReuseGrace(d); err != nil {
		return ClientInfo{}, err
	}
	now := a.cfg.Now().UTC()
	var out storage.Client
	err := a.store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		c.RefreshReuseGrace, c.UpdatedAt = d, now
		out = c
		return c, nil
	})
	if err != nil {
		return ClientInfo{}, notFound("client", id, err)
	}
	return clientInfo(out), nil
}

func (a *Admin) RotateClientSecret(ctx context.Context, id string) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	now := a.cfg.Now().UTC()
	err = a.store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		if c.Public {
			return c, &InvalidError{Field: "id", Reason: fmt.Sprintf("client %q is public and has no secret", id)}
		}
		c.SecretHash = a.secrets.Sum([]byte(secret))
		c.UpdatedAt = now
		return c, nil
	})
	if err != nil {
		var inv *InvalidError
		if errors.As(err, &inv) {
			return "", inv
		}
		return "", notFound("client", id, err)
	}
	return secret, nil
}

// validateBackchannelURI checks a backchannel_logout_uri: an absolute https
// URL (http only on loopback hosts, for development) without fragment
// (OpenID Connect Back-Channel Logout 1.0 §2.2).
func validateBackchannelURI(raw string) error {
	const field = "backchannel-logout-uri"
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q is not an absolute URL", raw)}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q must not contain a fragment", raw)}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			return nil
		}
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%q: http is allowed only for localhost, 127.0.0.1 and ::1; use https", raw)}
	}
	return &InvalidError{Field: field, Reason: fmt.Sprintf("scheme %q is not allowed (want https)", u.Scheme)}
}
