package login

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"

	"golang.org/x/text/language"

	"github.com/cardsso/cardsso/idp/internal/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

// Supported languages; the first is the default.
var (
	langTags  = []language.Tag{language.MustParse("zh-CN"), language.English}
	langCodes = []string{"zh-CN", "en"}
	matcher   = language.NewMatcher(langTags)
)

const langCookie = "cardsso_lang"

// catalog holds the messages of every language by code.
type catalog map[string]map[string]string

func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, code := range langCodes {
		b, err := fs.ReadFile(localeFS, "locales/"+code+".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("locale %s: %w", code, err)
		}
		c[code] = m
	}
	// Every language must have every key of the default one.
	for _, code := range langCodes[1:] {
		for k := range c[langCodes[0]] {
			if _, ok := c[code][k]; !ok {
				return nil, fmt.Errorf("locale %s: missing %q", code, k)
			}
		}
	}
	return c, nil
}

func loadTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "setup", "message", "logout", "card", "face_consent", "face_photo", "account", "consent", "reclaim", "ecard", "ecard_account"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// page is what every template sees.
type page struct {
	Lang          string
	OtherLang     string
	OtherLangName string
	SwitchURL     string
	msgs          map[string]string

	AuthRequestID string
	CSRF          string
	ClientName    string
	Error         string
	Values        map[string]string
	Who           string
	Notice        string
	Items         []string
	Claims        []string
	Account       *accountView
	ECard         *ecardView // the e-card login page (ecard_page.go)
	// csp, when set, replaces the pages' Content-Security-Policy.
	csp string

	// message page
	Title, Text, Link string
}

// T translates a message key.
func (p *page) T(key string) string {
	if s, ok := p.msgs[key]; ok {
		return s
	}
	return key
}

// lang picks the page language: an explicit ?lang= switch (remembered in a
// cookie), the cookie, the request's ui_locales, then Accept-Language.
func (h *Handler) lang(w http.ResponseWriter, r *http.Request, uiLocales []string) string {
	if q := r.URL.Query().Get("lang"); q != "" {
		for _, c := range langCodes {
			if c == q {
				http.SetCookie(w, &http.Cookie{Name: session.CookieName(langCookie, h.cfg.Secure), Value: c, Path: "/", MaxAge: 365 * 24 * 3600,
					HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode})
				return c
			}
		}
	}
	if c, err := r.Cookie(session.CookieName(langCookie, h.cfg.Secure)); err == nil {
		for _, code := range langCodes {
			if c.Value == code {
				return code
			}
		}
	}
	var prefs []language.Tag
	for _, l := range uiLocales {
		if t, err := language.Parse(l); err == nil {
			prefs = append(prefs, t)
		}
	}
	if al, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		prefs = append(prefs, al...)
	}
	_, i, _ := matcher.Match(prefs...)
	return langCodes[i]
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request, uiLocales []string) *page {
	code := h.lang(w, r, uiLocales)
	other := langCodes[0]
	if code == other {
		other = langCodes[1]
	}
	q := r.URL.Query()
	q.Set("lang", other)
	sw := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	if r.Method != http.MethodGet {
		sw.RawQuery = url.Values{"lang": {other}}.Encode()
		if id := r.PostFormValue("authRequestID"); id != "" {
			sw.Path = "/login"
			sw.RawQuery = url.Values{"authRequestID": {id}, "lang": {other}}.Encode()
		}
	}
	return &page{
		Lang: code, OtherLang: other, OtherLangName: h.msgs[other]["lang.name"],
		SwitchURL: sw.String(), msgs: h.msgs[code], Values: map[string]string{},
	}
}

// pageCSP is the pages' Content-Security-Policy: no script, no image, no
// connection; inline styles only.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

// render writes a page with a status; pages are never cached.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := h.tmpl[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.cfg.Logger.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	csp := p.csp
	if csp == "" {
		csp = pageCSP
	}
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a message page (errors and notices).
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title, text, link string) {
	p := h.newPage(w, r, nil)
	p.Title, p.Text, p.Link = title, text, link
	h.render(w, status, "message", p)
}
