package sqlstore

import (
	"strings"
	"testing"
)

// TestQueriesUseIndexes asks SQLite how it runs each lookup and fails on a
// full table scan: every lookup column has an index (docs/operations.md, "Scale: one million accounts"). The
// PostgreSQL twin is TestPostgres/QueriesUseIndexes.
func TestQueriesUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), Config{DSN: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	for _, l := range s.Lookups() {
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := s.db.Select(&plan, "EXPLAIN QUERY PLAN "+l.Query, l.Args...); err != nil {
			t.Errorf("EXPLAIN QUERY PLAN %s: %v", l.Query, err)
			continue
		}
		var details []string
		for _, step := range plan {
			details = append(details, step.Detail)
		}
		got := strings.Join(details, "; ")
		if strings.Contains(got, "SCAN ") || !strings.Contains(got, "USING ") {
			t.Errorf("query plan of %q = %q; want an index search", l.Query, got)
		}
	}
}
