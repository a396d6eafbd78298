package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/idp"
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
	return c
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
		Issuer:    "http://localhost:8080",
		Addr:      "127.0.0.1:8080",
		DataDir:   "./data",
		Storage:   idp.StorageConfig{Type: "sqlite", DSN: filepath.Join("data", "cardsso.db")},
		MasterKey: idp.MasterKeyConfig{File: filepath.Join("data", "master.key")},
		Connector: idp.ConnectorConfig{Type: "simulator"},
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
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("idpConfig(defaults) =\n%+v\nwant\n%+v", got, want)
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

// yamlPaths lists the YAML paths of every leaf value of t.
func yamlPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || !f.IsExported() {
			continue
		}
		p := joinPath(prefix, tag)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			paths = append(paths, yamlPaths(f.Type, p)...)
		} else {
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
		switch s.Path {
		case "master_key.value":
			want = "CARDSSO_MASTER_KEY"
		case "connector.simulator.fixture":
			want = "CARDSSO_SIMULATOR_FIXTURE"
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
			want.Storage = storageConfig{Type: "postgres", DSN: "postgres://file@db/cardsso", MaxOpenConns: 20}
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
			if c.Issuer != "https://env.example.gov.cn" || c.Storage.DSN != "postgres://env@db/cardsso" ||
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
	if got.Storage.DSN != "/srv/cardsso/cardsso.db" {
		t.Errorf("Storage.DSN = %q; want /srv/cardsso/cardsso.db", got.Storage.DSN)
	}
	if got.MasterKey.File != "/etc/cardsso/master.key" {
		t.Errorf("MasterKey.File = %q; want the configured file", got.MasterKey.File)
	}

	c.Storage = storageConfig{Type: "postgres", DSN: "postgres://db/cardsso"}
	c.MasterKey = masterKeyConfig{Value: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
	got = c.idpConfig(nil)
	if got.Storage.DSN != "postgres://db/cardsso" {
		t.Errorf("postgres Storage.DSN = %q; want the configured URL", got.Storage.DSN)
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
		{"unknown nested key", "storage:\n  type: sqlite\n  tpye: sqlite\n", "config: storage.tpye: unknown key (want type, dsn, max_open_conns, max_idle_conns or conn_max_lifetime) (from "},
		{"unknown deep key", "connector:\n  simulator:\n    fixtures: x\n", "config: connector.simulator.fixtures: unknown key (want fixture)"},
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
		{env{"CARDSSO_STORAGE_MAX_OPEN_CONNS": "-1"}, `config: storage.max_open_conns: want a whole number`},
	}
	for _, tt := range tests {
		_, err := loadConfig("", tt.env.lookup, nil)
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

		{"postgres", func(c *fileConfig) { c.Storage = storageConfig{Type: "postgres", DSN: "postgres://db/x"} }, ""},
		{"postgres without dsn", func(c *fileConfig) { c.Storage.Type = "postgres" }, "config: storage.dsn: required when storage.type is postgres"},
		{"storage type", func(c *fileConfig) { c.Storage.Type = "mysql" }, "config: storage.type: unsupported \"mysql\" (want sqlite or postgres)"},
		{"max_open_conns", func(c *fileConfig) { c.Storage.MaxOpenConns = -1 }, "config: storage.max_open_conns: must not be negative"},
		{"max_open_conns 1 on sqlite", func(c *fileConfig) { c.Storage.MaxOpenConns = 1 }, "config: storage.max_open_conns: 1 is too few for sqlite"},
		{"max_open_conns 1 on postgres", func(c *fileConfig) {
			c.Storage = storageConfig{Type: "postgres", DSN: "postgres://db/x", MaxOpenConns: 1}
		}, ""},
		{"max_idle_conns", func(c *fileConfig) { c.Storage.MaxIdleConns = -1 }, "config: storage.max_idle_conns: must not be negative"},
		{"conn_max_lifetime", func(c *fileConfig) { c.Storage.ConnMaxLifetime = -time.Second }, "config: storage.conn_max_lifetime: must not be negative"},

		{"master key value", func(c *fileConfig) { c.MasterKey.Value = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, ""},
		{"master key too short", func(c *fileConfig) { c.MasterKey.Value = "c2VjcmV0" }, "config: master_key.value: want base64 of exactly 32 bytes"},
		{"master key not base64", func(c *fileConfig) { c.MasterKey.Value = "not base64!" }, "config: master_key.value: want base64 of exactly 32 bytes"},

		{"connector type", func(c *fileConfig) { c.Connector.Type = "cardplatform" }, "config: connector.type: unsupported \"cardplatform\" (want simulator)"},

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

		{"stronger password cost", func(c *fileConfig) { c.Password = passwordConfig{MemoryKiB: 65536, Time: 3, Threads: 4} }, ""},
		{"memory_kib", func(c *fileConfig) { c.Password.MemoryKiB = 19455 }, "config: password.memory_kib: 19455 is weaker than the minimum 19456"},
		{"time", func(c *fileConfig) { c.Password.Time = 1 }, "config: password.time: 1 is weaker than the minimum 2"},
		{"threads", func(c *fileConfig) { c.Password.Threads = 0 }, "config: password.threads: 0 is weaker than the minimum 1"},

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
