package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The bounds of QueryTimeout in a flavour's configuration: a statement
// shorter than 100ms would fail under ordinary load, one longer than 5m
// would hold a request that long.
const (
	MinQueryTimeout = 100 * time.Millisecond
	MaxQueryTimeout = 5 * time.Minute
)

// SQLiteConfig is the sqlite flavour as an operator configures it (the YAML
// keys beside storage.type). Start from DefaultSQLiteConfig: Validate wants
// a QueryTimeout between MinQueryTimeout and MaxQueryTimeout. The pool
// fields are those of Config.
type SQLiteConfig struct {
	// DSN is the database file (created readable by its owner only), or
	// ":memory:".
	DSN             string        `yaml:"dsn"`
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `yaml:"conn_max_idle_time"`
	QueryTimeout    time.Duration `yaml:"query_timeout"`

	// Now is the store's clock (Config.Now); nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// PostgresConfig is the postgres flavour as an operator configures it.
// Start from DefaultPostgresConfig. The fields are those of Config.
type PostgresConfig struct {
	// DSN is the connection URL (postgres://user@host:5432/cardsso) or
	// keyword=value string. Required.
	DSN             string        `yaml:"dsn"`
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `yaml:"conn_max_idle_time"`
	QueryTimeout    time.Duration `yaml:"query_timeout"`

	// Now is the store's clock (Config.Now); nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// DefaultSQLiteConfig is the sqlite flavour's defaults: the pool of Config's
// zero values and DefaultQueryTimeout. DSN stays empty: the caller names the
// file (cmd/cardsso: data_dir/cardsso.db).
func DefaultSQLiteConfig() SQLiteConfig { return SQLiteConfig{QueryTimeout: DefaultQueryTimeout} }

// DefaultPostgresConfig is the postgres flavour's defaults (DSN has none).
func DefaultPostgresConfig() PostgresConfig {
	return PostgresConfig{QueryTimeout: DefaultQueryTimeout}
}

// ConfigError reports a flavour configuration field that is not valid, by
// its YAML key.
type ConfigError struct {
	Key    string // "dsn", "max_open_conns", …
	Reason string
}

// Error returns "sqlstore: key: reason".
func (e *ConfigError) Error() string { return "sqlstore: " + e.Key + ": " + e.Reason }

// ConfigKey is the YAML key of the bad field.
func (e *ConfigError) ConfigKey() string { return e.Key }

// ConfigReason is why it is bad.
func (e *ConfigError) ConfigReason() string { return e.Reason }

// IsPostgresURL reports whether dsn is a PostgreSQL connection URL.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Validate checks c: DSN not a PostgreSQL URL, MaxOpenConns not 1 (the
// migrations hold one connection while they run), the pool as validatePool.
func (c SQLiteConfig) Validate() error {
	if IsPostgresURL(c.DSN) {
		return &ConfigError{Key: "dsn", Reason: "is a PostgreSQL URL but storage.type is sqlite"}
	}
	if c.MaxOpenConns == 1 {
		return &ConfigError{Key: "max_open_conns", Reason: "1 is too few for sqlite (want 0 for the default, or at least 2)"}
	}
	return validatePool(c.MaxOpenConns, c.MaxIdleConns, c.ConnMaxLifetime, c.ConnMaxIdleTime, c.QueryTimeout)
}

// Validate checks c: DSN set, the pool as validatePool.
func (c PostgresConfig) Validate() error {
	if c.DSN == "" {
		return &ConfigError{Key: "dsn", Reason: "required when storage.type is postgres (a URL such as postgres://user@host:5432/cardsso)"}
	}
	return validatePool(c.MaxOpenConns, c.MaxIdleConns, c.ConnMaxLifetime, c.ConnMaxIdleTime, c.QueryTimeout)
}

func validatePool(maxOpen, maxIdle int, lifetime, idleTime, queryTimeout time.Duration) error {
	switch {
	case maxOpen < 0:
		return &ConfigError{Key: "max_open_conns", Reason: fmt.Sprintf("must not be negative, got %d", maxOpen)}
	case maxIdle < 0:
		return &ConfigError{Key: "max_idle_conns", Reason: fmt.Sprintf("must not be negative, got %d", maxIdle)}
	case lifetime < 0:
		return &ConfigError{Key: "conn_max_lifetime", Reason: fmt.Sprintf("must not be negative, got %s", lifetime)}
	case idleTime < 0:
		return &ConfigError{Key: "conn_max_idle_time", Reason: fmt.Sprintf("must not be negative, got %s", idleTime)}
	case queryTimeout < MinQueryTimeout || queryTimeout > MaxQueryTimeout:
		return &ConfigError{Key: "query_timeout", Reason: fmt.Sprintf("must be between 100ms and 5m, got %s", queryTimeout)}
	}
	return nil
}

// Open validates c, creates the database file when it does not exist
// (mode 0600, in a directory of mode 0700: it holds personal data; SQLite
// gives its -wal and -shm files the same mode), then opens and migrates the
// store (Open).
func (c SQLiteConfig) Open(ctx context.Context) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.DSN != "" && c.DSN != ":memory:" && !strings.HasPrefix(c.DSN, "file:") {
		if err := os.MkdirAll(filepath.Dir(c.DSN), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: data directory: %w", err)
		}
		if f, err := os.OpenFile(c.DSN, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
			_ = f.Close()
		}
	}
	return Open(ctx, Config{
		Flavour: "sqlite", DSN: c.DSN,
		MaxOpenConns: c.MaxOpenConns, MaxIdleConns: c.MaxIdleConns,
		ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxIdleTime: c.ConnMaxIdleTime,
		QueryTimeout: c.QueryTimeout, Now: c.Now,
	})
}

// Open validates c, then opens and migrates the store (Open).
func (c PostgresConfig) Open(ctx context.Context) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return Open(ctx, Config{
		Flavour: "postgres", DSN: c.DSN,
		MaxOpenConns: c.MaxOpenConns, MaxIdleConns: c.MaxIdleConns,
		ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxIdleTime: c.ConnMaxIdleTime,
		QueryTimeout: c.QueryTimeout, Now: c.Now,
	})
}
