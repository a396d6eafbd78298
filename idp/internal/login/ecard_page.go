package login

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/cardsso/cardsso/storage"
)

// ecardView is what the e-card page shows.
type ecardView struct {
	QR        template.URL // the QR code: a data: URI of a PNG
	Payload   string       // the QR code's content, as text
	Link      template.URL // … and as a link (the app's ticket URL)
	Refresh   string       // the meta refresh's content
	StatusURL string       // the script's JSON endpoint
	State     string       // the ticket state the page shows
	ExpiresAt string       // when the ticket expires (RFC 3339)
	Notice    string
	RetryURL  string
	Script    template.JS
}

// ecardScript polls the status endpoint and reloads the page when the
// state changes; without it the meta refresh and the button do the same.
// Its hash is in the page's Content-Security-Policy (ecardCSP): no other
// script runs.
const ecardScript = `(function(){var e=document.getElementById("ecard-wait");if(!e||!window.fetch)return;` +
	`var u=e.getAttribute("data-status"),s=e.getAttribute("data-state");` +
	`setInterval(function(){fetch(u,{credentials:"same-origin",cache:"no-store"})` +
	`.then(function(r){return r.json()}).then(function(j){if(j.state&&j.state!==s)location.reload()})` +
	`.catch(function(){})},2000)})();`

// ecardCSP is the e-card page's Content-Security-Policy: the pages' own,
// plus the QR code's data: image, the script by its hash (CSP Level 3,
// "hash-source") and its fetch of the status endpoint.
var ecardCSP = func() string {
	sum := sha256.Sum256([]byte(ecardScript))
	return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// renderECard shows ticket tk of req: its QR code (skip2/go-qrcode, medium
// error correction), its payload as text and link, "I have scanned", and
// the refresh and script that notice the confirmation.
func (h *Handler) renderECard(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, tk ecardTicket, status int, notice string) {
	png, err := qrcode.Encode(tk.Payload, qrcode.Medium, 256)
	if err != nil {
		h.internal(w, r, "qr code", err)
		return
	}
	p := h.firstPage(w, r, req)
	view := &ecardView{
		QR:      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Payload: tk.Payload, Refresh: strconv.Itoa(ecardRefresh) + ";url=" + stepURL(ecardPath, req.ID),
		StatusURL: stepURL(ecardStatusPath, req.ID), State: "pending",
		ExpiresAt: tk.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		RetryURL:  ecardRetryURL(req.ID), Script: template.JS(ecardScript),
	}
	if safeLink(tk.Payload) {
		view.Link = template.URL(tk.Payload)
	}
	if notice != "" {
		view.Notice = p.T(notice)
	}
	p.ECard = view
	p.Link = stepURL(cancelPath, req.ID)
	p.csp = ecardCSP
	h.render(w, status, "ecard", p)
}

// safeLink: the payload is shown as a link only when it is an http(s) URL
// (the platform's ticket URL), never a javascript: or data: one.
func safeLink(s string) bool {
	return len(s) > 8 && (s[:7] == "http://" || s[:8] == "https://")
}

// writeState answers the status endpoint.
func writeState(w http.ResponseWriter, status int, state string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"state": state})
}
