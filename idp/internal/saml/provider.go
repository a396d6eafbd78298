package saml

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// Paths of the SAML endpoints, below the issuer.
const (
	PathMetadata     = "/saml/metadata"
	PathSSO          = "/saml/sso"
	PathSSOContinue  = "/saml/sso/continue"
	PathIdPInitiated = "/saml/idp-initiated"
	PathSLO          = "/saml/slo"
	PathSLOStart     = "/saml/slo/start"
)

// MaxIssueDelay is what saml.MaxIssueDelay is set to: how long after its
// IssueInstant an AuthnRequest is still answered. The citizen logs in (and
// perhaps registers, shows the card and the face) between the request and
// the answer, so crewjam/saml's 90 seconds are far too short; the parked
// request itself lives no longer than the auth request lifetime. The
// assertion we issue is valid for Config.AssertionLifetime only.
const MaxIssueDelay = 30 * time.Minute

// setMaxIssueDelay raises crewjam/saml's package variable once per process.
// It is global state, which house rule 8 avoids, but crewjam/saml v0.6.3 has
// no field for it. It is safe: the value is the same for every Provider,
// written once before any Provider serves, and sync.Once orders that write
// before every later New (and so before every goroutine that serves or
// tests through one). Service providers in the same process (tests, the
// demo) accept somewhat older messages than they would otherwise.
var setMaxIssueDelay sync.Once

// SigningKeys is the SAML signing keys as the identity provider uses them:
// the active key, which signs, and the published certificates, active
// first. It is the key seam: the key is a crypto.Signer (crewjam/saml's
// IdentityProvider.Signer), so a KMS or HSM can stand behind it;
// idp/keys.Manager of use saml (sealed keys unsealed in memory) is one
// implementation. Signer is called for every SAML request and must answer
// from memory, with the certificate of the key's public key (RSA: the
// signatures are RSA-SHA256, RFC 6931 §2.3.2).
type SigningKeys interface {
	Signer() (crypto.Signer, *x509.Certificate, error)
	Certificates() []*x509.Certificate
}

// Sealer seals and opens short values under the master key
// (idp/keys.MasterKey): session indexes and the social security number.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(sealed, associatedData []byte) ([]byte, error)
}

// MAC signs short values (idp/keys.MAC).
type MAC interface {
	Sum(data []byte) []byte
	Equal(data, mac []byte) bool
}

// Config is what the SAML identity provider needs.
type Config struct {
	// Issuer is the node's public base URL; the IdP's entity ID is
	// Issuer+PathMetadata.
	Issuer   string
	Store    storage.Store
	Keys     SigningKeys
	Sessions *session.Manager
	Sealer   Sealer
	// NameIDKey keys the persistent (pairwise) NameIDs: at least 32 bytes,
	// the same on every node (derive it from the master key).
	NameIDKey []byte
	// Links signs the logout links of RP-initiated logout and names the
	// records of ended sessions.
	Links MAC
	// LoginURL is the first login page for an auth request id.
	LoginURL func(authRequestID string) string
	// Aliases names levels in other frameworks (eIDAS); requests may use
	// them in RequestedAuthnContext and are answered in their vocabulary.
	Aliases assurance.Aliases
	// AssertAliases names the level by its alias when the request does not
	// ask for a class. Default false: CardSSO's URN.
	AssertAliases bool
	// AuthRequestLifetime bounds a parked request (the login). Default 30m,
	// at most MaxIssueDelay.
	AuthRequestLifetime time.Duration
	// AssertionLifetime is how long an assertion may be used. Default 5m.
	AssertionLifetime time.Duration
	// MetadataValidity is the validUntil of the metadata. Default a year.
	MetadataValidity time.Duration
	// SessionEnded is called when a SAML LogoutRequest ended an SSO session,
	// with the session as it was: the node tells the session's OIDC clients
	// (back-channel logout). The SAML participants are logged out by the
	// Provider. It must not block.
	SessionEnded func(ctx context.Context, s storage.Session)
	Logger       *slog.Logger
	Now          func() time.Time
}

// Provider is the SAML 2.0 identity provider: metadata, single sign-on
// (SP- and IdP-initiated) and single logout on crewjam/saml, over the
// protocol-neutral login and the shared SSO session. It is a login.Provider
// for requests of protocol "saml".
type Provider struct {
	cfg      Config
	entityID string
	urls     struct{ metadata, sso, slo url.URL }
	contexts contexts
	// parsed caches the SPs' parsed metadata by the SHA-256 of the stored
	// document (registry): parsing it took a tenth of an SSO request.
	parsed   parsedMetadata
	answerer SessionAnswerer // sso.go
	outages  storage.Outages // the database away: logged once per burst
}

