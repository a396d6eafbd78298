package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// Holder is who the app binds to, as the holder types it in.
type Holder struct {
	Name       string
	Number     string // 18 characters, GB 11643-1999
	CardNumber string
	DeviceName string // 1 to 64 characters
}

// ErrHolder means the holder's details are malformed before anything is
// sent (the platform's checks decide whether they match).
var ErrHolder = errors.New("holder details")

func (h Holder) check() error {
	switch n := utf8.RuneCountInString(h.DeviceName); {
	case h.Name == "":
		return fmt.Errorf("%w: a name is required", ErrHolder)
	case h.CardNumber == "":
		return fmt.Errorf("%w: a card number is required", ErrHolder)
	case n < 1 || n > 64:
		return fmt.Errorf("%w: a device name of 1 to 64 characters is required (got %d)", ErrHolder, n)
	}
	if _, err := citizenid.Parse(h.Number); err != nil {
		return fmt.Errorf("%w: number %s: %v", ErrHolder, citizenid.Mask(h.Number), err)
	}
	return nil
}

// Bind makes a new P-256 key and binds it to the holder at the platform
// whose app API is at base (POST base + ecardapp.PathBindings). The App
// it returns uses hc (nil: NewHTTPClient()); save it with Save.
func Bind(ctx context.Context, hc *http.Client, base string, h Holder) (*App, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	base, err := ParseBase(base)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk, err := ecardapp.PublicJWK(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	a := &App{Platform: base, DeviceName: h.DeviceName, MaskedNumber: citizenid.Mask(h.Number), Key: key, HTTP: hc}
	body, err := json.Marshal(ecardapp.BindRequest{
		Name: h.Name, Number: h.Number, CardNumber: h.CardNumber, DeviceName: h.DeviceName, PublicKey: jwk,
	})
	if err != nil {
		return nil, err
	}
	var resp ecardapp.BindResponse
	if err := a.do(ctx, http.MethodPost, base+ecardapp.PathBindings, "application/json", body, &resp); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	if resp.BindingID == "" {
		return nil, errors.New("bind: the platform's answer has no binding id")
	}
	a.BindingID, a.BoundAt = resp.BindingID, resp.BoundAt
	return a, nil
}
