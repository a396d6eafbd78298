package idp_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// nodeDeps are what cmd/cardsso opens for a node from its storage and
// connector sections. The zero value is SQLite in DataDir/cardsso.db and the
// embedded simulator.
type nodeDeps struct {
	postgresDSN  string                     // set: PostgreSQL instead of SQLite
	simulator    simulator.Config           // the simulator, when cardplatform is nil
	cardplatform *cardplatform.Config       // set: the networked connector
	connector    connectors.RealNameChecker // set: this opened connector instead of either
}

// openStore opens the store of d as cmd/cardsso does, on cfg's clock.
func openStore(ctx context.Context, cfg idp.Config, d nodeDeps) (*sqlstore.Store, error) {
	if d.postgresDSN != "" {
		c := sqlstore.DefaultPostgresConfig()
		c.DSN, c.Now = d.postgresDSN, cfg.Now
		return c.Open(ctx)
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = idp.Defaults().DataDir
	}
	c := sqlstore.DefaultSQLiteConfig()
	c.DSN, c.Now = filepath.Join(dir, "cardsso.db"), cfg.Now
	return c.Open(ctx)
}

// openChecks opens the connector of d; the networked one's metrics go to
// cfg.ExtraMetrics.
func openChecks(cfg *idp.Config, d nodeDeps) (connectors.RealNameChecker, error) {
	if d.connector != nil {
		return d.connector, nil
	}
	if d.cardplatform == nil {
		sim := d.simulator
		if sim.AppBaseURL == "" && cfg.Issuer != "" { // as cmd/cardsso does: the app API below the issuer
			sim.AppBaseURL = strings.TrimSuffix(cfg.Issuer, "/") + idp.AppAPIPath
		}
		if sim.Now == nil {
			sim.Now = cfg.Now
		}
		return sim.Open()
	}
	c := *d.cardplatform
	reg := prometheus.NewRegistry()
	c.Now, c.Registerer, cfg.ExtraMetrics = cfg.Now, reg, reg
	if cfg.Logger != nil {
		c.Logger = idp.NodeLogger(cfg.Logger)
	}
	return c.Open()
}

// onStore opens the store of d and the master key, as cmd/cardsso does, and
// hands both to open; the store is closed when anything fails.
func onStore[T any](ctx context.Context, cfg idp.Config, d nodeDeps, open func(*sqlstore.Store, *keys.MasterKey) (T, error)) (T, error) {
	var zero T
	st, err := openStore(ctx, cfg, d)
	if err != nil {
		return zero, err
	}
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		_ = st.Close()
		return zero, err
	}
	v, err := open(st, mk)
	if err != nil {
		_ = st.Close()
		return zero, err
	}
	return v, nil
}

// newServer opens the store and the connector of d and assembles a node on
// them, as `cardsso serve` does.
func newServer(ctx context.Context, cfg idp.Config, d nodeDeps) (*idp.Server, error) {
	checks, err := openChecks(&cfg, d)
	if err != nil {
		return nil, err
	}
	return onStore(ctx, cfg, d, func(st *sqlstore.Store, mk *keys.MasterKey) (*idp.Server, error) {
		return idp.New(ctx, cfg, idp.Parts{Store: st, Checks: checks, MasterKey: mk})
	})
}

// openAdmin opens the administrator's side on the store of d, as the CLI
// does.
func openAdmin(ctx context.Context, cfg idp.Config, d nodeDeps) (*admin.Admin, error) {
	return onStore(ctx, cfg, d, func(st *sqlstore.Store, mk *keys.MasterKey) (*admin.Admin, error) {
		return idp.OpenAdmin(ctx, cfg, st, mk)
	})
}

// openSeeder opens benchmark seeding on the store of d, as `cardsso seed`
// does.
func openSeeder(ctx context.Context, cfg idp.Config, d nodeDeps) (*benchseed.Seeder, error) {
	return onStore(ctx, cfg, d, func(st *sqlstore.Store, mk *keys.MasterKey) (*benchseed.Seeder, error) {
		return benchseed.Open(ctx, cfg, st, mk)
	})
}
