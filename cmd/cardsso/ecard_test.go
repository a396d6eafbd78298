package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestECardBindingsCommands: `cardsso ecard bindings` opens the connector
// (the embedded simulator here), not the database: the list is JSON with
// masked numbers (none in a fresh simulator), a malformed --ssn is a usage
// error that does not echo the number, and an unknown binding cannot be
// revoked.
func TestECardBindingsCommands(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "ecard", "bindings", "list", "--json", "--data-dir", dir)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 0 {
		t.Errorf("list --json = %d %q %q; want 0 and []", code, out, errOut)
	}
	code, out, _ = runCLI(t, "ecard", "bindings", "list", "--ssn", "110105199003070017", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "DEVICE") {
		t.Errorf("list --ssn = %d %q; want 0 and a table header", code, out)
	}
	code, _, errOut = runCLI(t, "ecard", "bindings", "list", "--ssn", "11010519900307001X", "--data-dir", dir)
	if code != exitUsage || strings.Contains(errOut, "11010519900307001X") {
		t.Errorf("list with a bad --ssn = %d %q; want %d without the number", code, errOut, exitUsage)
	}
	code, _, errOut = runCLI(t, "ecard", "bindings", "revoke", "no-such-binding", "--data-dir", dir)
	if code != exitFailure || !strings.Contains(errOut, "no e-card binding") {
		t.Errorf("revoke an unknown binding = %d %q; want %d naming it", code, errOut, exitFailure)
	}
	if code, _, _ = runCLI(t, "ecard", "bindings", "revoke", "--data-dir", dir); code != exitUsage {
		t.Errorf("revoke without an ID = %d; want %d", code, exitUsage)
	}
}
