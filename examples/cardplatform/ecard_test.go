package main

import (
	"net/http"
	"testing"

	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

// withECard stands for a simulator that offers the e-card and its app API.
type withECard struct{ server.ECard }

func (withECard) AppHandler() http.Handler { return http.NotFoundHandler() }

// TestECardOf: the e-card and the app API are taken from the simulator
// when it offers them, and left out when it does not.
func TestECardOf(t *testing.T) {
	if e, app := ecardOf(withECard{}); e == nil || app == nil {
		t.Errorf("ecardOf(an e-card with an app API) = %v, %v; want both", e, app)
	}
	if e, app := ecardOf(struct{}{}); e != nil || app != nil {
		t.Errorf("ecardOf(no e-card) = %v, %v; want nil, nil", e, app)
	}
}
