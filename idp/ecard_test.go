package idp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/idp"
)

// TestECardAppAPIServed: a node on the simulator serves the e-card app API
// below its issuer (idp.AppAPIPath), so that `cardsso serve` alone can bind
// an app: a demo holder binds through the node's listener, a holder whose
// card is reported lost is refused, and errors are the app API's JSON.
func TestECardAppAPIServed(t *testing.T) {
	n := startNode(t)
	app := &connectorstest.HTTPApp{BaseURL: n.issuer + idp.AppAPIPath}
	ctx := context.Background()
	id, err := app.Bind(ctx, "张三", "110105199003070017", "A00000001")
	if err != nil || id == "" {
		t.Fatalf("bind 张三 through the node: %q, %v", id, err)
	}
	_, err = app.Bind(ctx, "李四", "440305198511120028", "A00000002")
	var ae *connectorstest.AppError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "not_matched" {
		t.Errorf("bind 李四 (card reported lost) = %v; want 403 not_matched", err)
	}
	resp, err := http.Get(n.issuer + idp.AppAPIPath + "/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), `"ticket_gone"`) {
		t.Errorf("GET an unknown ticket = %d %s; want 410 ticket_gone", resp.StatusCode, body)
	}
	if strings.Contains(n.logs.String(), "110105199003070017") {
		t.Error("the node logged a full social security number")
	}
}
