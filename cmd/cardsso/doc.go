// Command cardsso is the one CardSSO binary: it runs a node (serve), migrates
// its database (migrate), administers it (clients, sps, keys, backup) and
// seeds it for benchmarks (seed).
//
// It only wires: configuration comes from defaults, a YAML file, CARDSSO_*
// environment variables and flags, in that order of precedence. The node's
// own sections are idp's structs (config.go, defaults from idp.Defaults);
// storage and connector are decoded into the configuration of the
// implementation their type picks from a registry (registry.go), which
// validates and opens itself. Every key and its variable are one table
// (settings.go), which serve --help prints and the README lists.
//
//	defaults ─▶ --config FILE (YAML, decode.go) ─▶ CARDSSO_* env ─▶ flags ─▶ Validate (validate.go)
//	                                                                          │
//	   idp.OpenMasterKey ─▶ mk   storages[storage.type].Open ─▶ store   connectors[connector.type] ─▶ checks
//	                                                                          │
//	   serve: idp.New(cfg, idp.Parts{store, checks, mk}) + Serve │ others: idp.OpenAdmin(cfg, store, mk)
//
// Exit codes: 0 success, 1 runtime failure, 2 bad configuration, flag or usage;
// every error is one line on stderr that names the field or flag at fault.
package main
