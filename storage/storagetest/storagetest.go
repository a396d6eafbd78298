package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// RunTests runs the conformance suite on the stores newStore returns. Every
// subtest gets a fresh, empty store from newStore, which also arranges (with
// t.Cleanup) for the store to be closed.
func RunTests(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"Ping", testPing},
		{"AccountCRUD", testAccountCRUD},
		{"AccountUpdate", testAccountUpdate},
		{"ClientCRUD", testClientCRUD},
		{"AuthRequestCRUD", testAuthRequestCRUD},
		{"AuthRequestByCode", testAuthRequestByCode},
		{"AuthRequestExpired", testAuthRequestExpired},
		{"ClaimAuthCode", testClaimAuthCode},
		{"ClaimAuthCodeConcurrent", testClaimAuthCodeConcurrent},
		{"AccessTokenCRUD", testAccessTokenCRUD},
		{"RefreshTokenCRUD", testRefreshTokenCRUD},
		{"ClaimRefreshToken", testClaimRefreshToken},
		{"ClaimRefreshTokenConcurrent", testClaimRefreshTokenConcurrent},
		{"RevokeGrant", testRevokeGrant},
		{"RevokeRotatedGrant", testRevokeRotatedGrant},
		{"SessionCRUD", testSessionCRUD},
		{"SessionExpired", testSessionExpired},
		{"SessionUpdateConcurrent", oneStore(testUpdateSessionRace)},
		{"ClientUpdateConcurrent", oneStore(testUpdateClientRace)},
		{"DeleteSessionRevokesTokens", testDeleteSessionRevokesTokens},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysConcurrent", testSigningKeysConcurrent},
		{"DeleteExpired", testDeleteExpired},
		{"ServiceProviderCRUD", testServiceProviderCRUD},
		{"SessionParticipants", testSessionParticipants},
		{"RecordOnce", testRecordOnce},
		{"RecordOnceConcurrent", testRecordOnceConcurrent},
		{"Consents", testConsents},
		{"Counters", testCounters},
		{"CountersConcurrent", testCountersConcurrent},
		{"DecrementCounter", testDecrementCounter},
		{"ListSessionsByAccount", testListSessionsByAccount},
		{"ListConsents", testListConsents},
		{"DeleteExpiredKeysCountersParticipants", testDeleteExpiredExtras},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			test.run(t, newStore(t))
		})
	}
}

// oneStore runs a test of several nodes (RunNodeTests) on one store.
func oneStore(test func(t *testing.T, nodes []storage.Store)) func(t *testing.T, s storage.Store) {
	return func(t *testing.T, s storage.Store) { test(t, []storage.Store{s}) }
}

// Times far from now, with sub-millisecond parts and outside UTC, so that the
// suite checks millisecond precision and UTC normalisation.
var (
	cst     = time.FixedZone("CST", 8*60*60)
	past    = time.Date(2001, 2, 3, 4, 5, 6, 789_123_456, cst)      // long expired
	future  = time.Date(2199, 12, 30, 23, 58, 57, 456_789_012, cst) // far from expiring
	created = time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, cst)
)

// errUpdater is what the suite's failing updaters return.
var errUpdater = errors.New("storagetest: updater refuses")

// Binary values with every kind of byte that a careless encoding mangles.
func blob(tag byte) []byte {
	return []byte{0x00, tag, 0xff, 0x80, '\'', '"', '\\', 0x00, 0x7f, '%', '?'}
}

func ptr[T any](v T) *T { return &v }

// Comparison.

// normalize returns v with its times rounded down to the millisecond in UTC,
// and empty slices set to nil, so that two values are equal when a store kept
// everything the contract asks it to keep. It descends into struct fields and
// slices of structs.
func normalize[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	normalizeValue(rv)
	return v
}

var timeType = reflect.TypeOf(time.Time{})

func normalizeValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(normalTime(v.Interface().(time.Time))))
	case v.Kind() == reflect.Pointer && v.Type().Elem() == timeType:
		if !v.IsNil() {
			t := normalTime(v.Elem().Interface().(time.Time))
			v.Set(reflect.ValueOf(&t))
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := range c.Len() {
				normalizeValue(c.Index(i))
			}
			v.Set(c)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalizeValue(v.Field(i))
			}
		}
	}
}

func normalTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Millisecond).UTC()
}

// checkEqual fails t when got and want differ after normalize.
func checkEqual[T any](t *testing.T, call string, got, want T) {
	t.Helper()
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v\nwant %+v", call, g, w)
	}
}

// checkErr fails t unless errors.Is(err, want); want nil means no error.
func checkErr(t *testing.T, call string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v", call, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: err = %v; want %v", call, err, want)
	}
}

// Values with every field set.

func newAccount(id string, tag byte) storage.Account {
	return storage.Account{
		ID:                 id,
		Name:               "张三 " + id,
		SSNSealed:          blob(tag),
		SSNIndex:           []byte{'i', tag, 0x00, 0xfe},
		SSNMasked:          "110***********0017",
		CardRegion:         "110105",
		PasswordHash:       "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		RealNameVerifiedAt: created.Add(time.Minute),
		CardNumber:         "A00000001",
		CardStatus:         "normal",
		CardGeneration:     3,
		CardCheckedAt:      ptr(created.Add(2 * time.Minute)),
		CardVerifiedAt:     ptr(created.Add(3 * time.Minute)),
		FaceVerifiedAt:     ptr(created.Add(5 * time.Minute)),
		FaceFailures:       2,
		FaceFailuresSince:  ptr(created.Add(4 * time.Minute)),
		CreatedAt:          created,
		UpdatedAt:          created.Add(time.Hour),
	}
}

