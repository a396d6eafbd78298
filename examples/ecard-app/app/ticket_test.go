package app

import (
	"errors"
	"testing"
)

// TestTicketURL: the ticket URL is found in each form a scanned payload
// takes; a payload without one, or with one the app will not use, is
// refused with why.
func TestTicketURL(t *testing.T) {
	const ticket = "https://card.example.gov.cn/app/v1/tickets/0123456789abcdef"
	for _, tc := range []struct {
		payload string
		want    string
		err     error
	}{
		{payload: ticket, want: ticket},
		{payload: "  " + ticket + "\n", want: ticket},
		{payload: "http://127.0.0.1:8080/ecard-sim/v1/tickets/T0123456789abcdef", want: "http://127.0.0.1:8080/ecard-sim/v1/tickets/T0123456789abcdef"},
		{payload: "http://[::1]:8080/ecard-sim/v1/tickets/T0123456789abcdef", want: "http://[::1]:8080/ecard-sim/v1/tickets/T0123456789abcdef"},
		{payload: "https://sso.example.gov.cn/login/ecard?ticket_url=https%3A%2F%2Fcard.example.gov.cn%2Fapp%2Fv1%2Ftickets%2F0123456789abcdef&lang=zh", want: ticket},
		{payload: "扫码登录 " + ticket + ".", want: ticket},
		{payload: `<a href="` + ticket + `">`, want: ticket},
		{payload: "hello", err: ErrNoTicket},
		{payload: "https://card.example.gov.cn/app/v1/tickets/", err: ErrNoTicket},
		{payload: "https://card.example.gov.cn/app/v1/bindings", err: ErrNoTicket},
		{payload: "https://card.example.gov.cn/app/v1/tickets/a/b", err: ErrNoTicket},
		{payload: "http://card.example.gov.cn/app/v1/tickets/0123456789abcdef", err: ErrURL},
		{payload: "https://user:pw@card.example.gov.cn/app/v1/tickets/0123456789abcdef", err: ErrURL},
		{payload: "ftp://127.0.0.1/app/v1/tickets/0123456789abcdef", err: ErrURL},
		{payload: ticket + "?x=1", err: ErrURL},
	} {
		got, err := TicketURL(tc.payload)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("TicketURL(%q) = %q, %v; want %q, %v", tc.payload, got, err, tc.want, tc.err)
		}
	}
}

// TestSameBase: a ticket is the platform's only with the same scheme,
// host, port (default ports made explicit) and path.
func TestSameBase(t *testing.T) {
	const platform = "https://card.example.gov.cn/app"
	for raw, want := range map[string]bool{
		"https://card.example.gov.cn/app/v1/tickets/0123456789abcdef":      true,
		"https://CARD.example.gov.cn:443/app/v1/tickets/0123456789abcdef":  true,
		"https://card.example.gov.cn.evil.cn/app/v1/tickets/0123456789abc": false,
		"https://card.example.gov.cn:8443/app/v1/tickets/0123456789abcdef": false,
		"https://card.example.gov.cn/v1/tickets/0123456789abcdef":          false,
		"https://card.example.gov.cn/app/x/v1/tickets/0123456789abcdef":    false,
	} {
		base, _, err := splitTicket(raw)
		if err != nil {
			t.Fatalf("splitTicket(%q): %v", raw, err)
		}
		if got := sameBase(base, platform); got != want {
			t.Errorf("sameBase(%q, %q) = %v; want %v", raw, platform, got, want)
		}
	}
}
