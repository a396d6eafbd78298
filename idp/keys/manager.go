package keys

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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

// KeyInfo describes a stored signing key for operators. Zero times are unset.
type KeyInfo struct {
	ID          string
	Use         string // storage.KeyUseOIDC or storage.KeyUseSAML
	Algorithm   string
	State       storage.KeyState
	CreatedAt   time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time
	ExpiresAt   time.Time // when a retired key leaves the JWKS
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

// errNoChange aborts an UpdateSigningKeys whose updater found nothing to do,
// so nothing is written.
var errNoChange = errors.New("keys: no change")

// Init makes sure the store holds an active key and a next key of the
// configured algorithm, then loads the set into memory. On an empty store it
// generates both in one UpdateSigningKeys; the updater re-checks the fresh
// set, so nodes starting together end with one active key.
//
// When the active key's algorithm differs from the configured one, Init
// rotates at once to a key of the configured algorithm (the old key is
// retired and stays published for PublishFor). Nodes configured with
// different algorithms therefore rotate each other's keys at every start:
// change the algorithm on every node together.
func (m *Manager) Init(ctx context.Context) error {
	cur, err := m.list(ctx)
	if err != nil {
		return err
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return err
	}
	var rotated bool
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		rotated = false
		pre.reset()
		now := m.now().UTC()
		active, nexts, _ := classify(keys)
		if active == nil || active.Algorithm != m.alg {
			rotated = true
			return m.rotate(keys, now, pre)
		}
		if slices.ContainsFunc(nexts, func(k storage.SigningKey) bool { return k.Algorithm == m.alg }) {
			return nil, errNoChange
		}
		// An active key but no next of this algorithm: add one.
		nk, err := pre.take(m, now)
		if err != nil {
			return nil, err
		}
		nk.State = storage.KeyNext
		return append(slices.DeleteFunc(slices.Clone(keys), func(k storage.SigningKey) bool {
			return k.State == storage.KeyNext
		}), nk), nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("keys: initialise signing keys: %w", err)
	}
	if rotated && err == nil {
		m.log.Info("signing keys initialised or rotated to the configured algorithm", "use", m.use, "alg", m.alg)
	}
	return m.Refresh(ctx)
}

// Rotate makes the next key active now, retires the active key (published
// until now+PublishFor), generates a new next key and drops retired keys
// whose publication ended, all in one UpdateSigningKeys; then reloads. With
// no next key of the configured algorithm it generates and activates a fresh
// one (relying parties meet its kid before their cached JWKS does, and must
// refetch). Rotate always rotates; RotateIfDue rotates when the period is up.
func (m *Manager) Rotate(ctx context.Context) error {
	cur, err := m.list(ctx)
	if err != nil {
		return err
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return err
	}
	var old, act string
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		pre.reset()
		old, act = activeID(keys), ""
		out, err := m.rotate(keys, m.now().UTC(), pre)
		act = activeID(out)
		return out, err
	})
	if err != nil {
		return fmt.Errorf("keys: rotate signing keys: %w", err)
	}
	m.log.Info("signing key rotated", "use", m.use, "active", act, "retired", old, "alg", m.alg)
	if err := m.Refresh(ctx); err != nil {
		return fmt.Errorf("keys: reload after rotation: %w", err)
	}
	return nil
}

// errNotDue aborts RotateIfDue's update when the fresh set needs no rotation.
var errNotDue = errors.New("keys: rotation not due")

// RotateIfDue rotates as Rotate does when the active key was activated at
// least RotationPeriod ago (or there is none). The decision is taken inside
// the updater on the freshly read set, so when several nodes call it at once
// exactly one rotates; the others get rotated = false and write nothing.
func (m *Manager) RotateIfDue(ctx context.Context) (rotated bool, err error) {
	cur, err := m.list(ctx)
	if err != nil {
		return false, err
	}
	if !m.due(cur, m.now()) {
		return false, nil // cheap path: no transaction
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return false, err
	}
	var old, act string
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		now := m.now().UTC()
		if !m.due(keys, now) {
			return nil, errNotDue
		}
		pre.reset()
		old = activeID(keys)
		out, err := m.rotate(keys, now, pre)
		act = activeID(out)
		return out, err
	})
	if errors.Is(err, errNotDue) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("keys: rotate signing keys: %w", err)
	}
	m.log.Info("signing key rotated on schedule", "use", m.use, "active", act, "retired", old, "alg", m.alg)
	if err := m.Refresh(ctx); err != nil {
		return true, fmt.Errorf("keys: reload after rotation: %w", err)
	}
	return true, nil
}