// New checks cfg and returns the Provider.
func New(cfg Config) (*Provider, error) {
	switch {
	case cfg.Store == nil, cfg.Keys == nil, cfg.Sessions == nil, cfg.Sealer == nil, cfg.Links == nil, cfg.LoginURL == nil:
		return nil, errors.New("saml: Store, Keys, Sessions, Sealer, Links and LoginURL are required")
	case len(cfg.NameIDKey) < 32:
		return nil, errors.New("saml: NameIDKey must have at least 32 bytes")
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.Issuer, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("saml: issuer %q is not an absolute http(s) URL", cfg.Issuer)
	}
	if cfg.AuthRequestLifetime <= 0 || cfg.AuthRequestLifetime > MaxIssueDelay {
		cfg.AuthRequestLifetime = min(cmpOr(cfg.AuthRequestLifetime, 30*time.Minute), MaxIssueDelay)
	}
	cfg.AssertionLifetime = cmpOr(cfg.AssertionLifetime, 5*time.Minute)
	cfg.MetadataValidity = cmpOr(cfg.MetadataValidity, 365*24*time.Hour)
	if cfg.Aliases == nil {
		cfg.Aliases = assurance.Aliases{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setMaxIssueDelay.Do(func() { crewjam.MaxIssueDelay = MaxIssueDelay })

	p := &Provider{cfg: cfg, contexts: contexts{aliases: cfg.Aliases, assertAliases: cfg.AssertAliases}}
	at := func(path string) url.URL { u := *base; u.Path = base.Path + path; return u }
	p.urls.metadata, p.urls.sso, p.urls.slo = at(PathMetadata), at(PathSSO), at(PathSLO)
	p.entityID = p.urls.metadata.String()
	return p, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// EntityID is the IdP's entity ID (the metadata URL).
func (p *Provider) EntityID() string { return p.entityID }

// Register mounts the SAML endpoints on mux.
// Router is where Register mounts the SAML endpoints (*http.ServeMux is
// one).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

func (p *Provider) Register(mux Router) {
	mux.HandleFunc("GET "+PathMetadata, p.metadata)
	mux.HandleFunc("GET "+PathSSO, p.sso)
	mux.HandleFunc("POST "+PathSSO, p.sso)
	mux.HandleFunc("GET "+PathSSOContinue, p.resume)
	mux.HandleFunc("GET "+PathIdPInitiated, p.idpInitiated)
	mux.HandleFunc("GET "+PathSLO, p.slo)
	mux.HandleFunc("POST "+PathSLO, p.slo)
	mux.HandleFunc("GET "+PathSLOStart, p.sloStart)
}

// identityProvider returns a crewjam/saml IdentityProvider for one request,
// with the signing key and certificates of the moment (keys rotate while
// the node runs, and crewjam/saml holds them in fields).
func (p *Provider) identityProvider() (*crewjam.IdentityProvider, error) {
	signer, cert, err := p.cfg.Keys.Signer()
	if err != nil {
		return nil, fmt.Errorf("saml signing key: %w", err)
	}
	if cert == nil {
		return nil, errors.New("saml signing key has no certificate")
	}
	var extra []*x509.Certificate
	for _, c := range p.cfg.Keys.Certificates() {
		if !c.Equal(cert) {
			extra = append(extra, c)
		}
	}
	// crewjam/saml decrypts what service providers encrypt to the signing
	// certificate (the EncryptedID of a LogoutRequest) only with an
	// *rsa.PrivateKey as Key: a local key is one and keeps doing so; a key
	// that stays in a KMS or HSM only signs.
	var decrypter crypto.PrivateKey
	if k, ok := signer.(*rsa.PrivateKey); ok {
		decrypter = k
	}
	// AES-256-GCM for the assertion, its key wrapped with RSA-OAEP
	// (MGF1-SHA1, digest SHA-1: what gosaml2, Shibboleth and crewjam/saml
	// all decrypt; OAEP does not rely on the hash's collision resistance).
	enc := xmlenc.OAEP()
	enc.BlockCipher = xmlenc.AES256GCM
	enc.DigestMethod = &xmlenc.SHA1
	valid := p.cfg.MetadataValidity
	return &crewjam.IdentityProvider{
		Signer:                       signer,
		Key:                          decrypter,
		Certificate:                  cert,
		ExtraCertificates:            extra,
		Logger:                       crewjamLogger{p.cfg.Logger},
		MetadataURL:                  p.urls.metadata,
		SSOURL:                       p.urls.sso,
		LogoutURL:                    p.urls.slo,
		ServiceProviderProvider:      registry{p},
		SessionProvider:              sessionProvider{p},
		AssertionMaker:               assertionMaker{p},
		SignatureMethod:              dsig.RSASHA256SignatureMethod,
		ValidDuration:                &valid,
		ResponseFormTemplate:         responseForm,
		LogoutRequestFormTemplate:    logoutRequestForm,
		OnError:                      p.onError,
		NameIDFormats:                []crewjam.NameIDFormat{crewjam.PersistentNameIDFormat, crewjam.TransientNameIDFormat},
		AssertionEncrypter:           enc,
		RejectSHA1Signatures:         true,
		LogoutBindings:               []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding},
		LimitRelayStateLength:        true,
		ReplayCache:                  replayCache{p},
		SendErrorResponses:           true,
		EnforceNameIDPolicy:          true,
		EnforceRequestedAuthnContext: true,
		AuthnContextClassStrengths:   p.contexts.strengths(),
	}, nil
}

// metadata serves the IdP metadata: entity ID, the active signing
// certificate and the next one (so service providers that import it know
// the next key before it signs), SSO and SLO endpoints for HTTP-Redirect
// and HTTP-POST, the persistent and transient NameID formats, validUntil a
// MetadataValidity ahead.
func (p *Provider) metadata(w http.ResponseWriter, r *http.Request) {
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml metadata", err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	idp.ServeMetadata(w, r)
}

// onError is crewjam/saml's OnError: log what went wrong (without the
// message), answer with our error page.
func (p *Provider) onError(w http.ResponseWriter, r *http.Request, status int, err error) {
	reason := "request"
	switch {
	case errors.Is(err, crewjam.ErrUnknownServiceProvider):
		reason = "unknown_sp"
		status = http.StatusBadRequest
	case errors.Is(err, crewjam.ErrUnknownAssertionConsumerService):
		reason = "unknown_acs"
	case errors.Is(err, crewjam.ErrInvalidSignature), errors.Is(err, crewjam.ErrUntrustedCertificate):
		reason = "signature"
	case errors.Is(err, crewjam.ErrExpired), errors.Is(err, crewjam.ErrNotYetValid):
		reason = "expired"
	case errors.Is(err, crewjam.ErrAssertionReplayed):
		reason = "replayed"
	case errors.Is(err, crewjam.ErrDestinationMismatch):
		reason = "destination"
	case status >= 500:
		reason = "internal"
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	p.cfg.Logger.Log(r.Context(), level, "saml request refused", "reason", reason, "status", status, "error", err)
	p.errorPage(w, status, reason)
}

func (p *Provider) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		p.outages.Note(r.Context(), p.cfg.Logger, what, err)
		w.Header().Set("Retry-After", "5")
		p.errorPage(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	p.cfg.Logger.ErrorContext(r.Context(), what, "error", err)
	p.errorPage(w, http.StatusInternalServerError, "internal")
}

// crewjamLogger sends crewjam/saml's log lines to slog at warning level.
type crewjamLogger struct{ l *slog.Logger }

func (c crewjamLogger) Printf(format string, v ...any) {
	c.l.Warn("saml: " + fmt.Sprintf(format, v...))
}
func (c crewjamLogger) Print(v ...any) { c.l.Warn("saml: " + fmt.Sprint(v...)) }
func (c crewjamLogger) Println(v ...any) {
	c.l.Warn("saml: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
func (c crewjamLogger) Fatal(v ...any)                 { c.Print(v...) }
func (c crewjamLogger) Fatalf(format string, v ...any) { c.Printf(format, v...) }
func (c crewjamLogger) Fatalln(v ...any)               { c.Println(v...) }
func (c crewjamLogger) Panic(v ...any)                 { c.Print(v...); panic(fmt.Sprint(v...)) }
func (c crewjamLogger) Panicf(format string, v ...any) {
	c.Printf(format, v...)
	panic(fmt.Sprintf(format, v...))
}
func (c crewjamLogger) Panicln(v ...any) { c.Println(v...); panic(fmt.Sprintln(v...)) }
