package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// env is a fake environment for loadConfig.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withoutSources drops the bookkeeping so configs compare by value.
func withoutSources(c fileConfig) fileConfig {
	c.sources = nil
	c.Storage.node = nil
	return c
}

// sqlite is the sqlite flavour's configuration of c (the default).
func sqlite(c *fileConfig) *sqlstore.SQLiteConfig { return c.Storage.Flavour.(*sqlstore.SQLiteConfig) }

// postgres makes c's storage postgres with dsn and the query timeout given.
func postgres(c *fileConfig, dsn string, queryTimeout time.Duration) *sqlstore.PostgresConfig {
	_ = c.Storage.choose("postgres")
	pg := c.Storage.Flavour.(*sqlstore.PostgresConfig)
	pg.DSN, pg.QueryTimeout = dsn, queryTimeout
	return pg
}

// cp is the cardplatform connector's configuration of c.
func cp(c *fileConfig) *cardplatform.Config {
	return c.Connector.Configs["cardplatform"].(*cardplatform.Config)
}

// storageDSN is the storage.dsn c opens.
func storageDSN(c *fileConfig) string {
	return reflect.ValueOf(c.storeConfig()).Elem().FieldByName("DSN").String()
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig("", env{}.lookup, nil)
	if err != nil {
		t.Fatalf("loadConfig = %v; want nil", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: Validate() = %v; want nil", err)
	}
	if got, want := withoutSources(c), withoutSources(defaultConfig()); !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig with nothing = %+v; want the defaults %+v", got, want)
	}

	got := c.idpConfig(nil)
	want := idp.Config{
		Issuer:         "http://localhost:8080",
		Addr:           "127.0.0.1:8080",
		DataDir:        "./data",
		TrustedProxies: []string{}, ClientIPHeader: "X-Forwarded-For",
		MasterKey: idp.MasterKeyConfig{File: filepath.Join("data", "master.key")},
		Tokens: idp.TokenConfig{
			AccessTokenLifetime:  15 * time.Minute,
			IDTokenLifetime:      15 * time.Minute,
			RefreshTokenLifetime: 720 * time.Hour,
			AuthRequestLifetime:  30 * time.Minute,
			CodeLifetime:         time.Minute,
		},
		Session:  idp.SessionConfig{Lifetime: 12 * time.Hour, IdleTimeout: 2 * time.Hour, CookieName: "cardsso_session"},
		Keys:     idp.KeyConfig{Algorithm: "ES256", RotationPeriod: 720 * time.Hour, RefreshInterval: time.Minute},
		Password: idp.PasswordConfig{MemoryKiB: 19456, Time: 2, Threads: 1},
		Checks:   idp.ChecksConfig{CardTTL: 24 * time.Hour},
		Lockout: idp.LockoutConfig{PasswordFailures: 5, PasswordPerIP: 30, PasswordWindow: 15 * time.Minute,
			PasswordDelayAfter: 2, PasswordDelay: 500 * time.Millisecond, PasswordMaxDelay: 4 * time.Second,
			RealNamePerNumber: 5, RealNamePerIP: 20, RealNameWindow: time.Hour,
			CardPerAccount: 5, CardPerIP: 20, CardWindow: time.Hour, FaceFailures: 5, FaceWindow: time.Hour,
			FormRate: 5, FormBurst: 20},
		SAML: idp.SAMLConfig{AssertionLifetime: 5 * time.Minute, MetadataValidity: 8760 * time.Hour, KeyRotationPeriod: 17520 * time.Hour,
			ACRAliases: assurance.EIDAS()},
		Logout: idp.LogoutConfig{BackchannelTimeout: 5 * time.Second, BackchannelAttempts: 3, BackchannelBackoff: time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("idpConfig(defaults) =\n%+v\nwant\n%+v", got, want)
	}
	wantStore := sqlstore.SQLiteConfig{DSN: filepath.Join("data", "cardsso.db"), QueryTimeout: 5 * time.Second}
	if c.Storage.Type != "sqlite" || !reflect.DeepEqual(c.storeConfig(), &wantStore) {
		t.Errorf("storage = %s %+v; want sqlite %+v", c.Storage.Type, c.storeConfig(), wantStore)
	}
	if c.Connector.Type != "simulator" || !reflect.DeepEqual(c.Connector.Configs["simulator"], &simulator.Config{}) {
		t.Errorf("connector = %s %+v; want the embedded simulator", c.Connector.Type, c.Connector.Configs["simulator"])
	}
}

// The sample file documents every key with its default: decoding it must
// give exactly the defaults, and it must mention every key.
func TestSampleConfigIsDefaults(t *testing.T) {
	const sample = "../../examples/config/cardsso.yaml"
	c, err := loadConfig(sample, env{}.lookup, nil)
	if err != nil {
		t.Fatalf("loadConfig(%s) = %v; want nil", sample, err)
	}
	if got, want := withoutSources(c), withoutSources(defaultConfig()); !reflect.DeepEqual(got, want) {
		t.Errorf("%s =\n%+v\nwant the defaults\n%+v", sample, got, want)
	}
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range yamlPaths(reflect.TypeOf(fileConfig{}), "") {
		key := p[strings.LastIndex(p, ".")+1:]
		if !strings.Contains(string(data), key+":") {
			t.Errorf("%s does not mention %s", sample, p)
		}
	}
}

// yamlPaths lists the YAML paths of every leaf value of t; for the storage
// and connector sections, type and the leaves of every registered
// flavour's and connector's configuration.
func yamlPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		p := joinPath(prefix, tag)
		switch {
		case f.Type == reflect.TypeOf(storageSection{}):
			seen := map[string]bool{}
			paths = append(paths, p+".type")
			for _, newConfig := range storages() {
				for _, q := range yamlPaths(reflect.TypeOf(newConfig()).Elem(), p) {
					if !seen[q] {
						seen[q] = true
						paths = append(paths, q)
					}
				}
			}
		case f.Type == reflect.TypeOf(connectorSection{}):
			paths = append(paths, p+".type")
			for name, ct := range connectorTypes() {
				paths = append(paths, yamlPaths(reflect.TypeOf(ct.config()).Elem(), p+"."+name)...)
			}
		case f.Type.Kind() == reflect.Struct && f.Type != durationType:
			paths = append(paths, yamlPaths(f.Type, p)...)
		default:
			paths = append(paths, p)
		}
	}
	return paths
}

