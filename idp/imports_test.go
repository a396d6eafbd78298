package idp_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules keeps the dependency direction of docs/architecture.md
// ("One-way imports"): the lower layers (connectors, policies, storage)
// import nothing of idp; idp depends on the storage contract, never on the
// SQL implementation (cmd/cardsso opens the store and passes it in); and no
// production package depends on benchmark seeding. idp/internal/... needs no
// test: the compiler refuses an importer outside idp.
func TestImportRules(t *testing.T) {
	deps := func(t *testing.T, pkgs ...string) map[string][]string {
		t.Helper()
		args := append([]string{"list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, pkgs...)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		m := map[string][]string{}
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if len(f) > 0 {
				m[f[0]] = f[1:]
			}
		}
		return m
	}
	const mod = "github.com/cardsso/cardsso/"
	all := deps(t, "../...")
	for pkg, ds := range all {
		if !strings.HasPrefix(pkg, mod) {
			continue
		}
		rel := strings.TrimPrefix(pkg, mod)
		lower := strings.HasPrefix(rel, "connectors") || strings.HasPrefix(rel, "policies") || strings.HasPrefix(rel, "storage")
		for _, d := range ds {
			switch {
			case lower && strings.HasPrefix(d, mod+"idp"):
				t.Errorf("%s imports %s: connectors, policies and storage must not depend on idp", rel, d)
			case strings.HasPrefix(rel, "idp") && !strings.Contains(rel, "test") && d == mod+"storage/sqlstore":
				t.Errorf("%s imports storage/sqlstore: idp works on the storage interfaces; cmd/cardsso opens the store", rel)
			}
		}
	}
	for _, pkg := range []string{"idp", "idp/admin", "idp/internal/oidc", "idp/internal/saml", "idp/internal/login"} {
		if slices.Contains(all[mod+pkg], mod+"idp/benchseed") {
			t.Errorf("%s depends on idp/benchseed: seeding is benchmark tooling, not part of a node", pkg)
		}
	}
}