// due reports whether the set needs a scheduled rotation at now.
func (m *Manager) due(keys []storage.SigningKey, now time.Time) bool {
	active, _, _ := classify(keys)
	if active == nil {
		return true
	}
	return !activatedAt(*active).Add(m.period).After(now)
}

// rotate returns the set after one rotation at now; keys is not modified.
//
//	next (oldest of the configured algorithm) → active, ActivatedAt = now
//	active                                    → retired, RetiredAt = now, ExpiresAt = now+PublishFor
//	retired with ExpiresAt <= now             → dropped
//	other next keys                           → dropped (they never signed)
//	                                          + a new next key
func (m *Manager) rotate(keys []storage.SigningKey, now time.Time, pre *pregenerated) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	var promoted bool
	var nexts []storage.SigningKey
	for _, k := range keys {
		switch k.State {
		case storage.KeyActive:
			k.State = storage.KeyRetired
			k.RetiredAt = ptr(now)
			k.ExpiresAt = ptr(now.Add(m.keep))
			out = append(out, k)
		case storage.KeyNext:
			nexts = append(nexts, k)
		default: // retired, or a state this version does not know
			if k.ExpiresAt == nil {
				from := now
				if k.RetiredAt != nil {
					from = *k.RetiredAt
				}
				k.ExpiresAt = ptr(from.Add(m.keep))
			}
			if k.ExpiresAt.After(now) {
				out = append(out, k)
			}
		}
	}
	slices.SortStableFunc(nexts, func(a, b storage.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, k := range nexts {
		if k.Algorithm == m.alg && !promoted {
			k.State = storage.KeyActive
			k.ActivatedAt = ptr(now)
			out = append(out, k)
			promoted = true
		}
	}
	if !promoted {
		k, err := pre.take(m, now)
		if err != nil {
			return nil, err
		}
		k.State = storage.KeyActive
		k.ActivatedAt = ptr(now)
		out = append(out, k)
	}
	k, err := pre.take(m, now)
	if err != nil {
		return nil, err
	}
	k.State = storage.KeyNext
	return append(out, k), nil
}

// keysNeeded guesses from a (possibly stale) read how many keys a rotation
// or Init will generate, so they are made before the transaction rather than
// while it holds the store's lock.
func (m *Manager) keysNeeded(keys []storage.SigningKey) int {
	_, nexts, _ := classify(keys)
	n := 1 // the new next key
	if !slices.ContainsFunc(nexts, func(k storage.SigningKey) bool { return k.Algorithm == m.alg }) {
		n++ // no next key to promote
	}
	return n
}

// pregenerated holds keys made before a transaction; take generates more if
// the fresh set needs them. A store may run an updater more than once (a
// failed run writes nothing), so every run starts over with reset and can
// hand out the same keys again.
type pregenerated struct {
	keys []storage.SigningKey
	used int
}

func (p *pregenerated) reset() { p.used = 0 }

func (m *Manager) pregenerate(n int) (*pregenerated, error) {
	p := &pregenerated{}
	for range n {
		k, err := m.generate()
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, k)
	}
	return p, nil
}

// take returns a key not yet handed out in this run, stamped CreatedAt = now.
func (p *pregenerated) take(m *Manager, now time.Time) (storage.SigningKey, error) {
	if p.used == len(p.keys) {
		k, err := m.generate()
		if err != nil {
			return storage.SigningKey{}, err
		}
		p.keys = append(p.keys, k)
	}
	k := p.keys[p.used]
	p.used++
	k.CreatedAt = now
	return k, nil
}

