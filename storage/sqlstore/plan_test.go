package sqlstore

import (
	"strings"
	"testing"
)

// TestQueriesUseIndexes asks SQLite how it runs each lookup and fails on a
// full table scan: every lookup column has an index (DESIGN §6).
func TestQueriesUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), Config{DSN: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	queries := []string{
		accounts.selectFrom + " WHERE id = ?",
		accounts.selectFrom + " WHERE ssn_index = ?",
		accounts.update,
		clients.selectFrom + " WHERE id = ?",
		authRequests.selectFrom + " WHERE id = ? AND expires_at > ?",
		authRequests.selectFrom + " WHERE code_hash = ? AND expires_at > ?",
		authRequests.selectFrom + " WHERE code_hash = ? AND code_used_at IS NOT NULL AND expires_at > ?",
		authRequests.claimQuery("code_hash", "code_used_at"),
		accessTokens.selectFrom + " WHERE id = ? AND expires_at > ?",
		refreshTokens.selectFrom + " WHERE hash = ? AND expires_at > ?",
		refreshTokens.claimQuery("hash", "used_at"),
		sessions.selectFrom + " WHERE id = ? AND expires_at > ?",
		sessions.update,
	}
	queries = append(queries, revokeGrantQueries...)
	queries = append(queries, deleteSessionQueries...)
	for _, table := range expiring {
		queries = append(queries, deleteExpiredQuery(table))
	}
	for _, q := range queries {
		args := make([]any, strings.Count(q, "?"))
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := s.db.Select(&plan, "EXPLAIN QUERY PLAN "+q, args...); err != nil {
			t.Errorf("EXPLAIN QUERY PLAN %s: %v", q, err)
			continue
		}
		var details []string
		for _, step := range plan {
			details = append(details, step.Detail)
		}
		got := strings.Join(details, "; ")
		if strings.Contains(got, "SCAN ") || !strings.Contains(got, "USING ") {
			t.Errorf("query plan of %q = %q; want an index search", q, got)
		}
	}
}
