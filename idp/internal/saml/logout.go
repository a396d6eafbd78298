package saml

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/storage"
)

// Single logout (saml-profiles-2.0-os §4.4).
//
// SP-initiated, at /saml/slo (HTTP-Redirect or HTTP-POST, signed):
//
//	SP A ──LogoutRequest──▶ /saml/slo  guard; the sessions it may name: the
//	                        browser's (cookie) and those its SessionIndexes
//	                        open to (a POST carries no cookie)
//	crewjam: signature, destination, time, replay (RecordOnce), A must be a
//	participant; InvalidateSession ends the matching SSO sessions and tells
//	Config.SessionEnded (OIDC back-channel logout)
//	──LogoutRequest──▶ SP B ──LogoutResponse──▶ /saml/slo … (each other SAML
//	participant, one at a time, state in a signed cookie)
//	──LogoutResponse──▶ SP A
//
// RP-initiated OIDC logout and the logout page end the session at /logout
// first; KeepParticipants keeps the session's SAML participants in a record of
// the ended session, and LogoutChain sends the browser through
// /saml/slo/start, which sends each of them a LogoutRequest and then goes on
// to the post-logout destination.

// slo serves the SingleLogoutService: LogoutRequests from SPs and the
// LogoutResponses of SPs the IdP sent a LogoutRequest to.
func (p *Provider) slo(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	m, err := readMessage(r)
	if err != nil {
		p.refuse(w, r, err)
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml slo", err)
		return
	}
	if m.Param == "SAMLResponse" {
		idp.ServeSLO(w, r)
		return
	}
	f := p.logoutCandidates(r, m.XML)
	idp.ServeSLO(w, r.WithContext(withFlow(r.Context(), f)))
}

