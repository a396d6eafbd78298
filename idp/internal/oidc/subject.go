package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/cardsso/cardsso/storage"
)

// Subjects (OIDC Core §8): by default a client sees a pairwise sub, the same
// for every client of one sector and unlinkable across sectors:
//
//	sub = base64url(HMAC-SHA256(pairwise key, sector ‖ 0x00 ‖ account id))
//
// The sector is the host of the registered sector_identifier_uri, or else
// the host of the redirect URIs (which must then share one host). A client
// registered with a public subject sees the account id itself. Neither is
// ever the social security number.

// Sector returns the pairwise sector of a client.
func Sector(c storage.Client) (string, error) {
	if c.SectorIdentifierURI != "" {
		u, err := url.Parse(c.SectorIdentifierURI)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("sector_identifier_uri %q has no host", c.SectorIdentifierURI)
		}
		return strings.ToLower(u.Hostname()), nil
	}
	host := ""
	for _, ru := range c.RedirectURIs {
		u, err := url.Parse(ru)
		if err != nil {
			return "", fmt.Errorf("redirect uri %q: %w", ru, err)
		}
		h := strings.ToLower(u.Hostname())
		if h == "" { // a private-use scheme: the scheme names the app
			h = strings.ToLower(u.Scheme)
		}
		if host != "" && h != host {
			return "", errMixedSectors
		}
		host = h
	}
	if host == "" {
		return "", errors.New("no redirect uri to take the sector from")
	}
	return host, nil
}

var errMixedSectors = errors.New("redirect uris on several hosts need a sector_identifier_uri for pairwise subjects")

// subjectOf is the sub a client sees for an account.
func (s *Storage) subjectOf(c storage.Client, accountID string) string {
	if c.PublicSubject {
		return accountID
	}
	sector, err := Sector(c)
	if err != nil {
		// Registration refuses such clients; fall back to the client id,
		// which is still pairwise and stable.
		sector = "client:" + c.ID
	}
	m := hmac.New(sha256.New, s.cfg.PairwiseKey)
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(accountID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// HintMatches reports whether an id_token_hint's subject, as the named
// client sees it ("<client id> <sub>"), is the account: used by the logout
// page, which knows the session's account but not the client's pairwise sub.
func (s *Storage) HintMatches(ctx context.Context, hint, accountID string) bool {
	clientID, sub, ok := strings.Cut(hint, " ")
	if !ok || sub == "" {
		return false
	}
	c, err := s.Client(ctx, clientID)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(s.subjectOf(c, accountID)), []byte(sub))
}
