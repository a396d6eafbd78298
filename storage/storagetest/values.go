package storagetest

import (
	"time"

	"github.com/cardsso/cardsso/storage"
)

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
