package cardplatform_test

import (
	"net/http/httptest"
	"testing"

	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
	"github.com/cardsso/cardsso/internal/testlog"
)

// TestECardSuite runs the e-card suite against the client talking to
// examples/cardplatform's server over the simulator, the suite's app
// speaking to the simulator's app API that the server mounts under /app.
func TestECardSuite(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "https://" + srv.Listener.Addr().String() + "/app"
	sim, err := simulator.New(simulator.Config{AppBaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	h, err := server.NewHandler(server.Config{
		Clients: map[string]string{testClientID: testSecret},
		Checker: sim, ECard: sim, App: sim.AppHandler(), Logger: newLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p := &platform{srv: srv, caFile: writeCertPEM(t, srv.Certificate()), logs: logs}
	connectorstest.TestECard(t, newClient(t, p.config()), &connectorstest.HTTPApp{BaseURL: base, Client: srv.Client()})
}
