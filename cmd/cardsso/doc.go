// Command cardsso is the one CardSSO binary: it runs a node (serve), migrates
// its database (migrate) and administers it (clients, keys).
//
// It only wires: configuration comes from defaults, a YAML file, CARDSSO_*
// environment variables and flags, in that order of precedence (config.go);
// everything else is package idp.
//
//	defaults ─▶ --config FILE (YAML) ─▶ CARDSSO_* env ─▶ flags ─▶ Validate ─▶ idp.Config
//	                                                                          │
//	                               serve: idp.New + Serve │ others: idp.OpenAdmin
//
// Exit codes: 0 success, 1 runtime failure, 2 bad configuration, flag or usage;
// every error is one line on stderr that names the field or flag at fault.
package main
