package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/storage/sqlstore"
)

// configFileEnv names the config file when --config is not given.
const configFileEnv = "CARDSSO_CONFIG"

// flagSetting is a flag that overrides one YAML path.
type flagSetting struct {
	Path  string // YAML path, e.g. "addr"
	Flag  string // "--addr"
	Value string
}

// loadConfig builds the configuration: defaults, then the YAML file (path, or
// $CARDSSO_CONFIG when path is empty; none when both are empty), then the
// CARDSSO_* variables found by lookupEnv, then the flags. It does not
// validate: call Validate.
//
// A PostgreSQL URL as the DSN selects the postgres flavour unless an
// environment variable or flag chose the type (CARDSSO_STORAGE_DSN alone is
// enough to point a node at PostgreSQL).
func loadConfig(path string, lookupEnv func(string) (string, bool), flags []flagSetting) (fileConfig, error) {
	if path == "" {
		if v, ok := lookupEnv(configFileEnv); ok {
			path = v
		}
	}
	c, err := assemble(path, lookupEnv, flags, "")
	if err != nil || c.Storage.Type != "sqlite" || c.sources["storage.type"] != "" {
		return c, err
	}
	if dsn, ok := c.field("storage.dsn"); ok && sqlstore.IsPostgresURL(dsn.String()) {
		return assemble(path, lookupEnv, flags, "postgres")
	}
	return c, nil
}

// assemble is loadConfig with the storage type forced to storageType
// (unless empty) after the file and before the environment.
func assemble(path string, lookupEnv func(string) (string, bool), flags []flagSetting, storageType string) (fileConfig, error) {
	c := defaultConfig()
	c.sources = map[string]string{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, &configError{Reason: fmt.Sprintf("cannot read config file: %v", unwrapPathError(err)), Source: path}
		}
		if err := decodeYAML(data, path, &c); err != nil {
			return c, err
		}
	}
	if storageType != "" {
		_ = c.Storage.choose(storageType)
	}
	type value struct{ path, source, v string }
	var values []value
	all := settings()
	known := map[string]bool{}
	for _, s := range all {
		known[s.Path] = true
		if v, ok := lookupEnv(s.Env); ok && v != "" {
			values = append(values, value{s.Path, s.Env, v})
		}
	}
	for _, f := range flags {
		if !known[f.Path] {
			panic("cardsso: flag " + f.Flag + " overrides unknown config path " + f.Path)
		}
		values = append(values, value{f.Path, f.Flag, f.Value})
	}
	// The type first: a flavour chosen from the environment takes the
	// other storage variables.
	for _, first := range []bool{true, false} {
		for _, v := range values {
			if (v.path == "storage.type") != first {
				continue
			}
			c.sources[v.path] = v.source
			if err := c.set(v.path, v.v); err != nil {
				return c, c.invalid(v.path, "%v", err)
			}
		}
	}
	return c, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// decodeYAML decodes one YAML document over c, rejecting unknown keys. Its
// errors name the offending key by its YAML path and line.
func decodeYAML(data []byte, file string, c *fileConfig) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) {
		return nil // an empty file: defaults
	}
	if err != nil {
		return &configError{Reason: strings.TrimPrefix(oneLine(err.Error()), "yaml: "), Source: file}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &configError{Reason: "more than one YAML document", Source: file}
	}
	if ce := checkNode(&root, reflect.TypeFor[fileConfig](), "", file); ce != nil {
		return ce
	}
	if err := root.Decode(c); err != nil {
		return &configError{Reason: strings.TrimPrefix(oneLine(err.Error()), "yaml: "), Source: file}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// checkNode walks a YAML node against the Go type it decodes into and returns
// the first unknown key or undecodable value, or nil. The storage and
// connector sections are checked against the configuration types of the
// registries.
func checkNode(n *yaml.Node, t reflect.Type, path, file string) *configError {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		} else {
			n = n.Alias
		}
	}
	at := fmt.Sprintf("%s:%d", file, n.Line)
	if n.Tag == "!!null" {
		return nil // null keeps the default
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != durationType {
		if n.Kind != yaml.MappingNode {
			return &configError{Path: path, Reason: "want a mapping of keys", Source: at}
		}
		fields, names := sectionFields(n, t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				return &configError{Path: p, Reason: "unknown key (want " + orList(names) + ")", Source: fmt.Sprintf("%s:%d", file, k.Line)}
			}
			if ft == nil {
				continue // storage keys of a type that is not registered: Validate says so
			}
			if ce := checkNode(v, ft, p, file); ce != nil {
				return ce
			}
		}
		return nil
	}
	if t.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return &configError{Path: path, Reason: "want a list (e.g. [10.0.0.0/8])", Source: at}
		}
		for i, e := range n.Content {
			if ce := checkNode(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file); ce != nil {
				return ce
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return &configError{Path: path, Reason: "want a single value, not a list or mapping", Source: at}
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		var reason string
		switch {
		case t == durationType:
			reason = fmt.Sprintf("invalid duration %q (want a Go duration such as \"90s\", \"15m\" or \"720h\")", n.Value)
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
			reason = fmt.Sprintf("want a whole number, got %q", n.Value)
		case t.Kind() == reflect.Bool:
			reason = fmt.Sprintf("want true or false, got %q", n.Value)
		default:
			reason = fmt.Sprintf("cannot use %q", n.Value)
		}
		return &configError{Path: path, Reason: reason, Source: at}
	}
	return nil
}

// sectionFields are the keys a mapping n of type t may have, by name, with
// the type each decodes into, and their names in order. For the storage
// section: type and the keys of the flavour the section names (sqlite when
// it names none; none but type when it names an unknown one, nil-typed).
// For the connector section: type and one section per connector.
func sectionFields(n *yaml.Node, t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var order []string
	add := func(name string, ft reflect.Type) {
		fields[name] = ft
		order = append(order, name)
	}
	switch t {
	case reflect.TypeFor[storageSection]():
		add("type", reflect.TypeFor[string]())
		typ := defaultStorage
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "type" && n.Content[i+1].Tag != "!!null" {
				typ = n.Content[i+1].Value
			}
		}
		newConfig, ok := storages()[typ]
		if !ok {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i].Value; k != "type" {
					fields[k] = nil
				}
			}
			return fields, order
		}
		t = reflect.TypeOf(newConfig()).Elem()
	case reflect.TypeFor[connectorSection]():
		add("type", reflect.TypeFor[string]())
		ct := connectorTypes()
		for _, name := range names(ct) {
			add(name, reflect.TypeOf(ct[name].config()))
		}
		return fields, order
	}
	for i := range t.NumField() {
		if key := yamlKey(t.Field(i)); key != "" {
			add(key, t.Field(i).Type)
		}
	}
	return fields, order
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
