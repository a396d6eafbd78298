package saml

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// autoSubmit submits the page's form; without JavaScript the citizen
// presses the button. The Content-Security-Policy allows this script only,
// by its hash.
const autoSubmit = `document.forms[0].submit();`

var autoSubmitHash = func() string {
	h := sha256.Sum256([]byte(autoSubmit))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

// formCSP is the policy of the pages that post a SAML message to a service
// provider (form-action is left open: the target is the SP's endpoint).
var formCSP = "default-src 'none'; script-src " + autoSubmitHash + "; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", formCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

const formHead = `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>继续 Continue</title>` +
	`<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>`

// responseForm posts a Response (and LogoutResponse) with HTTP-POST.
var responseForm = template.Must(template.New("saml-response").Parse(formHead +
	`<form method="post" action="{{.URL}}">` +
	`<input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">` +
	`{{if .RelayState}}<input type="hidden" name="RelayState" value="{{.RelayState}}">{{end}}` +
	`<p>正在返回应用… Returning to the application…</p><button type="submit">继续 Continue</button>` +
	`</form><script>` + autoSubmit + `</script></body></html>`))

// logoutRequestForm posts a LogoutRequest to a session participant.
var logoutRequestForm = template.Must(template.New("saml-logout-request").Parse(formHead +
	`<form method="post" action="{{.URL}}">` +
	`<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">` +
	`<p>正在退出其他应用… Signing you out of the other applications…</p><button type="submit">继续 Continue</button>` +
	`</form><script>` + autoSubmit + `</script></body></html>`))

var errorMessages = map[string][2]string{
	"request":              {"登录请求无效。", "The sign-in request is not valid."},
	"unknown_sp":           {"该应用未在本系统登记。", "This application is not registered with CardSSO."},
	"unknown_acs":          {"该应用请求的返回地址未登记。", "The application asked to return to an address it did not register."},
	"signature":            {"登录请求的签名无效。", "The signature of the request is not valid."},
	"expired":              {"登录请求已过期，请返回应用重新登录。", "The request has expired. Go back to the application and sign in again."},
	"replayed":             {"该登录请求已使用过，请返回应用重新登录。", "This request was used before. Go back to the application and sign in again."},
	"destination":          {"登录请求的目标地址不符。", "The request was addressed to another server."},
	"too_large":            {"请求过大。", "The request is too large."},
	"doctype":              {"请求中含有不允许的 XML 内容。", "The request holds XML that is not accepted."},
	"relay_state":          {"请求的 RelayState 过长。", "The RelayState of the request is too long."},
	"idp_initiated_off":    {"该应用不接受从本系统发起的登录，请从应用本身登录。", "This application does not accept sign-ins started at CardSSO. Sign in from the application itself."},
	"relay_state_unlisted": {"请求的返回地址（RelayState）未在该应用登记。", "The application did not register the return address (RelayState) of this request."},
	"otherbrowser": {"此次登录是在另一个浏览器中发起的，无法在此继续，请返回应用重新登录。",
		"This sign-in was started in another browser and cannot be continued here. Go back to the application and sign in again."},
	"session":     {"登录会话不符，请返回应用重新登录。", "Your sign-in session does not match. Go back to the application and sign in again."},
	"logout_link": {"退出链接无效。", "The sign-out link is not valid."},
	"unavailable": {"服务暂时不可用，请稍后再试。", "The service is briefly unavailable. Please try again in a moment."},
	"internal":    {"服务器内部错误，请稍后再试。", "Something went wrong on our side. Please try again later."},
}

var errorPageTmpl = template.Must(template.New("saml-error").Parse(`<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">` +
	`<title>无法登录 Cannot sign in</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
	`<body><h1>无法完成请求 <span lang="en">Cannot complete the request</span></h1>` +
	`<p>{{index . 0}}</p><p lang="en">{{index . 1}}</p></body></html>`))

// errorPage answers the browser with a short bilingual page; the reason is
// a key of errorMessages, never the message that failed.
func (p *Provider) errorPage(w http.ResponseWriter, status int, reason string) {
	msg, ok := errorMessages[reason]
	if !ok {
		msg = errorMessages["request"]
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorPageTmpl.Execute(w, msg)
}
