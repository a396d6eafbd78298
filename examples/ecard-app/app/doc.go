// Package app is the client side of the e-card app API
// (connectors/ecardapp, docs/cardplatform-api.md): what a phone app does,
// for the ecard-app command and for tests that play the citizen's phone.
//
//	Bind:        new P-256 key ── POST {platform}/v1/bindings ──▶ binding id
//	             key file (0600): private JWK, binding id, platform, masked number
//	scan:        QR payload ──▶ ticket URL (must be under the key file's platform)
//	             GET ticket ──▶ portal, expiry ──▶ holder says yes
//	             POST {ticket}/confirm (or /refuse), body: JWS {ticket, jti, iat, exp}
//	show-code:   JWS {use: counter, jti, iat, exp} ──▶ QR on the terminal
//
// A ticket URL that is not under the platform the app is bound to is
// refused before anything is sent: a login page that relays another
// platform's ticket could otherwise obtain a confirmation signed by this
// app's key and replay it (the relay shows the app a portal name it
// chose; the app only trusts the one its own platform gives).
//
// Only http and https URLs are accepted, and http only for a loopback host
// (a demo on one machine). Answers are read up to MaxAnswer bytes.
package app
