package saml

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/cardsso/cardsso/storage"
)

// idpInitiated starts IdP-initiated SSO to a registered SP:
// GET /saml/idp-initiated?sp=<id or entity id>[&RelayState=…]. The citizen
// logs in (or is already), then an unsolicited Response is posted to the
// SP's default ACS.
//
// Any page can link here, and the Response goes to the SP in the victim's
// session, so it is refused (403, before any login) unless the SP opted in
// (storage.ServiceProvider.IdPInitiated, `cardsso sps add --idp-initiated`),
// and the RelayState must be empty or exactly one of the SP's RelayStates:
// an attacker cannot choose where an SP that follows RelayState lands the
// citizen. A RelayState over MaxRelayState bytes (saml-bindings-2.0-os
// §3.4.3) is refused with 400, and so is a repeated sp or RelayState
// parameter. Every refusal is logged ("saml idp-initiated refused").
func (p *Provider) idpInitiated(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	ctx := r.Context()
	q := r.URL.Query()
	if len(q["sp"]) > 1 || len(q["RelayState"]) > 1 {
		p.refuse(w, r, inputErr(ErrMalformed, "repeated sp or RelayState parameter"))
		return
	}
	relay := q.Get("RelayState")
	if len(relay) > MaxRelayState {
		p.refuse(w, r, inputErr(ErrRelayState, "%d bytes, at most %d", len(relay), MaxRelayState))
		return
	}
	sp, err := p.lookupSP(ctx, q.Get("sp"))
	if errors.Is(err, storage.ErrNotFound) {
		p.errorPage(w, http.StatusNotFound, "unknown_sp")
		return
	}
	if err != nil {
		p.internal(w, r, "saml idp-initiated: find service provider", err)
		return
	}
	if reason, page := idpInitiatedRefusal(sp, relay); reason != "" {
		p.cfg.Logger.WarnContext(ctx, "saml idp-initiated refused", "sp", sp.EntityID, "reason", reason,
			"relay_state", relay, "referer_host", refererHost(r))
		p.errorPage(w, http.StatusForbidden, page)
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml idp-initiated", err)
		return
	}
	p.cfg.Logger.InfoContext(ctx, "saml idp-initiated", "sp", sp.EntityID, "relay_state", relay != "")
	idp.ServeIDPInitiated(w, r, sp.EntityID, relay)
}

// idpInitiatedRefusal says why IdP-initiated SSO to sp with this RelayState
// is refused (the log reason and the error page key), or "" when it is
// allowed: the SP opted in, and the RelayState is empty or exactly one of
// its RelayStates. A continuation of a parked IdP-initiated request may ask
// again, for an SP switched off meanwhile.
func idpInitiatedRefusal(sp storage.ServiceProvider, relay string) (reason, page string) {
	switch {
	case !sp.IdPInitiated:
		return "not_enabled", "idp_initiated_off"
	case relay != "" && !slices.Contains(sp.RelayStates, relay):
		return "relay_state_not_allowed", "relay_state_unlisted"
	}
	return "", ""
}

// refererHost is the host of the Referer header, if any, for the log: the
// page that sent the browser here.
func refererHost(r *http.Request) string {
	u, err := url.Parse(r.Referer())
	if err != nil {
		return ""
	}
	return u.Host
}