func newClient(id string) storage.Client {
	return storage.Client{
		ID:                     id,
		Name:                   "社保门户 " + id,
		SecretHash:             blob(1),
		RedirectURIs:           []string{"https://portal.example/cb", "https://portal.example/cb?x=1&y='2'"},
		PostLogoutRedirectURIs: []string{"https://portal.example/bye"},
		FirstParty:             true,
		MinACR:                 "urn:cardsso:loa:2",
		AllowedClaims:          []string{"cardsso.ssn"},
		PublicSubject:          true,
		SectorIdentifierURI:    "https://portal.example/sector.json",
		BackchannelLogoutURI:   "https://portal.example/backchannel",
		RefreshReuseGrace:      30 * time.Second,
		CreatedAt:              created,
		UpdatedAt:              created.Add(time.Second),
	}
}

func newAuthRequest(id string, codeHash []byte, expires time.Time) storage.AuthRequest {
	return storage.AuthRequest{
		ID:                  id,
		Protocol:            "oidc",
		ClientID:            "client-" + id,
		RedirectURI:         "https://portal.example/cb",
		State:               "state-" + id,
		Nonce:               "nonce-" + id,
		Scopes:              []string{"openid", "profile"},
		ResponseType:        "code",
		ResponseMode:        "query",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              ptr(int64(300)),
		ACRValues:           []string{"urn:cardsso:loa:2", "urn:cardsso:loa:3"},
		UILocales:           []string{"zh-CN", "en"},
		LoginHint:           "hint",
		RequiredACR:         "urn:cardsso:loa:2",
		Claims:              []byte(`{"id_token":{"acr":{"essential":true}}}`),
		BrowserHash:         blob(7),
		IDTokenHint:         "client-" + id + " subject",
		LoginState:          blob(2),
		Done:                true,
		AccountID:           "account-" + id,
		SessionID:           "session-" + id,
		AuthTime:            created.Add(2 * time.Second),
		ACR:                 "urn:cardsso:loa:2",
		AMR:                 []string{"pwd", "face"},
		CodeHash:            codeHash,
		CreatedAt:           created,
		ExpiresAt:           expires,
	}
}

func newAccessToken(id, grantID, sessionID string, expires time.Time) storage.AccessToken {
	return storage.AccessToken{
		ID:        id,
		GrantID:   grantID,
		ClientID:  "client-1",
		AccountID: "account-1",
		SessionID: sessionID,
		Scopes:    []string{"openid", "email"},
		Audience:  []string{"client-1", "api"},
		AuthTime:  created.Add(3 * time.Second),
		ACR:       "urn:cardsso:loa:1",
		AMR:       []string{"pwd"},
		Claims:    []byte(`{"userinfo":{"verified_claims":null}}`),
		CreatedAt: created,
		ExpiresAt: expires,
	}
}

func newRefreshToken(id, grantID, sessionID string, expires time.Time) storage.RefreshToken {
	return storage.RefreshToken{
		Hash:      append([]byte("hash-"+id), 0x00, 0xff),
		ID:        id,
		GrantID:   grantID,
		ClientID:  "client-1",
		AccountID: "account-1",
		SessionID: sessionID,
		Scopes:    []string{"openid", "offline_access"},
		Audience:  []string{"client-1"},
		AuthTime:  created.Add(4 * time.Second),
		ACR:       "urn:cardsso:loa:3",
		AMR:       []string{"face", "mfa"},
		Claims:    []byte(`{"userinfo":{"verified_claims":null}}`),
		CreatedAt: created,
		ExpiresAt: expires,
	}
}

func newSession(id string, expires time.Time) storage.Session {
	return storage.Session{
		ID:         id,
		SecretHash: blob(9),
		AccountID:  "account-1",
		AuthTime:   created.Add(5 * time.Second),
		ACR:        "urn:cardsso:loa:2",
		AMR:        []string{"pwd", "swk"},
		Clients:    []string{"client-1", "saml:https://sp.example/"},
		CreatedAt:  created,
		LastSeenAt: created.Add(time.Minute),
		ExpiresAt:  expires,
	}
}

func newSigningKey(id string, createdAt time.Time, state storage.KeyState) storage.SigningKey {
	return storage.SigningKey{
		ID:            id,
		Algorithm:     "ES256",
		State:         state,
		PrivateSealed: blob(3),
		PublicJWK:     []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		CreatedAt:     createdAt,
	}
}

// race runs n copies of fn at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// The tests.

func testPing(t *testing.T, s storage.Store) {
	checkErr(t, "Ping", s.Ping(t.Context()), nil)
}

func testAccountCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := newAccount("acct-1", 1)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)

	got, err := s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, fmt.Sprintf("GetAccount(%q)", a.ID), got, a)

	got, err = s.GetAccountBySSNIndex(ctx, a.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex", err, nil)
	checkEqual(t, "GetAccountBySSNIndex", got, a)

	// Same id; same blind index under another id.
	checkErr(t, "CreateAccount(same id)", s.CreateAccount(ctx, newAccount(a.ID, 2)), storage.ErrAlreadyExists)
	checkErr(t, "CreateAccount(same ssn index)", s.CreateAccount(ctx, newAccount("acct-2", 1)), storage.ErrAlreadyExists)
	_, err = s.GetAccount(ctx, "acct-2")
	checkErr(t, `GetAccount("acct-2") after a refused create`, err, storage.ErrNotFound)
	got, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after refused creates", got, a)

	_, err = s.GetAccount(ctx, "missing")
	checkErr(t, `GetAccount("missing")`, err, storage.ErrNotFound)
	_, err = s.GetAccountBySSNIndex(ctx, []byte("no such index"))
	checkErr(t, "GetAccountBySSNIndex(unknown)", err, storage.ErrNotFound)

	checkErr(t, "DeleteAccount", s.DeleteAccount(ctx, a.ID), nil)
	_, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount after delete", err, storage.ErrNotFound)
	_, err = s.GetAccountBySSNIndex(ctx, a.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex after delete", err, storage.ErrNotFound)
	checkErr(t, "DeleteAccount again", s.DeleteAccount(ctx, a.ID), storage.ErrNotFound)

	// The blind index is free again.
	checkErr(t, "CreateAccount(reused index)", s.CreateAccount(ctx, newAccount("acct-3", 1)), nil)
}

func testAccountUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := newAccount("acct-1", 1), newAccount("acct-2", 2)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, b), nil)

	want := a
	err := s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		checkEqual(t, "updater's argument", old, a)
		old.Name = "李四"
		old.CardRegion = "440305"
		old.SSNSealed = blob(9)
		old.UpdatedAt = created.Add(48 * time.Hour)
		want = old
		return old, nil
	})
	checkErr(t, "UpdateAccount", err, nil)
	got, err := s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after update", got, want)

	// A failing updater writes nothing.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.Name = "not written"
		return old, errUpdater
	})
	checkErr(t, "UpdateAccount(failing updater)", err, errUpdater)
	// An updater must not change the key.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.ID = "acct-9"
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateAccount(changing the id) = nil; want an error")
	}
	_, err = s.GetAccount(ctx, "acct-9")
	checkErr(t, "GetAccount(changed id)", err, storage.ErrNotFound)
	// Taking another account's blind index is a duplicate.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.SSNIndex = b.SSNIndex
		return old, nil
	})
	checkErr(t, "UpdateAccount(duplicate ssn index)", err, storage.ErrAlreadyExists)

	got, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after refused updates", got, want)
	got, err = s.GetAccountBySSNIndex(ctx, b.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex", err, nil)
	checkEqual(t, "GetAccountBySSNIndex after refused updates", got, b)

	err = s.UpdateAccount(ctx, "missing", func(old storage.Account) (storage.Account, error) {
		t.Errorf("updater called for a missing account")
		return old, nil
	})
	checkErr(t, `UpdateAccount("missing")`, err, storage.ErrNotFound)
}

func testClientCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	list, err := s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	if len(list) != 0 {
		t.Errorf("ListClients on an empty store = %+v; want none", list)
	}

	c1 := newClient("client-b")
	c2 := newClient("client-a")
	// A public client: no secret, no lists, nothing optional.
	c3 := storage.Client{ID: "client-c", Name: "public", Public: true, CreatedAt: created, UpdatedAt: created}
	for _, c := range []storage.Client{c1, c2, c3} {
		checkErr(t, fmt.Sprintf("CreateClient(%q)", c.ID), s.CreateClient(ctx, c), nil)
	}
	checkErr(t, "CreateClient(duplicate)", s.CreateClient(ctx, newClient(c1.ID)), storage.ErrAlreadyExists)

	for _, c := range []storage.Client{c1, c2, c3} {
		got, err := s.GetClient(ctx, c.ID)
		checkErr(t, "GetClient", err, nil)
		checkEqual(t, fmt.Sprintf("GetClient(%q)", c.ID), got, c)
	}
	_, err = s.GetClient(ctx, "missing")
	checkErr(t, `GetClient("missing")`, err, storage.ErrNotFound)

	list, err = s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	checkEqual(t, "ListClients", list, []storage.Client{c2, c1, c3})

	want := c1
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		checkEqual(t, "updater's argument", old, c1)
		old.RedirectURIs = append(old.RedirectURIs, "https://new.example/cb")
		old.PostLogoutRedirectURIs = nil
		old.SecretHash = blob(7)
		old.FirstParty = false
		old.MinACR = ""
		want = old
		return old, nil
	})
	checkErr(t, "UpdateClient", err, nil)
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		old.Name = "not written"
		return old, errUpdater
	})
	checkErr(t, "UpdateClient(failing updater)", err, errUpdater)
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		old.ID = c2.ID
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateClient(changing the id) = nil; want an error")
	}
	got, err := s.GetClient(ctx, c1.ID)
	checkErr(t, "GetClient", err, nil)
	checkEqual(t, "GetClient after updates", got, want)
	got, err = s.GetClient(ctx, c2.ID)
	checkErr(t, "GetClient", err, nil)
	checkEqual(t, "GetClient of the other client", got, c2)
	err = s.UpdateClient(ctx, "missing", func(c storage.Client) (storage.Client, error) { return c, nil })
	checkErr(t, `UpdateClient("missing")`, err, storage.ErrNotFound)

	checkErr(t, "DeleteClient", s.DeleteClient(ctx, c1.ID), nil)
	checkErr(t, "DeleteClient again", s.DeleteClient(ctx, c1.ID), storage.ErrNotFound)
	_, err = s.GetClient(ctx, c1.ID)
	checkErr(t, "GetClient after delete", err, storage.ErrNotFound)
	list, err = s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	checkEqual(t, "ListClients after delete", list, []storage.Client{c2, c3})
}

func testAuthRequestCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newAuthRequest("req-full", []byte("code-1\x00\xff"), future)
	full.CodeUsedAt = ptr(created.Add(7 * time.Second))
	// max_age=0 (authenticate again now) is not "no max_age".
	zeroMaxAge := newAuthRequest("req-max-age-0", nil, future)
	zeroMaxAge.MaxAge = ptr(int64(0))
	// A fresh request: nothing set but what /authorize gives.
	bare := storage.AuthRequest{
		ID: "req-bare", ClientID: "client-1", RedirectURI: "https://portal.example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: created, ExpiresAt: future,
	}
	for _, r := range []storage.AuthRequest{full, zeroMaxAge, bare} {
		checkErr(t, fmt.Sprintf("CreateAuthRequest(%q)", r.ID), s.CreateAuthRequest(ctx, r), nil)
		got, err := s.GetAuthRequest(ctx, r.ID)
		checkErr(t, "GetAuthRequest", err, nil)
		checkEqual(t, fmt.Sprintf("GetAuthRequest(%q)", r.ID), got, r)
	}
	got, err := s.GetAuthRequest(ctx, bare.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if got.MaxAge != nil || got.CodeUsedAt != nil {
		t.Errorf("GetAuthRequest(%q): MaxAge = %v, CodeUsedAt = %v; want nil, nil", bare.ID, got.MaxAge, got.CodeUsedAt)
	}
	got, err = s.GetAuthRequest(ctx, zeroMaxAge.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if got.MaxAge == nil || *got.MaxAge != 0 {
		t.Errorf("GetAuthRequest(%q).MaxAge = %v; want a pointer to 0", zeroMaxAge.ID, got.MaxAge)
	}

	checkErr(t, "CreateAuthRequest(duplicate id)",
		s.CreateAuthRequest(ctx, newAuthRequest(full.ID, nil, future)), storage.ErrAlreadyExists)
	checkErr(t, "CreateAuthRequest(duplicate code hash)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-other", full.CodeHash, future)), storage.ErrAlreadyExists)
	_, err = s.GetAuthRequest(ctx, "missing")
	checkErr(t, `GetAuthRequest("missing")`, err, storage.ErrNotFound)

	// The login steps finish: the code is issued.
	want := bare
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		checkEqual(t, "updater's argument", old, bare)
		old.Done = true
		old.AccountID = "account-1"
		old.SessionID = "session-1"
		old.AuthTime = created.Add(time.Minute)
		old.ACR = "urn:cardsso:loa:1"
		old.AMR = []string{"pwd"}
		old.LoginState = blob(5)
		old.CodeHash = []byte("code-2")
		old.MaxAge = ptr(int64(60))
		want = old
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest", err, nil)
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.Done = false
		return old, errUpdater
	})
	checkErr(t, "UpdateAuthRequest(failing updater)", err, errUpdater)
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.ID = "req-renamed"
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateAuthRequest(changing the id) = nil; want an error")
	}
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.CodeHash = full.CodeHash
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest(duplicate code hash)", err, storage.ErrAlreadyExists)
	got, err = s.GetAuthRequest(ctx, bare.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest after updates", got, want)
	err = s.UpdateAuthRequest(ctx, "missing", func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil })
	checkErr(t, `UpdateAuthRequest("missing")`, err, storage.ErrNotFound)

	checkErr(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, full.ID), nil)
	checkErr(t, "DeleteAuthRequest again", s.DeleteAuthRequest(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetAuthRequest(ctx, full.ID)
	checkErr(t, "GetAuthRequest after delete", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, full.CodeHash)
	checkErr(t, "GetAuthRequestByCode after delete", err, storage.ErrNotFound)
}

func testAuthRequestByCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	unused := newAuthRequest("req-unused", []byte("code-unused"), future)
	used := newAuthRequest("req-used", []byte("code-used"), future)
	used.CodeUsedAt = ptr(created)
	noCode := newAuthRequest("req-no-code", nil, future)
	for _, r := range []storage.AuthRequest{unused, used, noCode} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	// Requests without a code do not collide with each other.
	checkErr(t, "CreateAuthRequest(second without code)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-no-code-2", nil, future)), nil)

	for _, r := range []storage.AuthRequest{unused, used} {
		got, err := s.GetAuthRequestByCode(ctx, r.CodeHash)
		checkErr(t, "GetAuthRequestByCode", err, nil)
		checkEqual(t, fmt.Sprintf("GetAuthRequestByCode(%q)", r.CodeHash), got, r)
	}
	for _, hash := range [][]byte{[]byte("code-unknown"), nil, {}} {
		_, err := s.GetAuthRequestByCode(ctx, hash)
		checkErr(t, fmt.Sprintf("GetAuthRequestByCode(%q)", hash), err, storage.ErrNotFound)
	}
}

func testAuthRequestExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-expired", []byte("code-expired"), past)
	checkErr(t, "CreateAuthRequest(expired)", s.CreateAuthRequest(ctx, r), nil)

	_, err := s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest(expired)", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, r.CodeHash)
	checkErr(t, "GetAuthRequestByCode(expired)", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(ctx, r.CodeHash, time.Now())
	checkErr(t, "ClaimAuthCode(expired)", err, storage.ErrNotFound)
	err = s.UpdateAuthRequest(ctx, r.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		t.Errorf("updater called for an expired auth request")
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest(expired)", err, storage.ErrNotFound)
}

func testClaimAuthCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-1", []byte("code-1\x00"), future)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)

	now := time.Now()
	want := r
	want.CodeUsedAt = &now
	got, err := s.ClaimAuthCode(ctx, r.CodeHash, now)
	checkErr(t, "ClaimAuthCode", err, nil)
	checkEqual(t, "ClaimAuthCode", got, want)
	got, err = s.GetAuthRequestByCode(ctx, r.CodeHash)
	checkErr(t, "GetAuthRequestByCode after claim", err, nil)
	checkEqual(t, "GetAuthRequestByCode after claim", got, want)

	// The second use gets the request back, marked with the first use.
	got, err = s.ClaimAuthCode(ctx, r.CodeHash, now.Add(time.Second))
	checkErr(t, "ClaimAuthCode again", err, storage.ErrAlreadyUsed)
	checkEqual(t, "ClaimAuthCode again", got, want)

	for _, hash := range [][]byte{[]byte("code-unknown"), nil} {
		_, err = s.ClaimAuthCode(ctx, hash, now)
		checkErr(t, fmt.Sprintf("ClaimAuthCode(%q)", hash), err, storage.ErrNotFound)
	}
	// A request still waiting for its code has nothing to claim.
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, newAuthRequest("req-no-code", nil, future)), nil)
	_, err = s.ClaimAuthCode(ctx, []byte{}, now)
	checkErr(t, "ClaimAuthCode(empty)", err, storage.ErrNotFound)

	// Expiry is judged at the claim's now, used or not.
	soon := now.Add(time.Hour)
	r2 := newAuthRequest("req-2", []byte("code-2"), soon)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r2), nil)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, soon.Add(time.Second))
	checkErr(t, "ClaimAuthCode(after expiry)", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, now)
	checkErr(t, "ClaimAuthCode(before expiry)", err, nil)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, soon.Add(time.Second))
	checkErr(t, "ClaimAuthCode(used, after expiry)", err, storage.ErrNotFound)
}

func testClaimAuthCodeConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-1", []byte("code-raced"), future)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	now := time.Now()
	errs := race(16, func(int) error {
		got, err := s.ClaimAuthCode(ctx, r.CodeHash, now)
		if (err == nil || errors.Is(err, storage.ErrAlreadyUsed)) && got.ID != r.ID {
			return fmt.Errorf("claimed request %q; want %q (err %v)", got.ID, r.ID, err)
		}
		return err
	})
	checkSingleWinner(t, "ClaimAuthCode", errs)
}

// checkSingleWinner fails t unless exactly one of errs is nil and all the
// others are ErrAlreadyUsed.
func checkSingleWinner(t *testing.T, call string, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, storage.ErrAlreadyUsed):
		default:
			t.Errorf("%s: %v; want nil or ErrAlreadyUsed", call, err)
		}
	}
	if wins != 1 {
		t.Errorf("%s raced by %d: %d claims won; want exactly 1", call, len(errs), wins)
	}
}

func testAccessTokenCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newAccessToken("at-1", "grant-1", "session-1", future)
	// A client-credentials token: no account, session or grant.
	bare := storage.AccessToken{ID: "at-2", ClientID: "client-1", Scopes: []string{"api"}, CreatedAt: created, ExpiresAt: future}
	for _, at := range []storage.AccessToken{full, bare} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
		got, err := s.GetAccessToken(ctx, at.ID)
		checkErr(t, "GetAccessToken", err, nil)
		checkEqual(t, fmt.Sprintf("GetAccessToken(%q)", at.ID), got, at)
	}
	checkErr(t, "CreateAccessToken(duplicate)",
		s.CreateAccessToken(ctx, newAccessToken(full.ID, "grant-2", "", future)), storage.ErrAlreadyExists)
	_, err := s.GetAccessToken(ctx, "missing")
	checkErr(t, `GetAccessToken("missing")`, err, storage.ErrNotFound)

	expired := newAccessToken("at-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateAccessToken(expired)", s.CreateAccessToken(ctx, expired), nil)
	_, err = s.GetAccessToken(ctx, expired.ID)
	checkErr(t, "GetAccessToken(expired)", err, storage.ErrNotFound)

	checkErr(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, full.ID), nil)
	checkErr(t, "DeleteAccessToken again", s.DeleteAccessToken(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, full.ID)
	checkErr(t, "GetAccessToken after delete", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, bare.ID)
	checkErr(t, "GetAccessToken of the other token", err, nil)
}

func testRefreshTokenCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	unused := newRefreshToken("rt-1", "grant-1", "session-1", future)
	used := newRefreshToken("rt-2", "grant-1", "session-1", future)
	used.UsedAt = ptr(created.Add(time.Hour))
	for _, rt := range []storage.RefreshToken{unused, used} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
		got, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, "GetRefreshToken", err, nil)
		checkEqual(t, fmt.Sprintf("GetRefreshToken(%q)", rt.Hash), got, rt)
	}
	dup := newRefreshToken("rt-3", "grant-2", "", future)
	dup.Hash = unused.Hash
	checkErr(t, "CreateRefreshToken(duplicate hash)", s.CreateRefreshToken(ctx, dup), storage.ErrAlreadyExists)
	for _, hash := range [][]byte{[]byte("missing"), nil} {
		_, err := s.GetRefreshToken(ctx, hash)
		checkErr(t, fmt.Sprintf("GetRefreshToken(%q)", hash), err, storage.ErrNotFound)
	}
	// A hash differing only in a trailing byte is another token.
	_, err := s.GetRefreshToken(ctx, unused.Hash[:len(unused.Hash)-1])
	checkErr(t, "GetRefreshToken(prefix)", err, storage.ErrNotFound)

	expired := newRefreshToken("rt-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateRefreshToken(expired)", s.CreateRefreshToken(ctx, expired), nil)
	_, err = s.GetRefreshToken(ctx, expired.Hash)
	checkErr(t, "GetRefreshToken(expired)", err, storage.ErrNotFound)

	checkErr(t, "DeleteRefreshToken", s.DeleteRefreshToken(ctx, unused.Hash), nil)
	checkErr(t, "DeleteRefreshToken again", s.DeleteRefreshToken(ctx, unused.Hash), storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, unused.Hash)
	checkErr(t, "GetRefreshToken after delete", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, used.Hash)
	checkErr(t, "GetRefreshToken of the other token", err, nil)
}

func testClaimRefreshToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rt := newRefreshToken("rt-1", "grant-1", "session-1", future)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)

	now := time.Now()
	want := rt
	want.UsedAt = &now
	got, err := s.ClaimRefreshToken(ctx, rt.Hash, now)
	checkErr(t, "ClaimRefreshToken", err, nil)
	checkEqual(t, "ClaimRefreshToken", got, want)
	got, err = s.GetRefreshToken(ctx, rt.Hash)
	checkErr(t, "GetRefreshToken after claim", err, nil)
	checkEqual(t, "GetRefreshToken after claim", got, want)

	// Replay: the caller gets the token back to revoke its family.
	got, err = s.ClaimRefreshToken(ctx, rt.Hash, now.Add(time.Second))
	checkErr(t, "ClaimRefreshToken again", err, storage.ErrAlreadyUsed)
	checkEqual(t, "ClaimRefreshToken again", got, want)

	for _, hash := range [][]byte{[]byte("unknown"), nil} {
		_, err = s.ClaimRefreshToken(ctx, hash, now)
		checkErr(t, fmt.Sprintf("ClaimRefreshToken(%q)", hash), err, storage.ErrNotFound)
	}

	soon := now.Add(time.Hour)
	rt2 := newRefreshToken("rt-2", "grant-1", "session-1", soon)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt2), nil)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, soon.Add(time.Second))
	checkErr(t, "ClaimRefreshToken(after expiry)", err, storage.ErrNotFound)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, now)
	checkErr(t, "ClaimRefreshToken(before expiry)", err, nil)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, soon.Add(time.Second))
	checkErr(t, "ClaimRefreshToken(used, after expiry)", err, storage.ErrNotFound)

	expired := newRefreshToken("rt-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateRefreshToken(expired)", s.CreateRefreshToken(ctx, expired), nil)
	_, err = s.ClaimRefreshToken(ctx, expired.Hash, now)
	checkErr(t, "ClaimRefreshToken(expired)", err, storage.ErrNotFound)
}

func testClaimRefreshTokenConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rt := newRefreshToken("rt-raced", "grant-1", "session-1", future)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	now := time.Now()
	errs := race(16, func(int) error {
		got, err := s.ClaimRefreshToken(ctx, rt.Hash, now)
		if (err == nil || errors.Is(err, storage.ErrAlreadyUsed)) && got.ID != rt.ID {
			return fmt.Errorf("claimed token %q; want %q (err %v)", got.ID, rt.ID, err)
		}
		return err
	})
	checkSingleWinner(t, "ClaimRefreshToken", errs)
}

func testRevokeGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	revoked := []storage.AccessToken{
		newAccessToken("at-1", "grant-1", "session-1", future),
		newAccessToken("at-2", "grant-1", "session-2", future),
	}
	revokedRT := []storage.RefreshToken{
		newRefreshToken("rt-1", "grant-1", "session-1", future),
		newRefreshToken("rt-2", "grant-1", "session-1", future),
	}
	keptAT := newAccessToken("at-3", "grant-2", "session-1", future)
	keptRT := newRefreshToken("rt-3", "grant-2", "session-1", future)
	for _, at := range append(revoked, keptAT) {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	for _, rt := range append(revokedRT, keptRT) {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}

	checkErr(t, `RevokeGrant("grant-1")`, s.RevokeGrant(ctx, "grant-1"), nil)
	for _, at := range revoked {
		_, err := s.GetAccessToken(ctx, at.ID)
		checkErr(t, fmt.Sprintf("GetAccessToken(%q) after RevokeGrant", at.ID), err, storage.ErrNotFound)
	}
	for _, rt := range revokedRT {
		_, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, fmt.Sprintf("GetRefreshToken(%q) after RevokeGrant", rt.ID), err, storage.ErrNotFound)
	}
	got, err := s.GetAccessToken(ctx, keptAT.ID)
	checkErr(t, "GetAccessToken(other grant)", err, nil)
	checkEqual(t, "GetAccessToken(other grant)", got, keptAT)
	gotRT, err := s.GetRefreshToken(ctx, keptRT.Hash)
	checkErr(t, "GetRefreshToken(other grant)", err, nil)
	checkEqual(t, "GetRefreshToken(other grant)", gotRT, keptRT)

	// Nothing to revoke is not an error.
	checkErr(t, `RevokeGrant("grant-1") again`, s.RevokeGrant(ctx, "grant-1"), nil)
	checkErr(t, `RevokeGrant("unknown")`, s.RevokeGrant(ctx, "unknown"), nil)
}

// testRevokeRotatedGrant rotates a refresh token family a few times, each
// new token outliving the last (as refresh rotation does), then revokes
// the grant: every token of every rotation goes, whichever expires last.
// Then the same family rotated again in a new session is ended by
// DeleteSession.
func testRevokeRotatedGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rotate := func(grant, session string, n int) ([]storage.AccessToken, []storage.RefreshToken) {
		t.Helper()
		var ats []storage.AccessToken
		var rts []storage.RefreshToken
		for i := range n {
			expires := time.Now().Add(time.Duration(i+1) * 1000 * time.Hour)
			id := fmt.Sprintf("%s-%s-%d", grant, session, i)
			if i > 0 {
				_, err := s.ClaimRefreshToken(ctx, rts[i-1].Hash, time.Now())
				checkErr(t, "ClaimRefreshToken", err, nil)
			}
			at := newAccessToken("at-"+id, grant, session, expires)
			rt := newRefreshToken("rt-"+id, grant, session, expires)
			checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
			checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
			ats, rts = append(ats, at), append(rts, rt)
		}
		return ats, rts
	}
	gone := func(what string, ats []storage.AccessToken, rts []storage.RefreshToken, want error) {
		t.Helper()
		for _, at := range ats {
			_, err := s.GetAccessToken(ctx, at.ID)
			checkErr(t, fmt.Sprintf("GetAccessToken(%q) after %s", at.ID, what), err, want)
		}
		for _, rt := range rts {
			_, err := s.GetRefreshToken(ctx, rt.Hash)
			checkErr(t, fmt.Sprintf("GetRefreshToken(%q) after %s", rt.ID, what), err, want)
		}
	}
	ats, rts := rotate("grant-1", "session-1", 4)
	keptATs, keptRTs := rotate("grant-2", "session-1", 2)
	checkErr(t, `RevokeGrant("grant-1")`, s.RevokeGrant(ctx, "grant-1"), nil)
	gone(`RevokeGrant("grant-1")`, ats, rts, storage.ErrNotFound)
	gone(`RevokeGrant("grant-1")`, keptATs, keptRTs, nil)

	ats, rts = rotate("grant-3", "session-2", 3)
	checkErr(t, `DeleteSession("session-2")`, s.DeleteSession(ctx, "session-2"), storage.ErrNotFound) // no session row
	gone(`DeleteSession("session-2")`, ats, rts, storage.ErrNotFound)
	gone(`DeleteSession("session-2")`, keptATs, keptRTs, nil)
}

func testSessionCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newSession("0123abcd", future)
	bare := storage.Session{ID: "4567ef", AccountID: "account-2", CreatedAt: created, ExpiresAt: future}
	for _, sess := range []storage.Session{full, bare} {
		checkErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
		got, err := s.GetSession(ctx, sess.ID)
		checkErr(t, "GetSession", err, nil)
		checkEqual(t, fmt.Sprintf("GetSession(%q)", sess.ID), got, sess)
	}
	checkErr(t, "CreateSession(duplicate)", s.CreateSession(ctx, newSession(full.ID, future)), storage.ErrAlreadyExists)
	_, err := s.GetSession(ctx, "missing")
	checkErr(t, `GetSession("missing")`, err, storage.ErrNotFound)

	// A portal signs in through the session: step-up to level 3.
	want := full
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		checkEqual(t, "updater's argument", old, full)
		old.Clients = append(old.Clients, "client-2")
		old.ACR = "urn:cardsso:loa:3"
		old.AMR = append(old.AMR, "face")
		old.LastSeenAt = created.Add(time.Hour)
		old.ExpiresAt = future.Add(time.Hour)
		want = old
		return old, nil
	})
	checkErr(t, "UpdateSession", err, nil)
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		old.Clients = nil
		return old, errUpdater
	})
	checkErr(t, "UpdateSession(failing updater)", err, errUpdater)
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		old.ID = bare.ID
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateSession(changing the id) = nil; want an error")
	}
	got, err := s.GetSession(ctx, full.ID)
	checkErr(t, "GetSession", err, nil)
	checkEqual(t, "GetSession after updates", got, want)
	got, err = s.GetSession(ctx, bare.ID)
	checkErr(t, "GetSession", err, nil)
	checkEqual(t, "GetSession of the other session", got, bare)
	err = s.UpdateSession(ctx, "missing", func(sess storage.Session) (storage.Session, error) { return sess, nil })
	checkErr(t, `UpdateSession("missing")`, err, storage.ErrNotFound)

	checkErr(t, "DeleteSession", s.DeleteSession(ctx, full.ID), nil)
	checkErr(t, "DeleteSession again", s.DeleteSession(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetSession(ctx, full.ID)
	checkErr(t, "GetSession after delete", err, storage.ErrNotFound)
}

func testSessionExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess := newSession("expired", past)
	checkErr(t, "CreateSession(expired)", s.CreateSession(ctx, sess), nil)
	_, err := s.GetSession(ctx, sess.ID)
	checkErr(t, "GetSession(expired)", err, storage.ErrNotFound)
	err = s.UpdateSession(ctx, sess.ID, func(old storage.Session) (storage.Session, error) {
		t.Errorf("updater called for an expired session")
		old.ExpiresAt = future
		return old, nil
	})
	checkErr(t, "UpdateSession(expired)", err, storage.ErrNotFound)
	_, err = s.GetSession(ctx, sess.ID)
	checkErr(t, "GetSession(expired) after update", err, storage.ErrNotFound)
}

func testDeleteSessionRevokesTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ended, other := newSession("session-1", future), newSession("session-2", future)
	checkErr(t, "CreateSession", s.CreateSession(ctx, ended), nil)
	checkErr(t, "CreateSession", s.CreateSession(ctx, other), nil)
	revokedAT := newAccessToken("at-1", "grant-1", ended.ID, future)
	revokedRT := newRefreshToken("rt-1", "grant-1", ended.ID, future)
	keptAT := newAccessToken("at-2", "grant-2", other.ID, future)
	keptRT := newRefreshToken("rt-2", "grant-2", other.ID, future)
	// Client-credentials tokens belong to no session.
	noSessionAT := newAccessToken("at-3", "", "", future)
	for _, at := range []storage.AccessToken{revokedAT, keptAT, noSessionAT} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	for _, rt := range []storage.RefreshToken{revokedRT, keptRT} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}

	checkErr(t, "DeleteSession", s.DeleteSession(ctx, ended.ID), nil)
	_, err := s.GetSession(ctx, ended.ID)
	checkErr(t, "GetSession after delete", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, revokedAT.ID)
	checkErr(t, "GetAccessToken of the ended session", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, revokedRT.Hash)
	checkErr(t, "GetRefreshToken of the ended session", err, storage.ErrNotFound)

	got, err := s.GetSession(ctx, other.ID)
	checkErr(t, "GetSession(other)", err, nil)
	checkEqual(t, "GetSession(other)", got, other)
	for _, at := range []storage.AccessToken{keptAT, noSessionAT} {
		_, err = s.GetAccessToken(ctx, at.ID)
		checkErr(t, fmt.Sprintf("GetAccessToken(%q) of another session", at.ID), err, nil)
	}
	_, err = s.GetRefreshToken(ctx, keptRT.Hash)
	checkErr(t, "GetRefreshToken of another session", err, nil)

	checkErr(t, `DeleteSession("missing")`, s.DeleteSession(ctx, "missing"), storage.ErrNotFound)
}

func testSigningKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	if len(keys) != 0 {
		t.Errorf("ListSigningKeys on an empty store = %+v; want none", keys)
	}

	older := newSigningKey("kid-old", created, storage.KeyActive)
	older.ActivatedAt = ptr(created.Add(time.Minute))
	newer := newSigningKey("kid-new", created.Add(time.Hour), storage.KeyNext)
	// Handed over newest first; listed oldest first.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		if len(old) != 0 {
			t.Errorf("updater's argument = %+v; want none", old)
		}
		return []storage.SigningKey{newer, older}, nil
	})
	checkErr(t, "UpdateSigningKeys", err, nil)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys", keys, []storage.SigningKey{older, newer})

	// Rotate: the next key signs, the active one retires, a new next key
	// appears, and an expired retired key (none yet) would go.
	retired := older
	retired.State = storage.KeyRetired
	retired.RetiredAt = ptr(created.Add(2 * time.Hour))
	retired.ExpiresAt = ptr(created.Add(3 * time.Hour))
	active := newer
	active.State = storage.KeyActive
	active.ActivatedAt = ptr(created.Add(2 * time.Hour))
	next := newSigningKey("kid-next", created.Add(2*time.Hour), storage.KeyNext)
	// A key of another use, with its certificate, is kept as it is.
	saml := newSigningKey("kid-saml", created.Add(3*time.Hour), storage.KeyActive)
	saml.Algorithm, saml.Use, saml.Certificate = "RS256", storage.KeyUseSAML, blob(9)
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		checkEqual(t, "updater's argument", old, []storage.SigningKey{older, newer})
		return []storage.SigningKey{retired, active, next, saml}, nil
	})
	checkErr(t, "UpdateSigningKeys(rotate)", err, nil)
	want := []storage.SigningKey{retired, active, next, saml}
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after rotation", keys, want)

	// A failing updater writes nothing.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		return nil, errUpdater
	})
	checkErr(t, "UpdateSigningKeys(failing updater)", err, errUpdater)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after a failing updater", keys, want)

	// Dropping a key removes it.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		return old[1:], nil
	})
	checkErr(t, "UpdateSigningKeys(drop)", err, nil)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after dropping the retired key", keys, want[1:])
}

func testSigningKeysConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Each updater adds a key only if there are fewer than 2: if any of them
	// saw a stale set, the result has more than 2.
	const n = 8
	errs := race(n, func(i int) error {
		return s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
			if len(old) >= 2 {
				return old, nil
			}
			k := newSigningKey(fmt.Sprintf("kid-%d", i), created.Add(time.Duration(i)*time.Second), storage.KeyNext)
			return append(old, k), nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("UpdateSigningKeys #%d", i), err, nil)
	}
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	if len(keys) != 2 {
		t.Errorf("after %d racing add-if-fewer-than-2 updates, ListSigningKeys = %+v; want 2 keys", n, keys)
	}
}

func testDeleteExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Rows that do not expire stay whatever their times.
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, newAccount("acct-1", 1)), nil)
	checkErr(t, "CreateClient", s.CreateClient(ctx, newClient("client-1")), nil)
	key := newSigningKey("kid", past, storage.KeyRetired)
	key.ExpiresAt = ptr(past)
	checkErr(t, "UpdateSigningKeys", s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{key}, nil
	}), nil)

	var expired int64
	for _, r := range []storage.AuthRequest{
		newAuthRequest("req-expired", []byte("code-expired"), past),
		newAuthRequest("req-live", []byte("code-live"), future),
	} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	expired++
	for _, at := range []storage.AccessToken{
		newAccessToken("at-expired-1", "grant-1", "session-1", past),
		newAccessToken("at-expired-2", "grant-1", "session-1", past),
		newAccessToken("at-live", "grant-1", "session-1", future),
	} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	expired += 2
	for _, rt := range []storage.RefreshToken{
		newRefreshToken("rt-expired", "grant-1", "session-1", past),
		newRefreshToken("rt-live", "grant-1", "session-1", future),
	} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}
	expired++
	for _, sess := range []storage.Session{newSession("session-expired", past), newSession("session-live", future)} {
		checkErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	}
	expired++

	n, err := s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired", err, nil)
	if n != expired {
		t.Errorf("DeleteExpired = %d; want %d", n, expired)
	}
	n, err = s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired again", err, nil)
	if n != 0 {
		t.Errorf("DeleteExpired again = %d; want 0", n)
	}

	// The expired rows are gone, not merely hidden: their keys are free.
	checkErr(t, "CreateAuthRequest(reused id)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-expired", []byte("code-expired"), future)), nil)
	checkErr(t, "CreateAccessToken(reused id)",
		s.CreateAccessToken(ctx, newAccessToken("at-expired-1", "grant-1", "session-1", future)), nil)
	checkErr(t, "CreateRefreshToken(reused hash)",
		s.CreateRefreshToken(ctx, newRefreshToken("rt-expired", "grant-1", "session-1", future)), nil)
	checkErr(t, "CreateSession(reused id)", s.CreateSession(ctx, newSession("session-expired", future)), nil)

	_, err = s.GetAuthRequest(ctx, "req-live")
	checkErr(t, "GetAuthRequest(live)", err, nil)
	_, err = s.GetAccessToken(ctx, "at-live")
	checkErr(t, "GetAccessToken(live)", err, nil)
	_, err = s.GetRefreshToken(ctx, newRefreshToken("rt-live", "", "", future).Hash)
	checkErr(t, "GetRefreshToken(live)", err, nil)
	_, err = s.GetSession(ctx, "session-live")
	checkErr(t, "GetSession(live)", err, nil)
	_, err = s.GetAccount(ctx, "acct-1")
	checkErr(t, "GetAccount", err, nil)
	_, err = s.GetClient(ctx, "client-1")
	checkErr(t, "GetClient", err, nil)
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after DeleteExpired", keys, []storage.SigningKey{key})
}
