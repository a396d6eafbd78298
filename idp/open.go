package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/keys"
)

// Purposes of keys derived from the master key (besides those named in
// idp/keys).
const (
	purposeLinks    = "links"
	purposePairwise = "pairwise-subject"
)

// openMasterKey reads the master key from config or its file, generating the
// file on first start with a loud warning.
func openMasterKey(cfg Config) (*keys.MasterKey, error) {
	if cfg.MasterKey.Value != "" {
		mk, err := keys.ParseMasterKey(cfg.MasterKey.Value)
		if err != nil {
			return nil, &InvalidError{Field: "master_key.value", Reason: err.Error()}
		}
		return mk, nil
	}
	mk, created, err := keys.LoadOrCreateMasterKey(cfg.MasterKey.File)
	var perm *keys.KeyFilePermError
	if errors.As(err, &perm) {
		return nil, &InvalidError{Field: "master_key.file", Reason: "the master key file " + perm.Reason()}
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		cfg.Logger.Warn("generated a new master key; production needs its own key, kept secret, backed up and shared by every node (master_key.file or CARDSSO_MASTER_KEY)",
			"file", cfg.MasterKey.File)
	}
	return mk, nil
}

// newKeyManager builds the signing key manager with a publication window
// that covers every token a retired key may have signed.
func newKeyManager(st keys.Store, mk *keys.MasterKey, cfg Config) (*keys.Manager, error) {
	publish := max(cfg.Tokens.IDTokenLifetime, cfg.Tokens.AccessTokenLifetime) + 5*60*1e9
	m, err := keys.NewManager(st, mk, keys.ManagerConfig{
		Algorithm:      cfg.Keys.Algorithm,
		RotationPeriod: cfg.Keys.RotationPeriod,
		PublishFor:     publish,
		Now:            cfg.Now,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, &InvalidError{Field: "keys.algorithm", Reason: err.Error()}
	}
	return m, nil
}

// InvalidError names the configuration field idp refuses and why; it is
// the same type as an administrator's bad input (admin.InvalidError), so
// that the CLI reports both alike.
type InvalidError = admin.InvalidError

// OpenAdmin opens the administrator's side of a node on st, an opened and
// migrated store (cmd/cardsso opens it from the storage section), with the
// master key mk and the key managers of cfg. Admin.Close closes st; on
// error st is left open for the caller to close.
func OpenAdmin(_ context.Context, cfg Config, st Store, mk *keys.MasterKey) (*admin.Admin, error) {
	if st == nil || mk == nil {
		return nil, errors.New("idp: OpenAdmin needs a store and the master key")
	}
	cfg = withDefaults(cfg)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	km, err := newKeyManager(st, mk, cfg)
	if err != nil {
		return nil, err
	}
	samlKeys, err := newSAMLKeyManager(st, mk, cfg)
	if err != nil {
		return nil, err
	}
	return admin.New(admin.Config{
		Issuer: cfg.Issuer, Store: st, ClientSecrets: mk.MAC(keys.PurposeClientSecret),
		OIDCKeys: km, SAMLKeys: samlKeys, Now: cfg.Now,
	}), nil
}

// OpenMasterKey reads the master key cfg names (master_key.value, or the
// file, generated on first start with a warning), as New does.
func OpenMasterKey(cfg Config) (*keys.MasterKey, error) {
	return openMasterKey(withDefaults(cfg))
}

// NodeLogger is l as the node logs: each record carries the request id of
// its context. Give it to what is opened for a node (the connector), so
// that their lines name the request too; New uses it as it is.
func NodeLogger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(logHandler); ok {
		return l
	}
	return slog.New(logHandler{l.Handler()})
}