// Every value can be set from the environment, and the table's names follow
// the rule that the README states.
func TestSettingsCoverEveryKey(t *testing.T) {
	var fromTable []string
	for _, s := range settings() {
		fromTable = append(fromTable, s.Path)
		want := "CARDSSO_" + strings.ToUpper(strings.ReplaceAll(s.Path, ".", "_"))
		switch {
		case s.Path == "master_key.value":
			want = "CARDSSO_MASTER_KEY"
		case strings.HasPrefix(s.Path, "connector.") && s.Path != "connector.type":
			// CARDSSO_<TYPE>_<KEY>: CARDSSO_SIMULATOR_FIXTURE, CARDSSO_CARDPLATFORM_TLS_CA_FILE
			want = "CARDSSO_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(s.Path, "connector."), ".", "_"))
		}
		if s.Env != want {
			t.Errorf("setting %s: env %s; want %s", s.Path, s.Env, want)
		}
	}
	leaves := yamlPaths(reflect.TypeOf(fileConfig{}), "")
	sort.Strings(fromTable)
	sort.Strings(leaves)
	if !reflect.DeepEqual(fromTable, leaves) {
		t.Errorf("settings() paths = %v; want every YAML key %v", fromTable, leaves)
	}
}

// The README's configuration table has a row for every setting, with its
// environment variable.
func TestREADMEListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, s := range settings() {
		if row := "| `" + s.Path + "` | `" + s.Env + "` |"; !strings.Contains(readme, row) {
			t.Errorf("README.md has no row %q", row)
		}
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	file := writeFile(t, "cardsso.yaml", `
issuer: https://file.example.gov.cn
addr: 127.0.0.1:7000
data_dir: /var/lib/file
storage:
  type: postgres
  dsn: postgres://file@db/cardsso
  max_open_conns: 20
tokens:
  code_lifetime: 30s
keys:
  algorithm: RS256
log:
  level: debug
`)
	tests := []struct {
		name  string
		env   env
		flags []flagSetting
		check func(t *testing.T, c fileConfig)
	}{{
		name: "file over defaults",
		check: func(t *testing.T, c fileConfig) {
			want := defaultConfig()
			want.Issuer = "https://file.example.gov.cn"
			want.Addr = "127.0.0.1:7000"
			want.DataDir = "/var/lib/file"
			postgres(&want, "postgres://file@db/cardsso", 5*time.Second).MaxOpenConns = 20
			want.Tokens.CodeLifetime = 30 * time.Second
			want.Keys.Algorithm = "RS256"
			want.Log.Level = "debug"
			if got := withoutSources(c); !reflect.DeepEqual(got, withoutSources(want)) {
				t.Errorf("config = %+v; want %+v", got, want)
			}
		},
	}, {
		name: "env over file",
		env: env{
			"CARDSSO_ISSUER":               "https://env.example.gov.cn",
			"CARDSSO_STORAGE_DSN":          "postgres://env@db/cardsso",
			"CARDSSO_TOKENS_CODE_LIFETIME": "45s",
			"CARDSSO_KEYS_ALGORITHM":       "EdDSA",
			"CARDSSO_PASSWORD_THREADS":     "4",
			"CARDSSO_LOG_LEVEL":            "", // empty: unset
		},
		check: func(t *testing.T, c fileConfig) {
			if c.Issuer != "https://env.example.gov.cn" || storageDSN(&c) != "postgres://env@db/cardsso" ||
				c.Tokens.CodeLifetime != 45*time.Second || c.Keys.Algorithm != "EdDSA" || c.Password.Threads != 4 {
				t.Errorf("config = %+v; want the environment's values", c)
			}
			if c.Log.Level != "debug" {
				t.Errorf("log.level = %q; want the file's \"debug\" (an empty variable is unset)", c.Log.Level)
			}
			if c.Addr != "127.0.0.1:7000" {
				t.Errorf("addr = %q; want the file's", c.Addr)
			}
		},
	}, {
		name: "flags over env",
		env:  env{"CARDSSO_ADDR": "127.0.0.1:7001", "CARDSSO_DATA_DIR": "/env", "CARDSSO_ISSUER": "https://env.example.gov.cn"},
		flags: []flagSetting{
			{Path: "addr", Flag: "--addr", Value: "127.0.0.1:7002"},
			{Path: "data_dir", Flag: "--data-dir", Value: "/flag"},
			{Path: "issuer", Flag: "--issuer", Value: "http://127.0.0.1:7002"},
		},
		check: func(t *testing.T, c fileConfig) {
			if c.Addr != "127.0.0.1:7002" || c.DataDir != "/flag" || c.Issuer != "http://127.0.0.1:7002" {
				t.Errorf("addr, data_dir, issuer = %q, %q, %q; want the flags'", c.Addr, c.DataDir, c.Issuer)
			}
		},
	}, {
		name: "CARDSSO_CONFIG names the file",
		env:  env{"CARDSSO_CONFIG": file},
		check: func(t *testing.T, c fileConfig) {
			if c.Issuer != "https://file.example.gov.cn" {
				t.Errorf("issuer = %q; want the file's", c.Issuer)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := file
			if _, ok := tt.env[configFileEnv]; ok {
				path = ""
			}
			c, err := loadConfig(path, tt.env.lookup, tt.flags)
			if err != nil {
				t.Fatalf("loadConfig = %v; want nil", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v; want nil", err)
			}
			tt.check(t, c)
		})
	}
}

func TestIDPConfigPaths(t *testing.T) {
	c := defaultConfig()
	c.DataDir = "/srv/cardsso"
	c.MasterKey.File = "/etc/cardsso/master.key"
	got := c.idpConfig(nil)
	if dsn := storageDSN(&c); dsn != "/srv/cardsso/cardsso.db" {
		t.Errorf("storage.dsn = %q; want /srv/cardsso/cardsso.db", dsn)
	}
	if got.MasterKey.File != "/etc/cardsso/master.key" {
		t.Errorf("MasterKey.File = %q; want the configured file", got.MasterKey.File)
	}

	postgres(&c, "postgres://db/cardsso", time.Second)
	c.MasterKey = idp.MasterKeyConfig{Value: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
	got = c.idpConfig(nil)
	if dsn := storageDSN(&c); dsn != "postgres://db/cardsso" {
		t.Errorf("postgres storage.dsn = %q; want the configured URL", dsn)
	}
	if got.MasterKey.File != "" || got.MasterKey.Value != c.MasterKey.Value {
		t.Errorf("MasterKey = %+v; want only the configured value", got.MasterKey)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // the error contains this
	}{
		{"unknown top-level key", "isser: https://x\n", "config: isser: unknown key (want issuer, addr, data_dir,"},
		{"unknown nested key", "storage:\n  type: sqlite\n  tpye: sqlite\n", "config: storage.tpye: unknown key (want type, dsn, max_open_conns, max_idle_conns, conn_max_lifetime, conn_max_idle_time or query_timeout) (from "},
		{"unknown cardplatform key", "connector:\n  cardplatform:\n    tls:\n      ca: x\n", "config: connector.cardplatform.tls.ca: unknown key (want ca_file, cert_file or key_file)"},
		{"bool garbage", "connector:\n  cardplatform:\n    insecure_plain_http: maybe\n", `config: connector.cardplatform.insecure_plain_http: want true or false, got "maybe"`},
		{"retries garbage", "connector:\n  cardplatform:\n    retries: twice\n", `config: connector.cardplatform.retries: want a whole number, got "twice"`},
		{"unknown deep key", "connector:\n  simulator:\n    fixtures: x\n", "config: connector.simulator.fixtures: unknown key (want fixture, photo_dir, face_threshold or app_base_url)"},
		{"line number", "issuer: http://localhost:8080\n\nkeys:\n  algo: ES256\n", ".yaml:4)"},
		{"duration without unit", "tokens:\n  code_lifetime: 60\n", `config: tokens.code_lifetime: invalid duration "60"`},
		{"duration garbage", "session:\n  lifetime: forever\n", `config: session.lifetime: invalid duration "forever"`},
		{"number garbage", "password:\n  memory_kib: lots\n", `config: password.memory_kib: want a whole number, got "lots"`},
		{"number too big", "password:\n  threads: 300\n", `config: password.threads: want a whole number, got "300"`},
		{"list for a string", "issuer: [a, b]\n", "config: issuer: want a single value"},
		{"scalar for a section", "tokens: 5m\n", "config: tokens: want a mapping of keys"},
		{"two documents", "addr: 127.0.0.1:1\n---\naddr: 127.0.0.1:2\n", "config: more than one YAML document"},
		{"syntax", "issuer: [\n", "config: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "cardsso.yaml", tt.yaml)
			_, err := loadConfig(path, env{}.lookup, nil)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("loadConfig(%q) = %v; want a *configError", tt.yaml, err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("loadConfig(%q) = %q; want one line containing %q", tt.yaml, err, tt.want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), env{}.lookup, nil)
		if err == nil || !strings.Contains(err.Error(), "cannot read config file: no such file or directory") {
			t.Errorf("loadConfig(missing) = %v; want a cannot-read error", err)
		}
	})
	t.Run("empty file and nulls keep defaults", func(t *testing.T) {
		for _, y := range []string{"", "# nothing\n", "issuer:\nstorage:\n  dsn:\n"} {
			c, err := loadConfig(writeFile(t, "c.yaml", y), env{}.lookup, nil)
			if err != nil {
				t.Fatalf("loadConfig(%q) = %v; want nil", y, err)
			}
			if !reflect.DeepEqual(withoutSources(c), withoutSources(defaultConfig())) {
				t.Errorf("loadConfig(%q) = %+v; want the defaults", y, c)
			}
		}
	})
}

func TestLoadConfigEnvErrors(t *testing.T) {
	tests := []struct {
		env  env
		want string
	}{
		{env{"CARDSSO_TOKENS_CODE_LIFETIME": "60"}, `config: tokens.code_lifetime: invalid duration "60" (want a Go duration such as "90s", "15m" or "720h") (from CARDSSO_TOKENS_CODE_LIFETIME)`},
		{env{"CARDSSO_PASSWORD_THREADS": "256"}, `config: password.threads: want a whole number from 0 to 255, got "256" (from CARDSSO_PASSWORD_THREADS)`},
		{env{"CARDSSO_STORAGE_MAX_OPEN_CONNS": "-1"}, `config: storage.max_open_conns: must not be negative, got -1 (from CARDSSO_STORAGE_MAX_OPEN_CONNS)`},
		{env{"CARDSSO_STORAGE_MAX_OPEN_CONNS": "many"}, `config: storage.max_open_conns: want a whole number, got "many" (from CARDSSO_STORAGE_MAX_OPEN_CONNS)`},
		{env{"CARDSSO_STORAGE_CONN_MAX_IDLE_TIME": "5"}, `config: storage.conn_max_idle_time: invalid duration "5"`},
		{env{"CARDSSO_CHECKS_CARD_TTL": "1d"}, `config: checks.card_ttl: invalid duration "1d" (want a Go duration such as "90s", "15m" or "720h") (from CARDSSO_CHECKS_CARD_TTL)`},
		{env{"CARDSSO_CARDPLATFORM_RETRIES": "two"}, `config: connector.cardplatform.retries: want a whole number, got "two" (from CARDSSO_CARDPLATFORM_RETRIES)`},
		{env{"CARDSSO_CONNECTOR_TYPE": "cardplatform", "CARDSSO_CARDPLATFORM_URL": "https://cardplatform.example", "CARDSSO_CARDPLATFORM_CLIENT_ID": "cardsso",
			"CARDSSO_CARDPLATFORM_SECRET": strings.Repeat("s", 32), "CARDSSO_CARDPLATFORM_BREAKER_FAILURES": "-1"},
			`config: connector.cardplatform.breaker.failures: must not be negative, got -1 (from CARDSSO_CARDPLATFORM_BREAKER_FAILURES)`},
		{env{"CARDSSO_SIMULATOR_FACE_THRESHOLD": "high"}, `config: connector.simulator.face_threshold: want a number, got "high" (from CARDSSO_SIMULATOR_FACE_THRESHOLD)`},
		{env{"CARDSSO_SIMULATOR_FACE_THRESHOLD": "1.5"}, `config: connector.simulator.face_threshold: face threshold 1.5 is not above 0 and at most 1 (0 for the default, `},
		{env{"CARDSSO_CARDPLATFORM_INSECURE_PLAIN_HTTP": "yes"}, `config: connector.cardplatform.insecure_plain_http: want true or false, got "yes" (from CARDSSO_CARDPLATFORM_INSECURE_PLAIN_HTTP)`},
		{env{"CARDSSO_CARDPLATFORM_TIMEOUT": "5"}, `config: connector.cardplatform.timeout: invalid duration "5"`},
	}
	for _, tt := range tests {
		// A value that does not parse stops loadConfig; one out of range,
		// Validate (the component's own).
		c, err := loadConfig("", tt.env.lookup, nil)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(env %v) = %v; want %q", tt.env, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *fileConfig)
		want   string // "" for valid; else the error contains this
	}{
		{"https issuer with path", func(c *fileConfig) { c.Issuer = "https://sso.example.gov.cn/cardsso" }, ""},
		{"http on 127.0.0.1", func(c *fileConfig) { c.Issuer = "http://127.0.0.1:9999" }, ""},
		{"http on ::1", func(c *fileConfig) { c.Issuer = "http://[::1]:8080" }, ""},
		{"empty issuer", func(c *fileConfig) { c.Issuer = "" }, "config: issuer: \"\" is not an absolute URL"},
		{"relative issuer", func(c *fileConfig) { c.Issuer = "/sso" }, "config: issuer: \"/sso\" is not an absolute URL"},
		{"http issuer on a public host", func(c *fileConfig) { c.Issuer = "http://sso.example.gov.cn" }, "config: issuer: must use https (plain http is allowed only for localhost, 127.0.0.1 and ::1)"},
		{"ftp issuer", func(c *fileConfig) { c.Issuer = "ftp://sso.example.gov.cn" }, "config: issuer: scheme \"ftp\" not allowed"},
		{"issuer with query", func(c *fileConfig) { c.Issuer = "https://sso.example.gov.cn?a=1" }, "config: issuer: must not have a query"},
		{"issuer with fragment", func(c *fileConfig) { c.Issuer = "https://sso.example.gov.cn#x" }, "config: issuer: must not have a fragment"},
		{"issuer with user", func(c *fileConfig) { c.Issuer = "https://u:p@sso.example.gov.cn" }, "config: issuer: must not have user info"},
		{"issuer with trailing slash", func(c *fileConfig) { c.Issuer = "https://sso.example.gov.cn/" }, "config: issuer: must not end with \"/\""},

		{"addr all interfaces", func(c *fileConfig) { c.Addr = ":8080" }, ""},
		{"addr port 0", func(c *fileConfig) { c.Addr = "127.0.0.1:0" }, ""},
		{"addr without port", func(c *fileConfig) { c.Addr = "127.0.0.1" }, "config: addr: want host:port"},
		{"addr bad port", func(c *fileConfig) { c.Addr = "127.0.0.1:http" }, "config: addr: invalid port \"http\""},
		{"addr port too big", func(c *fileConfig) { c.Addr = "127.0.0.1:70000" }, "config: addr: invalid port \"70000\""},
		{"empty data_dir", func(c *fileConfig) { c.DataDir = "" }, "config: data_dir: must not be empty"},

		{"postgres", func(c *fileConfig) { postgres(c, "postgres://db/x", time.Second) }, ""},
		{"query timeout zero", func(c *fileConfig) { sqlite(c).QueryTimeout = 0 }, "config: storage.query_timeout: must be between 100ms and 5m, got 0s"},
		{"query timeout long", func(c *fileConfig) { sqlite(c).QueryTimeout = time.Hour }, "config: storage.query_timeout: must be between 100ms and 5m, got 1h0m0s"},
		{"postgres without dsn", func(c *fileConfig) { _ = c.Storage.choose("postgres") }, "config: storage.dsn: required when storage.type is postgres"},
		{"storage type", func(c *fileConfig) { _ = c.Storage.choose("mysql") }, "config: storage.type: unsupported \"mysql\" (want postgres or sqlite)"},
		{"max_open_conns", func(c *fileConfig) { sqlite(c).MaxOpenConns = -1 }, "config: storage.max_open_conns: must not be negative"},
		{"max_open_conns 1 on sqlite", func(c *fileConfig) { sqlite(c).MaxOpenConns = 1 }, "config: storage.max_open_conns: 1 is too few for sqlite"},
		{"max_open_conns 1 on postgres", func(c *fileConfig) { postgres(c, "postgres://db/x", time.Second).MaxOpenConns = 1 }, ""},
		{"max_idle_conns", func(c *fileConfig) { sqlite(c).MaxIdleConns = -1 }, "config: storage.max_idle_conns: must not be negative"},
		{"conn_max_lifetime", func(c *fileConfig) { sqlite(c).ConnMaxLifetime = -time.Second }, "config: storage.conn_max_lifetime: must not be negative"},
		{"conn_max_idle_time", func(c *fileConfig) { sqlite(c).ConnMaxIdleTime = -time.Second }, "config: storage.conn_max_idle_time: must not be negative, got -1s"},
		{"conn_max_idle_time set", func(c *fileConfig) { sqlite(c).ConnMaxIdleTime = 5 * time.Minute }, ""},

		{"master key value", func(c *fileConfig) { c.MasterKey.Value = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, ""},
		{"master key too short", func(c *fileConfig) { c.MasterKey.Value = "c2VjcmV0" }, "config: master_key.value: want base64 of exactly 32 bytes"},
		{"master key not base64", func(c *fileConfig) { c.MasterKey.Value = "not base64!" }, "config: master_key.value: want base64 of exactly 32 bytes"},

		{"connector type", func(c *fileConfig) { c.Connector.Type = "ldap" }, "config: connector.type: unsupported \"ldap\" (want cardplatform or simulator)"},
		{"cardplatform", cardPlatform(nil), ""},
		{"cardplatform block ignored by the simulator", func(c *fileConfig) { cp(c).Retries = -5 }, ""},
		{"cardplatform secret_file", cardPlatform(func(cp *cardplatform.Config) { cp.Secret, cp.SecretFile = "", "/run/secrets/cardplatform" }), ""},
		{"cardplatform every key", cardPlatform(func(cp *cardplatform.Config) {
			cp.URL = "https://cardplatform.example:8443/api/"
			cp.Timeout, cp.Retries, cp.RetryBackoff, cp.Skew = 3*time.Second, 10, time.Second, time.Minute
			cp.TLS = cardplatform.TLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
			cp.Breaker = cardplatform.BreakerConfig{Failures: 3, OpenFor: time.Minute, HalfOpenRequests: 1000}
		}), ""},
		{"cardplatform no retries", cardPlatform(func(cp *cardplatform.Config) { cp.Retries = -1 }), ""},
		{"cardplatform http allowed", cardPlatform(func(cp *cardplatform.Config) { cp.URL, cp.InsecurePlainHTTP = "http://127.0.0.1:8080", true }), ""},
		{"cardplatform url missing", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "" }), "config: connector.cardplatform.url: is required (an https URL such as https://cardplatform.example:8443)"},
		{"cardplatform url relative", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "/v1" }), `config: connector.cardplatform.url: "/v1" is not an absolute URL`},
		{"cardplatform url without host", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "https:cardplatform" }), `config: connector.cardplatform.url: "https:cardplatform" is not an absolute URL`},
		{"cardplatform url ftp", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "ftp://cardplatform.example" }), `config: connector.cardplatform.url: scheme "ftp" not allowed (want https)`},
		{"cardplatform url http", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "http://cardplatform.example" }), `config: connector.cardplatform.url: must use https, got "http://cardplatform.example" (plain http needs insecure_plain_http: true`},
		{"cardplatform url query", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "https://cardplatform.example?x=1" }), "config: connector.cardplatform.url: must not have a query or a fragment"},
		{"cardplatform url fragment", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "https://cardplatform.example#x" }), "config: connector.cardplatform.url: must not have a query or a fragment"},
		{"cardplatform url user", cardPlatform(func(cp *cardplatform.Config) { cp.URL = "https://u:p@cardplatform.example" }), "config: connector.cardplatform.url: must not have user info"},
		{"cardplatform client_id missing", cardPlatform(func(cp *cardplatform.Config) { cp.ClientID = "" }), "config: connector.cardplatform.client_id: is required"},
		{"cardplatform client_id space", cardPlatform(func(cp *cardplatform.Config) { cp.ClientID = "card sso" }), "config: connector.cardplatform.client_id: want 1 to 128 printable ASCII characters without spaces"},
		{"cardplatform client_id long", cardPlatform(func(cp *cardplatform.Config) { cp.ClientID = strings.Repeat("c", 129) }), "config: connector.cardplatform.client_id: want 1 to 128"},
		{"cardplatform no secret", cardPlatform(func(cp *cardplatform.Config) { cp.Secret = "" }), "config: connector.cardplatform.secret: is required (set secret or secret_file)"},
		{"cardplatform both secrets", cardPlatform(func(cp *cardplatform.Config) { cp.SecretFile = "/run/secrets/cardplatform" }), "config: connector.cardplatform.secret: set secret or secret_file, not both"},
		{"cardplatform short secret", cardPlatform(func(cp *cardplatform.Config) { cp.Secret = strings.Repeat("s", 31) }), "config: connector.cardplatform.secret: at least 32 bytes"},
		{"cardplatform 32-byte secret", cardPlatform(func(cp *cardplatform.Config) { cp.Secret = strings.Repeat("s", 32) }), ""},
		{"cardplatform timeout", cardPlatform(func(cp *cardplatform.Config) { cp.Timeout = -time.Second }), "config: connector.cardplatform.timeout: must not be negative, got -1s"},
		{"cardplatform retries -2", cardPlatform(func(cp *cardplatform.Config) { cp.Retries = -2 }), "config: connector.cardplatform.retries: want -1 (no retries), 0 (the default, 2) or 1 to 10, got -2"},
		{"cardplatform retries 11", cardPlatform(func(cp *cardplatform.Config) { cp.Retries = 11 }), "config: connector.cardplatform.retries: at most 10, got 11"},
		{"cardplatform retry_backoff", cardPlatform(func(cp *cardplatform.Config) { cp.RetryBackoff = -time.Millisecond }), "config: connector.cardplatform.retry_backoff: must not be negative"},
		{"cardplatform skew", cardPlatform(func(cp *cardplatform.Config) { cp.Skew = -time.Minute }), "config: connector.cardplatform.skew: must not be negative"},
		{"cardplatform cert without key", cardPlatform(func(cp *cardplatform.Config) { cp.TLS.CertFile = "c.pem" }), "config: connector.cardplatform.tls.key_file: required with tls.cert_file (set both or neither)"},
		{"cardplatform key without cert", cardPlatform(func(cp *cardplatform.Config) { cp.TLS.KeyFile = "k.pem" }), "config: connector.cardplatform.tls.cert_file: required with tls.key_file (set both or neither)"},
		{"cardplatform tls over http", cardPlatform(func(cp *cardplatform.Config) {
			cp.URL, cp.InsecurePlainHTTP, cp.TLS.CAFile = "http://127.0.0.1:8080", true, "ca.pem"
		}), "config: connector.cardplatform.tls: set, but url is plain http"},
		{"cardplatform breaker failures", cardPlatform(func(cp *cardplatform.Config) { cp.Breaker.Failures = -1 }), "config: connector.cardplatform.breaker.failures: must not be negative, got -1"},
		{"cardplatform breaker open_for", cardPlatform(func(cp *cardplatform.Config) { cp.Breaker.OpenFor = -time.Second }), "config: connector.cardplatform.breaker.open_for: must not be negative"},
		{"cardplatform breaker half_open_requests", cardPlatform(func(cp *cardplatform.Config) { cp.Breaker.HalfOpenRequests = -1 }), "config: connector.cardplatform.breaker.half_open_requests: want 0 (the default, 1) to 1000, got -1"},
		{"cardplatform breaker half_open_requests big", cardPlatform(func(cp *cardplatform.Config) { cp.Breaker.HalfOpenRequests = 1001 }), "config: connector.cardplatform.breaker.half_open_requests: want 0 (the default, 1) to 1000, got 1001"},

		{"access_token_lifetime", func(c *fileConfig) { c.Tokens.AccessTokenLifetime = 0 }, "config: tokens.access_token_lifetime: must be a positive duration, got 0s"},
		{"id_token_lifetime", func(c *fileConfig) { c.Tokens.IDTokenLifetime = -time.Minute }, "config: tokens.id_token_lifetime: must be a positive duration"},
		{"refresh_token_lifetime", func(c *fileConfig) { c.Tokens.RefreshTokenLifetime = 0 }, "config: tokens.refresh_token_lifetime: must be a positive duration"},
		{"auth_request_lifetime", func(c *fileConfig) { c.Tokens.AuthRequestLifetime = 0 }, "config: tokens.auth_request_lifetime: must be a positive duration"},
		{"code_lifetime", func(c *fileConfig) { c.Tokens.CodeLifetime = 0 }, "config: tokens.code_lifetime: must be a positive duration"},
		{"session lifetime", func(c *fileConfig) { c.Session.Lifetime = 0 }, "config: session.lifetime: must be a positive duration"},
		{"session idle_timeout", func(c *fileConfig) { c.Session.IdleTimeout = 0 }, "config: session.idle_timeout: must be a positive duration"},
		{"cookie name empty", func(c *fileConfig) { c.Session.CookieName = "" }, "config: session.cookie_name: invalid cookie name \"\""},
		{"cookie name with space", func(c *fileConfig) { c.Session.CookieName = "my session" }, "config: session.cookie_name: invalid cookie name"},
		{"cookie name with prefix", func(c *fileConfig) { c.Session.CookieName = "__Host-cardsso" }, ""},

		{"RS256", func(c *fileConfig) { c.Keys.Algorithm = "RS256" }, ""},
		{"EdDSA", func(c *fileConfig) { c.Keys.Algorithm = "EdDSA" }, ""},
		{"HS256", func(c *fileConfig) { c.Keys.Algorithm = "HS256" }, `config: keys.algorithm: unsupported "HS256" (want ES256, RS256 or EdDSA)`},
		{"lowercase es256", func(c *fileConfig) { c.Keys.Algorithm = "es256" }, `config: keys.algorithm: unsupported "es256"`},
		{"rotation_period", func(c *fileConfig) { c.Keys.RotationPeriod = 0 }, "config: keys.rotation_period: must be a positive duration"},
		{"refresh_interval", func(c *fileConfig) { c.Keys.RefreshInterval = 0 }, "config: keys.refresh_interval: must be a positive duration"},

		{"stronger password cost", func(c *fileConfig) { c.Password = idp.PasswordConfig{MemoryKiB: 65536, Time: 3, Threads: 4} }, ""},
		{"memory_kib", func(c *fileConfig) { c.Password.MemoryKiB = 19455 }, "config: password.memory_kib: 19455 is weaker than the minimum 19456"},
		{"time", func(c *fileConfig) { c.Password.Time = 1 }, "config: password.time: 1 is weaker than the minimum 2"},
		{"threads", func(c *fileConfig) { c.Password.Threads = 0 }, "config: password.threads: 0 is weaker than the minimum 1"},

		{"card_ttl", func(c *fileConfig) { c.Checks.CardTTL = time.Hour }, ""},
		{"card_ttl zero", func(c *fileConfig) { c.Checks.CardTTL = 0 }, "config: checks.card_ttl: must be a positive duration, got 0s"},
		{"card_ttl negative", func(c *fileConfig) { c.Checks.CardTTL = -time.Hour }, "config: checks.card_ttl: must be a positive duration"},

		{"saml aliases off", func(c *fileConfig) { c.SAML.ACRAliases = samlACRAliases{LoA1: "none", LoA2: "none", LoA3: "none"} }, ""},
		{"saml alias not a URI", func(c *fileConfig) { c.SAML.ACRAliases.LoA3 = "substantial" }, `config: saml.acr_aliases.loa3: "substantial" is not an absolute URI (or "none" for no alias)`},
		{"saml alias of our own", func(c *fileConfig) { c.SAML.ACRAliases.LoA1 = "urn:cardsso:loa:2" }, "config: saml.acr_aliases.loa1: \"urn:cardsso:loa:2\" is one of CardSSO's own level names"},
		{"saml assertion lifetime zero", func(c *fileConfig) { c.SAML.AssertionLifetime = 0 }, "config: saml.assertion_lifetime: must be a positive duration, got 0s"},
		{"saml assertion lifetime long", func(c *fileConfig) { c.SAML.AssertionLifetime = 2 * time.Hour }, "config: saml.assertion_lifetime: 2h0m0s is longer than an hour"},
		{"saml rotation shorter than metadata", func(c *fileConfig) { c.SAML.KeyRotationPeriod = 720 * time.Hour }, "config: saml.key_rotation_period: 720h0m0s is shorter than saml.metadata_validity 8760h0m0s"},
		{"backchannel attempts zero", func(c *fileConfig) { c.Logout.BackchannelAttempts = 0 }, "config: logout.backchannel_attempts: want 1 to 10, got 0"},
		{"backchannel timeout zero", func(c *fileConfig) { c.Logout.BackchannelTimeout = 0 }, "config: logout.backchannel_timeout: must be a positive duration"},

		{"log level", func(c *fileConfig) { c.Log.Level = "trace" }, `config: log.level: unsupported "trace" (want debug, info, warn or error)`},
		{"log format", func(c *fileConfig) { c.Log.Format = "logfmt" }, `config: log.format: unsupported "logfmt" (want json or text)`},
		{"text logs", func(c *fileConfig) { c.Log = logConfig{Level: "warn", Format: "text"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			var ce *configError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want a *configError containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateNamesTheSource(t *testing.T) {
	c, err := loadConfig("", env{"CARDSSO_KEYS_ALGORITHM": "HS256"}.lookup, []flagSetting{{Path: "addr", Flag: "--addr", Value: "nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if want := `config: addr: want host:port (e.g. 127.0.0.1:8080 or :8080), got "nowhere" (from --addr)`; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
	c.Addr = "127.0.0.1:1"
	err = c.Validate()
	if want := `config: keys.algorithm: unsupported "HS256" (want ES256, RS256 or EdDSA) (from CARDSSO_KEYS_ALGORITHM)`; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
}

func TestMasterKeyNeverEchoed(t *testing.T) {
	const key = "not-a-real-key-but-secret-all-the-same"
	c, err := loadConfig("", env{"CARDSSO_MASTER_KEY": key}.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("Validate() = %v; want an error that does not contain the key", err)
	}
}

// cardPlatform returns a TestValidate modifier: the cardplatform connector
// with a valid minimal block, then changed by f.
func cardPlatform(f func(cp *cardplatform.Config)) func(c *fileConfig) {
	return func(c *fileConfig) {
		c.Connector.Type = "cardplatform"
		*cp(c) = cardplatform.Config{
			URL:      "https://cardplatform.example:8443",
			ClientID: "cardsso",
			Secret:   "0123456789abcdef0123456789abcdef",
		}
		if f != nil {
			f(cp(c))
		}
	}
}

func TestCardPlatformSecretNeverEchoed(t *testing.T) {
	const secret = "short-but-secret-all-the-same"
	c, err := loadConfig("", env{
		"CARDSSO_CONNECTOR_TYPE":         "cardplatform",
		"CARDSSO_CARDPLATFORM_URL":       "https://cardplatform.example",
		"CARDSSO_CARDPLATFORM_CLIENT_ID": "cardsso",
		"CARDSSO_CARDPLATFORM_SECRET":    secret,
	}.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	want := "config: connector.cardplatform.secret: at least 32 bytes (make one with: head -c 32 /dev/urandom | base64) (from CARDSSO_CARDPLATFORM_SECRET)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("Validate() = %v; it contains the secret", err)
	}

	// A password in the URL is not echoed either.
	cp(&c).Secret = strings.Repeat(secret, 2)
	cp(&c).URL = "http://cardsso:hunter2hunter2@cardplatform.example"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v; want an error without the URL's password", err)
	}
}

// Every connector.cardplatform key comes from the environment, retries -1
// included, and reaches idp.Config.
func TestCardPlatformFromEnv(t *testing.T) {
	c, err := loadConfig("", env{
		"CARDSSO_CONNECTOR_TYPE":                          "cardplatform",
		"CARDSSO_CARDPLATFORM_URL":                        "http://127.0.0.1:8443",
		"CARDSSO_CARDPLATFORM_CLIENT_ID":                  "cardsso-env",
		"CARDSSO_CARDPLATFORM_SECRET_FILE":                "/run/secrets/cardplatform",
		"CARDSSO_CARDPLATFORM_TIMEOUT":                    "3s",
		"CARDSSO_CARDPLATFORM_RETRIES":                    "-1",
		"CARDSSO_CARDPLATFORM_RETRY_BACKOFF":              "250ms",
		"CARDSSO_CARDPLATFORM_SKEW":                       "1m",
		"CARDSSO_CARDPLATFORM_BREAKER_FAILURES":           "7",
		"CARDSSO_CARDPLATFORM_BREAKER_OPEN_FOR":           "45s",
		"CARDSSO_CARDPLATFORM_BREAKER_HALF_OPEN_REQUESTS": "2",
		"CARDSSO_CARDPLATFORM_INSECURE_PLAIN_HTTP":        "true",
		"CARDSSO_STORAGE_CONN_MAX_IDLE_TIME":              "5m",
		"CARDSSO_CHECKS_CARD_TTL":                         "6h",
	}.lookup, nil)
	if err != nil {
		t.Fatalf("loadConfig = %v; want nil", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	got := c.idpConfig(nil)
	want := cardplatform.Config{
		URL: "http://127.0.0.1:8443", ClientID: "cardsso-env", SecretFile: "/run/secrets/cardplatform",
		Timeout: 3 * time.Second, Retries: -1, RetryBackoff: 250 * time.Millisecond, Skew: time.Minute,
		Breaker:           cardplatform.BreakerConfig{Failures: 7, OpenFor: 45 * time.Second, HalfOpenRequests: 2},
		InsecurePlainHTTP: true,
	}
	if c.Connector.Type != "cardplatform" || !reflect.DeepEqual(*cp(&c), want) {
		t.Errorf("connector = %s %+v; want type cardplatform and %+v", c.Connector.Type, *cp(&c), want)
	}
	if d := sqlite(&c).ConnMaxIdleTime; d != 5*time.Minute {
		t.Errorf("storage.conn_max_idle_time = %s; want 5m", d)
	}
	if got.Checks.CardTTL != 6*time.Hour {
		t.Errorf("Checks.CardTTL = %s; want 6h", got.Checks.CardTTL)
	}

	c, err = loadConfig("", env{
		"CARDSSO_CARDPLATFORM_TLS_CA_FILE":   "ca.pem",
		"CARDSSO_CARDPLATFORM_TLS_CERT_FILE": "client.pem",
		"CARDSSO_CARDPLATFORM_TLS_KEY_FILE":  "client-key.pem",
	}.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tls := cp(&c).TLS; tls.CAFile != "ca.pem" || tls.CertFile != "client.pem" || tls.KeyFile != "client-key.pem" {
		t.Errorf("TLS files = %q, %q, %q; want the environment's", tls.CAFile, tls.CertFile, tls.KeyFile)
	}
}

// The networked connector's sample decodes, validates and changes only the
// connector; its comments name every environment variable of the block.
func TestCardPlatformSample(t *testing.T) {
	const sample = "../../examples/config/cardplatform.yaml"
	c, err := loadConfig(sample, env{}.lookup, nil)
	if err != nil {
		t.Fatalf("loadConfig(%s) = %v; want nil", sample, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("%s: Validate() = %v; want nil", sample, err)
	}
	want := defaultConfig()
	want.Connector.Type = "cardplatform"
	*cp(&want) = cardplatform.Config{
		URL:          "https://127.0.0.1:8443",
		ClientID:     "cardsso-demo",
		Secret:       "cardsso-demo-secret-not-for-production-0123",
		Timeout:      5 * time.Second,
		Retries:      2,
		RetryBackoff: 100 * time.Millisecond,
		Skew:         5 * time.Minute,
		TLS:          cardplatform.TLSConfig{CAFile: "./data/cardplatform/ca.pem"},
		Breaker:      cardplatform.BreakerConfig{Failures: 5, OpenFor: 30 * time.Second, HalfOpenRequests: 1},
	}
	if got := withoutSources(c); !reflect.DeepEqual(got, withoutSources(want)) {
		t.Errorf("%s =\n%+v\nwant\n%+v", sample, got, want)
	}
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if strings.HasPrefix(s.Path, "connector.cardplatform.") || s.Path == "connector.type" {
			if !strings.Contains(string(data), s.Env) {
				t.Errorf("%s does not mention %s (%s)", sample, s.Env, s.Path)
			}
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b strings.Builder
	c := defaultConfig()
	c.newLogger(&b).Debug("hidden")
	c.newLogger(&b).Info("shown", "k", "v")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown","k":"v"`) {
		t.Errorf("JSON logger at info wrote %q; want only the info line, as JSON", got)
	}
	b.Reset()
	c.Log = logConfig{Level: "debug", Format: "text"}
	c.newLogger(&b).Debug("shown")
	if got := b.String(); !strings.Contains(got, "level=DEBUG msg=shown") {
		t.Errorf("text logger at debug wrote %q; want a text debug line", got)
	}
}

func TestPostgresDSNSelectsPostgres(t *testing.T) {
	env := map[string]string{"CARDSSO_STORAGE_DSN": "postgres://cardsso@db:5432/cardsso"}
	c, err := loadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Type != "postgres" || c.Validate() != nil {
		t.Errorf("CARDSSO_STORAGE_DSN=postgres://... gives storage.type %q (Validate %v); want postgres", c.Storage.Type, c.Validate())
	}
	env["CARDSSO_STORAGE_TYPE"] = "sqlite"
	c, err = loadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "storage.dsn") {
		t.Errorf("sqlite with a PostgreSQL URL: Validate() = %v; want an error naming storage.dsn", err)
	}
}

// TestSimulatorAppAPIBelowIssuer: the simulator's e-card app API is where
// the node serves it (<issuer>/ecard-sim) unless app_base_url says
// otherwise, so that the QR codes a node shows point at itself.
func TestSimulatorAppAPIBelowIssuer(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CARDSSO_ISSUER": "https://sso.example.gov.cn"}, "https://sso.example.gov.cn/ecard-sim/v1/tickets/"},
		{map[string]string{"CARDSSO_ISSUER": "https://sso.example.gov.cn", "CARDSSO_SIMULATOR_APP_BASE_URL": "https://app.example.gov.cn/api"}, "https://app.example.gov.cn/api/v1/tickets/"},
	} {
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		fc, err := loadConfig("", lookup, nil)
		if err == nil {
			err = fc.Validate()
		}
		if err != nil {
			t.Fatal(err)
		}
		checks, err := fc.openChecks(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		tickets, ok := checks.(connectors.LoginTickets)
		if !ok {
			t.Fatal("the simulator offers no login tickets")
		}
		ticket, err := tickets.CreateLoginTicket(context.Background(), connectors.TicketRequest{Portal: "Demo", ClientID: "demo"})
		if err != nil || !strings.HasPrefix(ticket.Payload, tc.want) {
			t.Errorf("%v: payload %q, %v; want it below %s", tc.env, ticket.Payload, err, tc.want)
		}
	}
}
