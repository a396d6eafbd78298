package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
)

// KeyInfo describes one signing key (never its private part).
type KeyInfo struct {
	ID          string     `json:"kid"`
	Use         string     `json:"use"` // oidc or saml
	Algorithm   string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

func keyInfos(ks []keys.KeyInfo) []KeyInfo {
	t := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = KeyInfo{ID: k.ID, Use: k.Use, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt,
			ActivatedAt: t(k.ActivatedAt), RetiredAt: t(k.RetiredAt), ExpiresAt: t(k.ExpiresAt)}
	}
	return out
}

// KeyUses are the uses of signing keys: OpenID Connect tokens and SAML.
var KeyUses = []string{storage.KeyUseOIDC, storage.KeyUseSAML}

// keyManagers returns the managers of the uses named (all when none).
func (a *Admin) keyManagers(uses []string) ([]KeyManager, error) {
	if len(uses) == 0 {
		uses = KeyUses
	}
	var out []KeyManager
	for _, u := range uses {
		switch u {
		case storage.KeyUseOIDC:
			out = append(out, a.keys)
		case storage.KeyUseSAML:
			out = append(out, a.samlKeys)
		default:
			return nil, &InvalidError{Field: "use", Reason: fmt.Sprintf("unknown key use %q (want %s or %s)", u, storage.KeyUseOIDC, storage.KeyUseSAML)}
		}
	}
	return out, nil
}

// ListKeys lists the signing keys of the uses named (all when none): OIDC
// keys first, then SAML keys.
func (a *Admin) ListKeys(ctx context.Context, uses ...string) ([]KeyInfo, error) {
	ms, err := a.keyManagers(uses)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, m := range ms {
		ks, err := m.List(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, keyInfos(ks)...)
	}
	return out, nil
}

// RotateKeys rotates the signing keys of the uses named (all when none)
// now: the published next key starts signing, the active one is retired
// but stays published until every token it signed has expired. Running
// servers pick the change up within a minute. It returns the keys of those
// uses.
func (a *Admin) RotateKeys(ctx context.Context, uses ...string) ([]KeyInfo, error) {
	ms, err := a.keyManagers(uses)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if err := m.Init(ctx); err != nil {
			return nil, err
		}
		if err := m.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return a.ListKeys(ctx, uses...)
}