// Refresh reloads the key set from the store into memory (another node or
// `cardsso keys rotate` may have changed it). The private key is unsealed
// only when the stored set changed; the JWKS document is rebuilt only when
// the published keys change. A failed Refresh keeps the previous set.
func (m *Manager) Refresh(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	keys, err := m.list(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	fp := fingerprint(keys)
	old := m.cur.Load()
	if old != nil && old.fingerprint == fp {
		if slices.Equal(old.visible, visibleIDs(old.stored, now)) {
			return nil
		}
		next, err := m.build(old.stored, now, old.active)
		if err != nil {
			return err
		}
		next.fingerprint = fp
		m.cur.Store(next)
		return nil
	}
	next, err := m.build(keys, now, nil)
	if err != nil {
		return err
	}
	next.fingerprint = fp
	m.cur.Store(next)
	return nil
}

// build makes the in-memory view of keys at now; active, when not nil, is
// the already unsealed active key of the same set.
func (m *Manager) build(keys []storage.SigningKey, now time.Time, active *Signer) (*keySet, error) {
	ks := &keySet{stored: keys, active: active}
	act, _, _ := classify(keys)
	if act == nil {
		return nil, ErrNoActiveKey
	}
	if ks.active == nil {
		pub, err := parsePublicJWK(*act)
		if err != nil {
			return nil, err
		}
		if ks.active, err = openSigner(*act, pub, m.mk); err != nil {
			return nil, err
		}
	}
	if m.cert.name != "" && ks.active.Certificate == nil {
		return nil, fmt.Errorf("keys: signing key %s has no certificate", act.ID)
	}
	for _, k := range publishOrder(keys, now) {
		jwk, err := parsePublicJWK(k)
		if err != nil {
			// A broken key that does not sign is left out rather than
			// taking every node down; the active key was checked above.
			m.log.Warn("signing key left out of the JWKS", "use", m.use, "kid", k.ID, "err", err)
			continue
		}
		var cert *x509.Certificate
		if len(k.Certificate) > 0 {
			if cert, err = parseCertificate(k, jwk); err != nil {
				m.log.Warn("signing key left out of the published keys", "use", m.use, "kid", k.ID, "err", err)
				continue
			}
			ks.certs = append(ks.certs, cert)
		}
		ks.jwks = append(ks.jwks, jwk)
		ks.visible = append(ks.visible, k.ID)
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: ks.jwks})
	if err != nil {
		return nil, fmt.Errorf("keys: encode JWKS: %w", err)
	}
	ks.json = doc
	sum := sha256.Sum256(doc)
	ks.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return ks, nil
}

// Active returns the key that signs new tokens, from memory: no query, no
// allocation. It fails with ErrNoActiveKey before Init has succeeded.
func (m *Manager) Active() (*Signer, error) {
	ks := m.cur.Load()
	if ks == nil || ks.active == nil {
		return nil, ErrNoActiveKey
	}
	return ks.active, nil
}

// Certificates returns the certificates of the published keys, from
// memory, in the order PublicJWKS has them: the active key's first, then
// the next key's, then those of retired keys still published. Keys without
// a certificate are left out. The slice is the caller's; the certificates
// are shared and must not be modified.
func (m *Manager) Certificates() []*x509.Certificate {
	ks := m.cur.Load()
	if ks == nil {
		return nil
	}
	return slices.Clone(ks.certs)
}

// Use is what the Manager's keys sign (storage.KeyUseOIDC or
// storage.KeyUseSAML).
func (m *Manager) Use() string { return m.use }

// PublicJWKS returns the published public keys, from memory: the next key,
// the active key and retired keys whose publication has not ended (as of
// the last Refresh, so a retired key may stay up to one Run interval
// longer), each with kid, alg and use "sig". The slice is the caller's.
func (m *Manager) PublicJWKS() []jose.JSONWebKey {
	ks := m.cur.Load()
	if ks == nil {
		return nil
	}
	return slices.Clone(ks.jwks)
}

