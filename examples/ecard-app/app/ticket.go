package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// ErrNoTicket means a scanned payload holds no ticket URL.
var ErrNoTicket = errors.New("no ticket URL")

// ErrOtherPlatform means a ticket URL is not under the platform the app is
// bound to: a ticket relayed from elsewhere, which the app never confirms.
var ErrOtherPlatform = errors.New("the ticket is not from the platform this app is bound to")

// ErrNotPending means the ticket was confirmed, refused or has expired.
var ErrNotPending = errors.New("the ticket can no longer be confirmed")

// urlInText finds the http(s) URLs in a scanned text.
var urlInText = regexp.MustCompile(`https?://[^\s"'<>]+`)

// TicketURL finds the ticket URL in a scanned payload: the ticket URL
// itself (<appBase>/v1/tickets/<id>), a login page URL carrying it in the
// query parameter ticket_url, or a text containing either. It checks the
// form only; Ticket checks that it is under the app's platform.
func TicketURL(payload string) (string, error) {
	payload = strings.TrimSpace(payload)
	candidates := []string{payload}
	candidates = append(candidates, urlInText.FindAllString(payload, -1)...)
	var unusable error // a ticket URL the app will not use, and why
	try := func(t string) bool {
		_, _, err := splitTicket(t)
		if errors.Is(err, ErrURL) && unusable == nil {
			unusable = err
		}
		return err == nil
	}
	for _, c := range candidates {
		u, err := url.Parse(strings.TrimRight(c, ".,;)"))
		if err != nil || !u.IsAbs() {
			continue
		}
		if t := u.Query().Get("ticket_url"); t != "" && try(t) {
			return t, nil
		}
		if try(u.String()) {
			return u.String(), nil
		}
	}
	if unusable != nil {
		return "", unusable
	}
	return "", fmt.Errorf("%w in %q (want <platform>%s/<id>, or a login page URL with ticket_url=…)",
		ErrNoTicket, oneLine(payload, 200), ecardapp.PathTickets)
}

// splitTicket checks a ticket URL's form and splits it into the base URL
// of its app API and the ticket id.
func splitTicket(raw string) (base *url.URL, id string, err error) {
	if !strings.Contains(raw, ecardapp.PathTickets+"/") {
		return nil, "", fmt.Errorf("%w: %q", ErrNoTicket, raw)
	}
	u, err := checkURL(raw)
	if err != nil {
		return nil, "", err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("%w: %q: a ticket URL has no query or fragment", ErrURL, raw)
	}
	i := strings.LastIndex(u.Path, ecardapp.PathTickets+"/")
	if i < 0 {
		return nil, "", fmt.Errorf("%w: %q", ErrNoTicket, raw)
	}
	id = u.Path[i+len(ecardapp.PathTickets)+1:]
	if id == "" || strings.Contains(id, "/") || len(id) > 128 {
		return nil, "", fmt.Errorf("%w: %q: no ticket id", ErrNoTicket, raw)
	}
	b := *u
	b.Path, b.RawPath = u.Path[:i], ""
	return &b, id, nil
}

// Ticket is a ticket the app was shown, as its platform describes it.
type Ticket struct {
	URL string // the ticket URL, under the app's platform
	ID  string
	ecardapp.TicketInfo
}

// Ticket checks that ticketURL is under the app's platform (else
// ErrOtherPlatform, before anything is sent) and fetches what the
// platform says of it: which portal asks, and until when.
func (a *App) Ticket(ctx context.Context, ticketURL string) (*Ticket, error) {
	base, id, err := splitTicket(ticketURL)
	if err != nil {
		return nil, err
	}
	if !sameBase(base, a.Platform) {
		return nil, fmt.Errorf("%w: the ticket is at %s, this app is bound to %s; not sending anything "+
			"(a login page that shows another platform's ticket may be phishing)", ErrOtherPlatform, base, a.Platform)
	}
	t := &Ticket{URL: a.Platform + ecardapp.PathTickets + "/" + url.PathEscape(id), ID: id}
	if err := a.do(ctx, http.MethodGet, t.URL, "", nil, &t.TicketInfo); err != nil {
		return nil, fmt.Errorf("ticket: %w", err)
	}
	if t.TicketInfo.Ticket != "" && t.TicketInfo.Ticket != id {
		return nil, fmt.Errorf("ticket: the platform describes ticket %q when asked for %q", t.TicketInfo.Ticket, id)
	}
	return t, nil
}

// sameBase: scheme and host (case-insensitive, default ports made
// explicit) and path equal.
func sameBase(u *url.URL, platform string) bool {
	p, err := url.Parse(platform)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, p.Scheme) && hostPort(u) == hostPort(p) &&
		strings.TrimRight(u.Path, "/") == strings.TrimRight(p.Path, "/")
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// Confirm signs a confirmation of t and posts it to {ticket}/confirm.
func (a *App) Confirm(ctx context.Context, t *Ticket) error {
	return a.answer(ctx, t, "confirm")
}

// Refuse signs a refusal of t and posts it to {ticket}/refuse.
func (a *App) Refuse(ctx context.Context, t *Ticket) error {
	return a.answer(ctx, t, "refuse")
}

func (a *App) answer(ctx context.Context, t *Ticket, verb string) error {
	if t.State != "" && t.State != "pending" {
		return fmt.Errorf("%w: it is %s", ErrNotPending, oneLine(t.State, 32))
	}
	jws, err := a.SignConfirmation(t.ID)
	if err != nil {
		return err
	}
	if err := a.do(ctx, http.MethodPost, t.URL+"/"+verb, ecardapp.ContentTypeJOSE, []byte(jws), nil); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}

// SignConfirmation is the JWS of a confirmation (or refusal) of ticket
// id: a fresh jti, iat now, exp a minute later.
func (a *App) SignConfirmation(id string) (string, error) {
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := a.now()
	return ecardapp.Sign(a.Key, a.BindingID, ecardapp.Confirmation{
		Ticket: id, JTI: jti, IssuedAt: now.Unix(), Expiry: now.Add(ConfirmationLifetime).Unix(),
	})
}

// ConfirmationLifetime is exp - iat of the confirmations the app signs.
const ConfirmationLifetime = 60 * time.Second
