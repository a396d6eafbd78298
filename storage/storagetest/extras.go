package storagetest

import (
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func newServiceProvider(id string) storage.ServiceProvider {
	return storage.ServiceProvider{
		ID: id, EntityID: "https://sp.example/" + id + "/metadata", Name: "社保业务系统 " + id,
		Metadata: []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>`),
		MinACR:   "urn:cardsso:loa:2", Attributes: []string{"name", "ssn_masked"}, NameIDFormat: "persistent",
		IdPInitiated: true, RelayStates: []string{"https://sp.example/" + id + "/home"},
		CreatedAt: created, UpdatedAt: created.Add(time.Second),
	}
}

func testServiceProviderCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sp := newServiceProvider("legacy")
	checkErr(t, "CreateServiceProvider", s.CreateServiceProvider(ctx, sp), nil)
	checkErr(t, "CreateServiceProvider(same id)", s.CreateServiceProvider(ctx, sp), storage.ErrAlreadyExists)
	other := newServiceProvider("other")
	other.EntityID = sp.EntityID
	checkErr(t, "CreateServiceProvider(same entity id)", s.CreateServiceProvider(ctx, other), storage.ErrAlreadyExists)

	got, err := s.GetServiceProvider(ctx, "legacy")
	checkErr(t, "GetServiceProvider", err, nil)
	checkEqual(t, "GetServiceProvider", got, sp)
	got, err = s.GetServiceProviderByEntityID(ctx, sp.EntityID)
	checkErr(t, "GetServiceProviderByEntityID", err, nil)
	checkEqual(t, "GetServiceProviderByEntityID", got, sp)
	_, err = s.GetServiceProviderByEntityID(ctx, "https://nobody.example")
	checkErr(t, "GetServiceProviderByEntityID(unknown)", err, storage.ErrNotFound)

	checkErr(t, "UpdateServiceProvider", s.UpdateServiceProvider(ctx, "legacy", func(p storage.ServiceProvider) (storage.ServiceProvider, error) {
		p.NameIDFormat = "transient"
		return p, nil
	}), nil)
	got, _ = s.GetServiceProvider(ctx, "legacy")
	if got.NameIDFormat != "transient" {
		t.Errorf("after UpdateServiceProvider NameIDFormat = %q; want transient", got.NameIDFormat)
	}
	list, err := s.ListServiceProviders(ctx)
	checkErr(t, "ListServiceProviders", err, nil)
	if len(list) != 1 || list[0].ID != "legacy" {
		t.Errorf("ListServiceProviders = %v; want [legacy]", list)
	}
	checkErr(t, "DeleteServiceProvider", s.DeleteServiceProvider(ctx, "legacy"), nil)
	checkErr(t, "DeleteServiceProvider(again)", s.DeleteServiceProvider(ctx, "legacy"), storage.ErrNotFound)
}

func testSessionParticipants(t *testing.T, s storage.Store) {
	ctx := t.Context()
	checkErr(t, "CreateSession", s.CreateSession(ctx, newSession("sess", future)), nil)
	p := storage.SessionParticipant{SessionID: "sess", EntityID: "https://sp.example/a", NameID: "n-1",
		NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", NameQualifier: "https://idp",
		SPNameQualifier: "https://sp.example/a", SessionIndex: "idx-1", CreatedAt: created}
	checkErr(t, "AddSessionParticipant", s.AddSessionParticipant(ctx, p), nil)
	p2 := p
	p2.SessionIndex = "idx-2"
	checkErr(t, "AddSessionParticipant(again)", s.AddSessionParticipant(ctx, p2), nil)
	q := p
	q.EntityID, q.CreatedAt = "https://sp.example/b", created.Add(time.Second)
	checkErr(t, "AddSessionParticipant(b)", s.AddSessionParticipant(ctx, q), nil)
	got, err := s.ListSessionParticipants(ctx, "sess")
	checkErr(t, "ListSessionParticipants", err, nil)
	checkEqual(t, "ListSessionParticipants", got, []storage.SessionParticipant{p2, q})
	checkErr(t, "DeleteSession", s.DeleteSession(ctx, "sess"), nil)
	got, err = s.ListSessionParticipants(ctx, "sess")
	checkErr(t, "ListSessionParticipants(after DeleteSession)", err, nil)
	if len(got) != 0 {
		t.Errorf("participants after DeleteSession = %v; want none", got)
	}
}

func testRecordOnce(t *testing.T, s storage.Store) {
	ctx := t.Context()
	checkErr(t, "RecordOnce", s.RecordOnce(ctx, "AuthnRequest:sp id-1", future), nil)
	checkErr(t, "RecordOnce(again)", s.RecordOnce(ctx, "AuthnRequest:sp id-1", future), storage.ErrAlreadyUsed)
	checkErr(t, "RecordOnce(other)", s.RecordOnce(ctx, "AuthnRequest:sp id-2", future), nil)
	// An expired record does not block the key.
	checkErr(t, "RecordOnce(expired)", s.RecordOnce(ctx, "old", past), nil)
	checkErr(t, "RecordOnce(after expiry)", s.RecordOnce(ctx, "old", future), nil)
	checkErr(t, "RecordOnce(after expiry, again)", s.RecordOnce(ctx, "old", future), storage.ErrAlreadyUsed)
}

func testRecordOnceConcurrent(t *testing.T, s storage.Store) {
	errs := race(16, func(int) error { return s.RecordOnce(t.Context(), "nonce", future) })
	checkSingleWinner(t, "RecordOnce", errs)
}

func testConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, "acct", "client")
	checkErr(t, "GetConsent(none)", err, storage.ErrNotFound)
	c := storage.Consent{AccountID: "acct", ClientID: "client", Scopes: []string{"openid", "profile"}, GrantedAt: created}
	checkErr(t, "PutConsent", s.PutConsent(ctx, c), nil)
	got, err := s.GetConsent(ctx, "acct", "client")
	checkErr(t, "GetConsent", err, nil)
	checkEqual(t, "GetConsent", got, c)
	c.Scopes, c.GrantedAt = []string{"openid", "profile", "cardsso.card"}, created.Add(time.Hour)
	checkErr(t, "PutConsent(replace)", s.PutConsent(ctx, c), nil)
	got, _ = s.GetConsent(ctx, "acct", "client")
	checkEqual(t, "GetConsent(replaced)", got, c)
	checkErr(t, "DeleteConsent", s.DeleteConsent(ctx, "acct", "client"), nil)
	checkErr(t, "DeleteConsent(again)", s.DeleteConsent(ctx, "acct", "client"), storage.ErrNotFound)
}

func testCounters(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := time.Hour
	n, since, err := s.GetCounter(ctx, "k", w, now)
	checkErr(t, "GetCounter(none)", err, nil)
	if n != 0 || !since.IsZero() {
		t.Errorf("GetCounter(none) = %d since %v; want 0", n, since)
	}
	for want := 1; want <= 3; want++ {
		n, since, err = s.IncrementCounter(ctx, "k", w, now.Add(time.Duration(want)*time.Minute))
		checkErr(t, "IncrementCounter", err, nil)
		if n != want || !since.Equal(now.Add(time.Minute)) {
			t.Errorf("IncrementCounter #%d = %d since %v; want %d since %v", want, n, since, want, now.Add(time.Minute))
		}
	}
	if n, _, _ = s.GetCounter(ctx, "k", w, now.Add(30*time.Minute)); n != 3 {
		t.Errorf("GetCounter in the window = %d; want 3", n)
	}
	if n, _, _ = s.GetCounter(ctx, "k", w, now.Add(2*time.Hour)); n != 0 {
		t.Errorf("GetCounter after the window = %d; want 0", n)
	}
	// After the window a new one starts.
	later := now.Add(2 * time.Hour)
	n, since, err = s.IncrementCounter(ctx, "k", w, later)
	checkErr(t, "IncrementCounter(new window)", err, nil)
	if n != 1 || !since.Equal(later) {
		t.Errorf("IncrementCounter(new window) = %d since %v; want 1 since %v", n, since, later)
	}
	checkErr(t, "ResetCounter", s.ResetCounter(ctx, "k"), nil)
	if n, _, _ = s.GetCounter(ctx, "k", w, later); n != 0 {
		t.Errorf("GetCounter after reset = %d; want 0", n)
	}
}

func testCountersConcurrent(t *testing.T, s storage.Store) {
	now := time.Now()
	errs := race(16, func(int) error {
		_, _, err := s.IncrementCounter(t.Context(), "busy", time.Hour, now)
		return err
	})
	for _, err := range errs {
		checkErr(t, "IncrementCounter", err, nil)
	}
	if n, _, _ := s.GetCounter(t.Context(), "busy", time.Hour, now); n != 16 {
		t.Errorf("16 concurrent increments counted %d", n)
	}
}

func testDeleteExpiredExtras(t *testing.T, s storage.Store) {
	ctx := t.Context()
	checkErr(t, "RecordOnce(expired)", s.RecordOnce(ctx, "old", past), nil)
	checkErr(t, "RecordOnce(live)", s.RecordOnce(ctx, "new", future), nil)
	old := time.Now().Add(-48 * time.Hour)
	_, _, err := s.IncrementCounter(ctx, "stale", time.Hour, old)
	checkErr(t, "IncrementCounter(stale)", err, nil)
	_, _, err = s.IncrementCounter(ctx, "fresh", time.Hour, time.Now())
	checkErr(t, "IncrementCounter(fresh)", err, nil)
	// A participant whose session has expired.
	checkErr(t, "CreateSession", s.CreateSession(ctx, newSession("gone", past)), nil)
	checkErr(t, "AddSessionParticipant", s.AddSessionParticipant(ctx, storage.SessionParticipant{
		SessionID: "gone", EntityID: "https://sp.example/a", CreatedAt: created}), nil)

	n, err := s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired", err, nil)
	if n != 4 { // the once key, the counter, the session, its participant
		t.Errorf("DeleteExpired = %d; want 4", n)
	}
	checkErr(t, "RecordOnce(live, again)", s.RecordOnce(ctx, "new", future), storage.ErrAlreadyUsed)
	if c, _, _ := s.GetCounter(ctx, "fresh", time.Hour, time.Now()); c != 1 {
		t.Errorf("the live counter was collected")
	}
	if ps, _ := s.ListSessionParticipants(ctx, "gone"); len(ps) != 0 {
		t.Errorf("participants of an expired session remain: %v", ps)
	}
}

func testDecrementCounter(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := time.Now()
	for range 3 {
		if _, _, err := s.IncrementCounter(ctx, "dec", time.Hour, now); err != nil {
			t.Fatal(err)
		}
	}
	checkErr(t, "DecrementCounter", s.DecrementCounter(ctx, "dec"), nil)
	if n, _, err := s.GetCounter(ctx, "dec", time.Hour, now); err != nil || n != 2 {
		t.Errorf("GetCounter after DecrementCounter = %d, %v; want 2", n, err)
	}
	checkErr(t, "DecrementCounter(unknown)", s.DecrementCounter(ctx, "nobody"), nil)
	for range 4 {
		checkErr(t, "DecrementCounter", s.DecrementCounter(ctx, "dec"), nil)
	}
	if n, _, err := s.GetCounter(ctx, "dec", time.Hour, now); err != nil || n != 0 {
		t.Errorf("GetCounter after decrementing past zero = %d, %v; want 0", n, err)
	}
	if n, _, err := s.IncrementCounter(ctx, "dec", time.Hour, now); err != nil || n != 1 {
		t.Errorf("IncrementCounter after zero = %d, %v; want 1", n, err)
	}
}

func testListSessionsByAccount(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := newSession("a", future)
	b := newSession("b", future)
	b.CreatedAt = created.Add(time.Hour)
	gone := newSession("gone", past)
	other := newSession("other", future)
	other.AccountID = "account-2"
	for _, x := range []storage.Session{a, b, gone, other} {
		checkErr(t, "CreateSession", s.CreateSession(ctx, x), nil)
	}
	got, err := s.ListSessionsByAccount(ctx, "account-1")
	checkErr(t, "ListSessionsByAccount", err, nil)
	checkEqual(t, "ListSessionsByAccount", got, []storage.Session{b, a})
	got, err = s.ListSessionsByAccount(ctx, "nobody")
	checkErr(t, "ListSessionsByAccount(nobody)", err, nil)
	if len(got) != 0 {
		t.Errorf("ListSessionsByAccount(nobody) = %v; want none", got)
	}
}

func testListConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c1 := storage.Consent{AccountID: "acc", ClientID: "b-portal", Scopes: []string{"openid", "profile"}, GrantedAt: created}
	c2 := storage.Consent{AccountID: "acc", ClientID: "a-portal", Scopes: []string{"openid"}, GrantedAt: created.Add(time.Second)}
	c3 := storage.Consent{AccountID: "other", ClientID: "a-portal", Scopes: []string{"openid"}, GrantedAt: created}
	for _, c := range []storage.Consent{c1, c2, c3} {
		checkErr(t, "PutConsent", s.PutConsent(ctx, c), nil)
	}
	got, err := s.ListConsents(ctx, "acc")
	checkErr(t, "ListConsents", err, nil)
	checkEqual(t, "ListConsents", got, []storage.Consent{c2, c1})
}
