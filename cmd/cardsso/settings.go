package main

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// setting is one configuration value that an environment variable (and
// possibly a flag) can set.
type setting struct {
	Path string // YAML path
	Env  string // environment variable
}

// settings is the table of every key, in the order of the schema: the
// node's own keys, storage.type and the keys of every storage flavour,
// connector.type and the keys of every connector. It is made from the
// structs' yaml tags, so a key a component adds is in it (and must be in the
// README, which lists the same table: TestREADMEListsEverySetting).
//
// The environment variable is CARDSSO_ followed by the YAML path in upper
// case with "." and "_" both written "_", except CARDSSO_MASTER_KEY
// (master_key.value) and, for a connector's keys, CARDSSO_<TYPE>_ and the
// path after "connector.<type>." (CARDSSO_SIMULATOR_FIXTURE for
// connector.simulator.fixture, CARDSSO_CARDPLATFORM_TLS_CA_FILE for
// connector.cardplatform.tls.ca_file).
func settings() []setting {
	var out []setting
	add := func(p string) {
		if !slices.ContainsFunc(out, func(s setting) bool { return s.Path == p }) {
			out = append(out, setting{Path: p, Env: envName(p)})
		}
	}
	t := reflect.TypeFor[fileConfig]()
	for i := range t.NumField() {
		f := t.Field(i)
		key := yamlKey(f)
		switch {
		case key == "":
		case f.Type == reflect.TypeFor[storageSection]():
			add("storage.type")
			fl := storages()
			for _, name := range names(fl) {
				for _, p := range leafPaths(reflect.TypeOf(fl[name]()).Elem(), "storage") {
					add(p)
				}
			}
		case f.Type == reflect.TypeFor[connectorSection]():
			add("connector.type")
			ct := connectorTypes()
			for _, name := range names(ct) {
				for _, p := range leafPaths(reflect.TypeOf(ct[name].config()).Elem(), "connector."+name) {
					add(p)
				}
			}
		default:
			for _, p := range leafPaths(f.Type, key) {
				add(p)
			}
		}
	}
	return out
}

// yamlKey is a struct field's YAML key, or "" when it has none.
func yamlKey(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	return tag
}

// leafPaths lists the YAML paths of the values of t (a struct) under prefix.
func leafPaths(t reflect.Type, prefix string) []string {
	if t.Kind() != reflect.Struct || t == durationType {
		return []string{prefix}
	}
	var out []string
	for i := range t.NumField() {
		if key := yamlKey(t.Field(i)); key != "" {
			out = append(out, leafPaths(t.Field(i).Type, joinPath(prefix, key))...)
		}
	}
	return out
}

// envName is the environment variable of a YAML path (see settings).
func envName(path string) string {
	if path == "master_key.value" {
		return "CARDSSO_MASTER_KEY"
	}
	if rest, ok := strings.CutPrefix(path, "connector."); ok && rest != "type" {
		path = rest
	}
	return "CARDSSO_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// set parses v as the value at path, as an environment variable or a flag
// gives it. storage.type chooses the flavour anew (its defaults, then the
// file's keys).
func (c *fileConfig) set(path, v string) error {
	if path == "storage.type" {
		return c.Storage.choose(v)
	}
	f, ok := c.field(path)
	if !ok {
		return fmt.Errorf("no such key in the configuration of storage.type %q", c.Storage.Type)
	}
	return parseInto(f, v)
}

// field finds the value at a YAML path.
func (c *fileConfig) field(path string) (reflect.Value, bool) {
	v := reflect.ValueOf(c).Elem()
	for _, key := range strings.Split(path, ".") {
		switch v.Type() {
		case reflect.TypeFor[storageSection]():
			s := v.Addr().Interface().(*storageSection)
			if key == "type" {
				v = reflect.ValueOf(&s.Type).Elem()
				continue
			}
			if s.Flavour == nil {
				return reflect.Value{}, false
			}
			v = reflect.ValueOf(s.Flavour).Elem()
		case reflect.TypeFor[connectorSection]():
			s := v.Addr().Interface().(*connectorSection)
			if key == "type" {
				v = reflect.ValueOf(&s.Type).Elem()
			} else if cfg, ok := s.Configs[key]; ok {
				v = reflect.ValueOf(cfg).Elem()
			} else {
				return reflect.Value{}, false
			}
			continue
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		found := false
		for i := range v.NumField() {
			if yamlKey(v.Type().Field(i)) == key {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// parseInto parses s into f by f's type: the same parser for every
// environment variable and flag.
func parseInto(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		f.SetBool(b)
	case f.Kind() >= reflect.Int && f.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, min(f.Type().Bits(), 32))
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", s)
		}
		f.SetInt(n)
	case f.Kind() >= reflect.Uint && f.Kind() <= reflect.Uint64:
		bits := f.Type().Bits()
		n, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return fmt.Errorf("want a whole number from 0 to %d, got %q", uint64(1)<<bits-1, s)
		}
		f.SetUint(n)
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		f.SetFloat(x)
	case f.Type() == reflect.TypeFor[[]string]():
		out := []string{}
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
		f.Set(reflect.ValueOf(out))
	default:
		panic("cardsso: no parser for a setting of type " + f.Type().String())
	}
	return nil
}

// parseDuration parses a Go duration string ("15m", "1h30m").
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a Go duration such as \"90s\", \"15m\" or \"720h\")", v)
	}
	return d, nil
}

// settingsHelp is the table of settings for `cardsso serve --help`: each
// key, its environment variable and its default.
func settingsHelp() string {
	d := defaultConfig()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, s := range settings() {
		def := ""
		if f, ok := d.field(s.Path); ok {
			def = formatValue(f)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", s.Path, s.Env, def)
	}
	_ = w.Flush()
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func formatValue(f reflect.Value) string {
	switch {
	case f.Type() == durationType:
		d := time.Duration(f.Int()).String() // 720h0m0s: 720h
		if strings.HasSuffix(d, "m0s") {
			d = strings.TrimSuffix(d, "0s")
		}
		if strings.HasSuffix(d, "h0m") {
			d = strings.TrimSuffix(d, "0m")
		}
		return d
	case f.Kind() == reflect.Slice:
		return strings.Join(f.Interface().([]string), ",")
	case f.Kind() == reflect.String && f.String() == "":
		return ""
	}
	return fmt.Sprint(f.Interface())
}
