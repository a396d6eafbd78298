package keys

import (
	"cmp"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/storage"
)

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
// allocation. It is a jose.OpaqueSigner (a *Signer): Public() is its public
// JWK with kid and alg, SignPayload makes JWS signatures; the private key
// is not handed out. It fails with ErrNoActiveKey before Init has
// succeeded.
func (m *Manager) Active() (jose.OpaqueSigner, error) {
	s, err := m.active()
	if err != nil {
		return nil, err // an untyped nil: not a (*Signer)(nil) in the interface
	}
	return s, nil
}

// Signer returns the active key's private operation and its certificate
// (nil for a Manager without CertificateName), from memory. The
// crypto.Signer of a Manager is the unsealed private key; a KMS or HSM
// would hand out one that performs the operation remotely. It fails with
// ErrNoActiveKey before Init has succeeded.
func (m *Manager) Signer() (crypto.Signer, *x509.Certificate, error) {
	s, err := m.active()
	if err != nil {
		return nil, nil, err
	}
	return s.Key, s.Certificate, nil
}

// active is the active key as it is kept.
func (m *Manager) active() (*Signer, error) {
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