// logoutCandidates lists the SSO sessions a LogoutRequest may end: those
// its SessionIndexes (sealed for its issuer) open to, and the browser's.
// The request is not authenticated yet: crewjam/saml verifies it and then
// matches each candidate against its NameID and SessionIndexes.
func (p *Provider) logoutCandidates(r *http.Request, doc []byte) *flow {
	var peek struct {
		Issuer  string   `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
		Indexes []string `xml:"urn:oasis:names:tc:SAML:2.0:protocol SessionIndex"`
	}
	f := &flow{}
	if err := xml.Unmarshal(doc, &peek); err != nil {
		return f
	}
	f.issuer = strings.TrimSpace(peek.Issuer)
	for i, idx := range peek.Indexes {
		if i >= 16 {
			break
		}
		idx = strings.TrimSpace(idx)
		if sid, ok := p.openSessionIndex(idx, f.issuer); ok {
			f.candidates = append(f.candidates, candidate{sessionID: sid, index: idx})
		}
	}
	if cur, live, err := p.cfg.Sessions.Current(r); err == nil && live {
		f.candidates = append(f.candidates, candidate{sessionID: cur.ID})
	}
	return f
}

// candidateSession describes a candidate session as the LogoutRequest's
// issuer knows it: the NameID and SessionIndex of its assertion in that
// session (the candidate's own index when the request named it).
func (p *Provider) candidateSession(ctx context.Context, issuer string, c candidate) (*crewjam.Session, []storage.SessionParticipant, error) {
	parts, err := p.cfg.Store.ListSessionParticipants(ctx, c.sessionID)
	if err != nil {
		return nil, nil, err
	}
	s := &crewjam.Session{ID: c.sessionID, Index: c.index}
	for _, pt := range parts {
		if pt.EntityID == issuer {
			s.NameID, s.NameIDFormat = pt.NameID, pt.NameIDFormat
			if s.Index == "" {
				s.Index = pt.SessionIndex
			}
		}
	}
	return s, parts, nil
}

// AddSessionParticipant records that the session's SSO session issued an
// assertion to an SP (crewjam/saml's SessionParticipantTracker).
func (s sessionProvider) AddSessionParticipant(r *http.Request, sess *crewjam.Session, pt crewjam.SessionParticipant) error {
	return s.p.cfg.Store.AddSessionParticipant(r.Context(), storage.SessionParticipant{
		SessionID: sess.ID, EntityID: pt.ServiceProviderID, NameID: pt.NameID.Value, NameIDFormat: pt.NameID.Format,
		NameQualifier: pt.NameID.NameQualifier, SPNameQualifier: pt.NameID.SPNameQualifier,
		SessionIndex: pt.SessionIndex, CreatedAt: s.p.cfg.Now().UTC(),
	})
}

// SessionParticipants lists the participants of the candidate sessions that
// match (crewjam/saml's SessionParticipantTracker).
func (s sessionProvider) SessionParticipants(r *http.Request, match func(*crewjam.Session) bool) ([]crewjam.SessionParticipant, error) {
	f := flowOf(r.Context())
	var out []crewjam.SessionParticipant
	for _, c := range f.candidates {
		sess, parts, err := s.p.candidateSession(r.Context(), f.issuer, c)
		if err != nil {
			return nil, err
		}
		if !match(sess) {
			continue
		}
		for _, pt := range parts {
			out = append(out, crewjam.SessionParticipant{
				ServiceProviderID: pt.EntityID, SessionIndex: pt.SessionIndex,
				NameID: crewjam.NameID{Value: pt.NameID, Format: pt.NameIDFormat, NameQualifier: pt.NameQualifier, SPNameQualifier: pt.SPNameQualifier},
			})
		}
	}
	return out, nil
}

// InvalidateSession ends the candidate SSO sessions the validated
// LogoutRequest names (crewjam/saml's SessionInvalidator): each is deleted
// (with the tokens issued in it), the browser's cookie cleared when it was
// the browser's, and Config.SessionEnded told.
func (s sessionProvider) InvalidateSession(w http.ResponseWriter, r *http.Request, req *crewjam.IdpLogoutRequest) error {
	ctx := r.Context()
	p := s.p
	f := flowOf(ctx)
	cur, live, _ := p.cfg.Sessions.Current(r)
	var ended []string
	for _, c := range f.candidates {
		if slices.Contains(ended, c.sessionID) {
			continue
		}
		sess, _, err := p.candidateSession(ctx, req.ServiceProviderMetadata.EntityID, c)
		if err != nil {
			return err
		}
		if !req.MatchesSession(sess) {
			continue
		}
		st, err := p.cfg.Store.GetSession(ctx, c.sessionID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := p.cfg.Store.DeleteSession(ctx, c.sessionID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		ended = append(ended, c.sessionID)
		if live && cur.ID == c.sessionID {
			// The session is gone: End only clears the cookie.
			if _, _, err := p.cfg.Sessions.End(ctx, w, r); err != nil {
				return err
			}
		}
		p.cfg.Logger.InfoContext(ctx, "saml logout", "sp", req.ServiceProviderMetadata.EntityID, "account", st.AccountID, "clients", st.Clients)
		if p.cfg.SessionEnded != nil {
			p.cfg.SessionEnded(ctx, st)
		}
	}
	if len(ended) == 0 {
		p.cfg.Logger.InfoContext(ctx, "saml logout: no session to end", "sp", req.ServiceProviderMetadata.EntityID)
	}
	return nil
}

// Records of ended sessions (for the SAML logout chain after /logout) are
// sessions with an id no cookie hashes to ("slo:…"), holding the ended
// session's SAML participants until the chain has read them (or
// LogoutStateLifetime, when the collector removes them).
const endedPrefix = "slo:"

func endedID(links MAC, sessionID string) string {
	return endedPrefix + base64.RawURLEncoding.EncodeToString(links.Sum([]byte("saml-ended-session\x00" + sessionID))[:24])
}

// KeepParticipants wraps the store the session manager ends sessions with
// (inner): before a session with SAML participants is deleted, they are
// copied from store to a record of the ended session, for
// Provider.LogoutChain (links must be the Provider's Config.Links). A
// failure to copy is logged and does not stop the logout.
func KeepParticipants(inner session.Store, store storage.Store, links MAC, logger *slog.Logger, now func() time.Time) session.Store {
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return endingStore{Store: inner, store: store, links: links, log: logger, now: now}
}

type endingStore struct {
	session.Store
	store storage.Store
	links MAC
	log   *slog.Logger
	now   func() time.Time
}

func (e endingStore) DeleteSession(ctx context.Context, id string) error {
	if err := e.keepParticipants(ctx, id); err != nil {
		e.log.WarnContext(ctx, "saml: keep the participants of an ending session", "error", err)
	}
	return e.Store.DeleteSession(ctx, id)
}

func (e endingStore) keepParticipants(ctx context.Context, id string) error {
	parts, err := e.store.ListSessionParticipants(ctx, id)
	if err != nil || len(parts) == 0 {
		return err
	}
	now := e.now().UTC()
	// The record names no account and no client: nothing reads it as a
	// citizen's session, and no cookie hashes to its id.
	rec := storage.Session{
		ID: endedID(e.links, id), AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(crewjam.LogoutStateLifetime),
	}
	if err := e.store.CreateSession(ctx, rec); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	for _, pt := range parts {
		pt.SessionID = rec.ID
		if err := e.store.AddSessionParticipant(ctx, pt); err != nil {
			return err
		}
	}
	return nil
}

// LogoutChain returns where the browser goes after /logout ended session s
// to log out of its SAML participants (and then go on to next, a local path
// or a validated post-logout redirect), or "" when it has none.
func (p *Provider) LogoutChain(ctx context.Context, s storage.Session, next string) string {
	if !slices.ContainsFunc(s.Clients, func(c string) bool { return strings.HasPrefix(c, "saml:") }) {
		return ""
	}
	rec := endedID(p.cfg.Links, s.ID)
	if parts, err := p.cfg.Store.ListSessionParticipants(ctx, rec); err != nil || len(parts) == 0 {
		return ""
	}
	v := url.Values{"t": {rec}, "to": {next}, "sig": {p.linkSig(rec, next)}}
	return PathSLOStart + "?" + v.Encode()
}

func (p *Provider) linkSig(rec, next string) string {
	return base64.RawURLEncoding.EncodeToString(p.cfg.Links.Sum([]byte("saml-slo-start\x00" + rec + "\x00" + next)))
}

// sloStart sends the browser through the SAML participants of an ended
// session (IdP-initiated logout, one LogoutRequest at a time), then to the
// link's destination. The record is read once.
func (p *Provider) sloStart(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	ctx := r.Context()
	q := r.URL.Query()
	rec, next, sig := q.Get("t"), q.Get("to"), q.Get("sig")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !strings.HasPrefix(rec, endedPrefix) || !p.cfg.Links.Equal([]byte("saml-slo-start\x00"+rec+"\x00"+next), mac) {
		p.errorPage(w, http.StatusBadRequest, "logout_link")
		return
	}
	if _, err := p.cfg.Store.GetSession(ctx, rec); err != nil {
		// Used or expired: nothing left to log out of.
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml logout chain", err)
		return
	}
	f := &flow{candidates: []candidate{{sessionID: rec}}}
	idp.StartLogout(w, r.WithContext(withFlow(ctx, f)), &crewjam.Session{ID: rec}, next)
	if err := p.cfg.Store.DeleteSession(ctx, rec); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.cfg.Logger.WarnContext(ctx, "saml: delete the record of an ended session", "error", err)
	}
}
