package ecard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

type fakeTokens struct{ t Token }

func (f fakeTokens) Token(*http.Request, string) (Token, error) { return f.t, nil }

type fakeCounter struct{ res connectors.CounterResult }

func (f fakeCounter) VerifyCounterCode(context.Context, string) (connectors.CounterResult, error) {
	return f.res, nil
}

// failingLog is a store whose record cannot be written.
type failingLog struct{ recorded []storage.CounterVerification }

func (*failingLog) GetAccount(context.Context, string) (storage.Account, error) {
	return storage.Account{}, storage.ErrNotFound
}
func (f *failingLog) RecordCounterVerification(_ context.Context, v storage.CounterVerification) error {
	f.recorded = append(f.recorded, v)
	return errors.New("disk full")
}
func (*failingLog) ListCounterVerifications(context.Context, string) ([]storage.CounterVerification, error) {
	return nil, nil
}

// TestVerifyUnrecordedIsUnavailable: a valid code whose verification
// cannot be recorded is answered 503, naming no one.
func TestVerifyUnrecordedIsUnavailable(t *testing.T) {
	n, err := citizenid.Parse("110105199003070017")
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{
		Counter: fakeCounter{connectors.CounterResult{Outcome: connectors.CounterValid, Number: n, Name: "张三", BindingID: "b1"}},
		Tokens:  fakeTokens{Token{ClientID: "desk", AllowedClaims: []string{release.ScopeCounter}, Scopes: []string{release.ScopeCounter}}},
		Store:   &failingLog{},
	})
	mux := http.NewServeMux()
	h.Register(mux)
	req := httptest.NewRequest(http.MethodPost, VerifyPath, strings.NewReader(`{"code":"x"}`))
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "张三") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("POST %s with the record failing = %d %s; want 503 naming no one", VerifyPath, rec.Code, rec.Body)
	}
}

// TestVerifyLicenceRefusals: each refusal names its reason (errors.Is).
func TestVerifyLicenceRefusals(t *testing.T) {
	keys := []jose.JSONWebKey{}
	for _, tc := range []struct {
		name, jws string
		want      error
	}{
		{"not a JWS", "not-a-jws", ErrNotLicence},
		{"unsigned", "eyJhbGciOiJub25lIn0.e30.", ErrNotLicence},
	} {
		if _, err := VerifyLicence(tc.jws, keys, ""); !errors.Is(err, tc.want) {
			t.Errorf("%s: VerifyLicence = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestBearerOf(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Basic abc", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tc.header)
		if got, ok := bearerOf(r); got != tc.want || ok != tc.ok {
			t.Errorf("bearerOf(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
