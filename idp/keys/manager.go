package keys

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/storage"
)

// Store is the part of storage.Store the Manager needs.
type Store interface {
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	// UpdateSigningKeys runs update on the whole set in a transaction that
	// excludes every other UpdateSigningKeys and writes what it returns; an
	// update error aborts it with nothing written.
	UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error
}

// ErrNoActiveKey: the Manager has no active signing key in memory (Init has
// not succeeded yet).
var ErrNoActiveKey = errors.New("keys: no active signing key")

// Defaults of ManagerConfig.
const (
	DefaultRotationPeriod = 30 * 24 * time.Hour
	DefaultPublishFor     = 24 * time.Hour
	DefaultRunInterval    = time.Minute
	// DefaultCertificateValidity is how long a key's certificate is valid
	// (ManagerConfig.CertificateValidity).
	DefaultCertificateValidity = 10 * 365 * 24 * time.Hour
)

// ManagerConfig configures a Manager. Zero fields take the defaults.
type ManagerConfig struct {
	// Use is what the keys sign: storage.KeyUseOIDC (the default; it also
	// owns keys stored with an empty use) or storage.KeyUseSAML. A Manager
	// only ever changes keys of its use: every update hands the keys of
	// other uses back unchanged, so the two uses rotate independently in
	// one table.
	Use string
	// CertificateName, when set, gives every new key a self-signed X.509
	// certificate with this common name, made once with the key (so every
	// node publishes the same one) and valid for CertificateValidity from
	// an hour before its creation. SAML metadata publishes keys as
	// certificates.
	CertificateName string
	// CertificateValidity is how long certificates are valid. Default 10
	// years, and at least three rotation periods (a key is next for one
	// period and active for the next, and relying parties such as
	// goxmldsig refuse a signature whose certificate has expired).
	CertificateValidity time.Duration
	// Algorithm of new keys: ES256 (default), RS256 or EdDSA. Every node of a
	// deployment should use the same one.
	Algorithm string
	// RotationPeriod is how long a key signs before the next key takes over.
	// Default 30 days.
	RotationPeriod time.Duration
	// PublishFor is how long a retired key stays in the JWKS: at least the
	// longest lifetime of a token it may have signed (ID token, JWT access
	// token, logout token), plus the clock skew relying parties allow, plus
	// the Run interval (other nodes sign with a retired key until their next
	// Refresh). Default 24 hours; too long only costs JWKS bytes, too short
	// rejects valid tokens.
	PublishFor time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is handed to key generation. Default crypto/rand.Reader. Go 1.26
	// ignores it and uses the system CSPRNG unless GODEBUG=cryptocustomrand=1.
	Rand io.Reader
	// Logger receives rotations and Run's errors (kids only, never key
	// material). Default slog.Default().
	Logger *slog.Logger
}

// Manager keeps the token signing keys: it creates and rotates them in the
// store (compare-and-swap, so several nodes sharing a database never rotate
// twice) and serves the active signer and the published JWKS from memory.
// It is safe for concurrent use.
type Manager struct {
	store  Store
	mk     *MasterKey
	use    string
	cert   certTemplate
	alg    string
	period time.Duration
	keep   time.Duration
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger

	loadMu sync.Mutex // serialises List+swap, so an older read never replaces a newer one
	cur    atomic.Pointer[keySet]
}

// keySet is one immutable in-memory view of the stored keys.
type keySet struct {
	fingerprint [sha256.Size]byte // of the stored rows
	active      *Signer
	stored      []storage.SigningKey // of the Manager's use
	jwks        []jose.JSONWebKey    // published: next, active, retired not yet expired
	certs       []*x509.Certificate  // certificates of the published keys, same order
	visible     []string             // kids of jwks, in order
	json        []byte               // {"keys":[...]}
	etag        string
}

// NewManager returns a Manager over store; call Init before use.
func NewManager(store Store, mk *MasterKey, cfg ManagerConfig) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	if mk == nil || mk.seal == nil {
		return nil, errors.New("keys: nil or uninitialised master key")
	}
	m := &Manager{
		store:  store,
		mk:     mk,
		use:    cmp.Or(cfg.Use, storage.KeyUseOIDC),
		alg:    cmp.Or(cfg.Algorithm, ES256),
		period: cmp.Or(cfg.RotationPeriod, DefaultRotationPeriod),
		keep:   cmp.Or(cfg.PublishFor, DefaultPublishFor),
		now:    cfg.Now,
		rand:   cfg.Rand,
		log:    cfg.Logger,
	}
	if err := checkAlgorithm(m.alg); err != nil {
		return nil, err
	}
	if m.period < 0 {
		return nil, fmt.Errorf("keys: negative rotation period %s", m.period)
	}
	if m.keep < 0 {
		return nil, fmt.Errorf("keys: negative publication window %s", m.keep)
	}
	switch m.use {
	case storage.KeyUseOIDC, storage.KeyUseSAML:
	default:
		return nil, fmt.Errorf("keys: unknown key use %q (want %s or %s)", m.use, storage.KeyUseOIDC, storage.KeyUseSAML)
	}
	if cfg.CertificateName != "" {
		if cfg.CertificateValidity < 0 {
			return nil, fmt.Errorf("keys: negative certificate validity %s", cfg.CertificateValidity)
		}
		m.cert = certTemplate{
			name:     cfg.CertificateName,
			validity: max(cmp.Or(cfg.CertificateValidity, DefaultCertificateValidity), 3*m.period),
		}
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// owns reports whether a stored key is of the Manager's use: keys stored
// before uses existed (empty Use) are OpenID Connect keys.
func (m *Manager) owns(k storage.SigningKey) bool {
	if k.Use == "" {
		return m.use == storage.KeyUseOIDC
	}
	return k.Use == m.use
}

// list reads the keys of the Manager's use.
func (m *Manager) list(ctx context.Context) ([]storage.SigningKey, error) {
	keys, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	return slices.DeleteFunc(keys, func(k storage.SigningKey) bool { return !m.owns(k) }), nil
}

// update runs update on the keys of the Manager's use inside one
// UpdateSigningKeys, and writes what it returns together with the keys of
// other uses, unchanged. Keys update returns are stamped with the
// Manager's use (a key stored with an empty use keeps it).
func (m *Manager) update(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	return m.store.UpdateSigningKeys(ctx, func(all []storage.SigningKey) ([]storage.SigningKey, error) {
		var mine, others []storage.SigningKey
		for _, k := range all {
			if m.owns(k) {
				mine = append(mine, k)
			} else {
				others = append(others, k)
			}
		}
		out, err := update(mine)
		if err != nil {
			return nil, err
		}
		return append(others, out...), nil
	})
}

// generate makes a new key of the Manager's algorithm and use, with a
// certificate when the Manager makes them.
func (m *Manager) generate() (storage.SigningKey, error) {
	return generateSigningKey(m.alg, m.use, m.cert, m.now(), m.rand, m.mk)
}

// Use is what the Manager's keys sign (storage.KeyUseOIDC or
// storage.KeyUseSAML).
func (m *Manager) Use() string { return m.use }