// JWKSJSON returns the JWK Set document (RFC 7517 §5) of PublicJWKS,
// serialised once per change of the set. Callers must not modify it.
// Before Init it is {"keys":[]}.
func (m *Manager) JWKSJSON() []byte {
	ks := m.cur.Load()
	if ks == nil {
		return []byte(`{"keys":[]}`)
	}
	return ks.json
}

// ETag returns a strong HTTP entity tag (quoted) of JWKSJSON: it changes
// exactly when the document does. Empty before Init.
func (m *Manager) ETag() string {
	ks := m.cur.Load()
	if ks == nil {
		return ""
	}
	return ks.etag
}

// List returns every stored key, read from the store (not memory), for
// operators: the active key first, then next keys, then retired keys, newest
// first within each.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	keys, err := m.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{
			ID:          k.ID,
			Use:         m.use,
			Algorithm:   k.Algorithm,
			State:       k.State,
			CreatedAt:   k.CreatedAt,
			ActivatedAt: deref(k.ActivatedAt),
			RetiredAt:   deref(k.RetiredAt),
			ExpiresAt:   deref(k.ExpiresAt),
		})
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int {
		if c := cmp.Compare(stateRank(a.State), stateRank(b.State)); c != 0 {
			return c
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return out, nil
}

// Run refreshes the set and rotates when due every interval (default one
// minute) until ctx is done, logging errors. Call it in its own goroutine
// after Init.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultRunInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("signing keys: refresh failed", "use", m.use, "err", err)
		}
		if _, err := m.RotateIfDue(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("signing keys: scheduled rotation failed", "use", m.use, "err", err)
		}
	}
}

// classify picks the active key (the most recently activated when a broken
// store holds several), the next keys and the retired keys.
func classify(keys []storage.SigningKey) (active *storage.SigningKey, nexts, retired []storage.SigningKey) {
	for i := range keys {
		k := &keys[i]
		switch k.State {
		case storage.KeyActive:
			if active == nil || activatedAt(*k).After(activatedAt(*active)) {
				active = k
			}
		case storage.KeyNext:
			nexts = append(nexts, *k)
		default:
			retired = append(retired, *k)
		}
	}
	return active, nexts, retired
}

func activatedAt(k storage.SigningKey) time.Time {
	if k.ActivatedAt != nil {
		return *k.ActivatedAt
	}
	return k.CreatedAt
}

func activeID(keys []storage.SigningKey) string {
	if a, _, _ := classify(keys); a != nil {
		return a.ID
	}
	return ""
}

// publishOrder returns the keys to publish at now: active first (relying
// parties that take the first key get the right one), then next, then
// retired keys whose ExpiresAt is after now, newest first.
func publishOrder(keys []storage.SigningKey, now time.Time) []storage.SigningKey {
	var out []storage.SigningKey
	for _, k := range keys {
		if k.State == storage.KeyActive || k.State == storage.KeyNext || k.ExpiresAt == nil || k.ExpiresAt.After(now) {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b storage.SigningKey) int {
		if c := cmp.Compare(stateRank(a.State), stateRank(b.State)); c != 0 {
			return c
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func visibleIDs(keys []storage.SigningKey, now time.Time) []string {
	var ids []string
	for _, k := range publishOrder(keys, now) {
		ids = append(ids, k.ID)
	}
	return ids
}

func stateRank(s storage.KeyState) int {
	switch s {
	case storage.KeyActive:
		return 0
	case storage.KeyNext:
		return 1
	}
	return 2
}

// fingerprint hashes everything about the stored rows, so Refresh can tell
// whether anything changed.
func fingerprint(keys []storage.SigningKey) [sha256.Size]byte {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b storage.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	tm := func(t *time.Time) {
		if t == nil {
			field(nil)
			return
		}
		field(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
	}
	for _, k := range sorted {
		field([]byte(k.ID))
		field([]byte(k.Algorithm))
		field([]byte(k.State))
		field(k.PrivateSealed)
		field(k.PublicJWK)
		field([]byte(k.Use))
		field(k.Certificate)
		tm(&k.CreatedAt)
		tm(k.ActivatedAt)
		tm(k.RetiredAt)
		tm(k.ExpiresAt)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func ptr[T any](v T) *T { return &v }

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
