// Package release provides CardSSO's attribute release rules: which claims a
// scope stands for and which scopes a client may be given, whatever it asks.
// The rules are protocol-neutral: OpenID Connect scopes and SAML attribute
// allow-lists both go through them.
//
//	scope          claims                                  who may have it
//	openid         sub (pairwise by default)               every client
//	profile        name                                    every client
//	cardsso.card   ssn_masked, card_region, card_status    every client
//	cardsso.ssn    ssn (the full number)                   only clients whose allow-list names it
//	cardsso.license  (the signed licence document)         only clients whose allow-list names it
//	cardsso.counter  (staff apps: verify counter codes)    only clients whose allow-list names it
//
// A restricted scope a client is not allowed is dropped from the request
// (the token response's scope shows what was granted) and its claims never
// appear.
package release
