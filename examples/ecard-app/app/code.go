package app

import (
	"github.com/skip2/go-qrcode"

	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// CounterCode is a fresh counter code: the compact JWS of an
// ecardapp.CounterCode (use counter, a fresh jti, iat now, exp
// ecardapp.CounterCodeLifetime later) signed by the app's key.
func (a *App) CounterCode() (string, error) {
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := a.now()
	return ecardapp.Sign(a.Key, a.BindingID, ecardapp.CounterCode{
		Use: ecardapp.UseCounter, JTI: jti, IssuedAt: now.Unix(), Expiry: now.Add(ecardapp.CounterCodeLifetime).Unix(),
	})
}

// QRLevel is the error correction of the app's QR codes: medium (15%),
// which a phone camera reads off a screen at a JWS's length.
const QRLevel = qrcode.Medium

// QRText draws text as a QR code in text blocks, two module rows to a
// line (▀ ▄ █ and space), with the quiet zone. By default light modules
// are the blocks, which suits a terminal with light text on a dark
// background; lightBackground draws the dark modules as blocks instead.
func QRText(text string, lightBackground bool) (string, error) {
	q, err := qrcode.New(text, QRLevel)
	if err != nil {
		return "", err
	}
	return q.ToSmallString(lightBackground), nil
}
