package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Limits of what the guard lets through to crewjam/saml. A real AuthnRequest
// or LogoutRequest is a few kilobytes; SP metadata rarely tens.
const (
	// MaxMessageSize bounds a SAML message after base64 decoding and, for
	// the HTTP-Redirect binding, inflation.
	MaxMessageSize = 64 << 10
	// maxBodySize bounds an HTTP-POST body (the base64 form of a message
	// plus RelayState and signature fields).
	maxBodySize = 2*MaxMessageSize + 8<<10
	// maxQuerySize bounds an HTTP-Redirect query string.
	maxQuerySize = 3*MaxMessageSize/4 + 8<<10
	// MaxRelayState is the longest RelayState accepted: saml-bindings-2.0-os
	// §3.4.3 and §3.5.3 say it MUST NOT exceed 80 bytes.
	MaxRelayState = 80
	// maxXMLDepth and maxXMLTokens bound the structure of a message.
	maxXMLDepth  = 64
	maxXMLTokens = 20000
)

// Errors of the guard. An *InputError wraps one of them.
var (
	ErrTooLarge      = errors.New("saml: message too large")
	ErrDoctype       = errors.New("saml: DOCTYPE, entity or other directive in XML")
	ErrMalformed     = errors.New("saml: malformed message")
	ErrRelayState    = errors.New("saml: RelayState too long")
	ErrNoSAMLMessage = errors.New("saml: no SAMLRequest or SAMLResponse")
)

// InputError says what is wrong with a message, for the log and the error
// page (never with the message itself).
type InputError struct {
	Err    error
	Detail string
}

func (e *InputError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

func (e *InputError) Unwrap() error { return e.Err }

func inputErr(err error, format string, args ...any) error {
	return &InputError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// message is a SAML protocol message as it arrived: which parameter carried
// it, its XML, its binding and RelayState.
type message struct {
	Param      string // SAMLRequest or SAMLResponse
	XML        []byte
	Binding    string // redirect or post
	RelayState string
}

const (
	bindingRedirect = "redirect"
	bindingPost     = "post"
)

// readMessage reads the SAML message of r, before crewjam/saml parses
// anything, and refuses what it must not see: a body or query over the
// limits, a message that inflates beyond MaxMessageSize (a deflate bomb), a
// document with a DOCTYPE or any other directive (entity declarations:
// billion laughs, external entities), one nested or long beyond reason, and
// a RelayState over MaxRelayState bytes. A POST body is read here and left
// parsed in r.PostForm (r.ParseForm does not read it again).
//
// The message is not authenticated: crewjam/saml checks its signature and
// fields afterwards.
func readMessage(r *http.Request) (message, error) {
	var m message
	var vals url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if len(r.URL.RawQuery) > maxQuerySize {
			return m, inputErr(ErrTooLarge, "query of %d bytes", len(r.URL.RawQuery))
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return m, inputErr(ErrMalformed, "query: %v", err)
		}
		vals, m.Binding = q, bindingRedirect
	case http.MethodPost:
		if r.PostForm == nil {
			r.Body = http.MaxBytesReader(nil, r.Body, maxBodySize)
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return m, inputErr(ErrTooLarge, "body over %d bytes", maxBodySize)
				}
				return m, inputErr(ErrMalformed, "form: %v", err)
			}
		}
		vals, m.Binding = r.PostForm, bindingPost
	default:
		return m, inputErr(ErrMalformed, "method %s", r.Method)
	}
	for _, p := range []string{"SAMLRequest", "SAMLResponse", "RelayState"} {
		if len(vals[p]) > 1 {
			return m, inputErr(ErrMalformed, "%s given %d times", p, len(vals[p]))
		}
	}
	switch {
	case vals.Get("SAMLRequest") != "" && vals.Get("SAMLResponse") != "":
		return m, inputErr(ErrMalformed, "both SAMLRequest and SAMLResponse")
	case vals.Get("SAMLRequest") != "":
		m.Param = "SAMLRequest"
	case vals.Get("SAMLResponse") != "":
		m.Param = "SAMLResponse"
	default:
		return m, &InputError{Err: ErrNoSAMLMessage}
	}
	m.RelayState = vals.Get("RelayState")
	if len(m.RelayState) > MaxRelayState {
		return m, inputErr(ErrRelayState, "%d bytes, at most %d", len(m.RelayState), MaxRelayState)
	}
	if enc := vals.Get("SAMLEncoding"); enc != "" && enc != "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE" {
		return m, inputErr(ErrMalformed, "unsupported SAMLEncoding")
	}
	raw, err := decode64(vals.Get(m.Param))
	if err != nil {
		return m, inputErr(ErrMalformed, "%s is not base64", m.Param)
	}
	if m.Binding == bindingRedirect {
		if raw, err = inflate(raw); err != nil {
			return m, err
		}
	}
	if len(raw) > MaxMessageSize {
		return m, inputErr(ErrTooLarge, "%s of %d bytes", m.Param, len(raw))
	}
	if err := CheckXML(raw); err != nil {
		return m, err
	}
	m.XML = raw
	return m, nil
}

// decode64 decodes standard base64 with line breaks or spaces in it, as
// SPs wrap it. The decoder skips CR and LF itself; only a value it refuses
// is copied without spaces and tabs and decoded again (a value without
// them decodes the same either way, and most have none).
func decode64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil || !strings.ContainsAny(s, " \t") {
		return b, err
	}
	return base64.StdEncoding.DecodeString(strings.Map(dropSpace, s))
}

func dropSpace(r rune) rune {
	switch r {
	case ' ', '\t', '\r', '\n':
		return -1
	}
	return r
}

var inflaters sync.Pool

// inflate decompresses a DEFLATE (RFC 1951) message, stopping beyond
// MaxMessageSize.
func inflate(b []byte) ([]byte, error) {
	// A decompressor holds a 32 KiB window and its tables: reuse them
	// rather than make them for every message (and every fuzz input).
	fr, _ := inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(bytes.NewReader(b))
	} else if err := fr.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		fr = flate.NewReader(bytes.NewReader(b))
	}
	defer func() {
		_ = fr.Close()
		inflaters.Put(fr)
	}()
	out, err := io.ReadAll(io.LimitReader(fr, MaxMessageSize+1))
	if err != nil {
		return nil, inputErr(ErrMalformed, "cannot inflate: %v", err)
	}
	if len(out) > MaxMessageSize {
		return nil, inputErr(ErrTooLarge, "inflates beyond %d bytes", MaxMessageSize)
	}
	return out, nil
}

// CheckXML refuses a document that is not well-formed XML, that holds a
// DOCTYPE or any other directive (<!ENTITY …>, <!ELEMENT …>), whose elements
// nest deeper than 64 or that has more than 20,000 tokens. It reads tokens
// only: no entity is expanded and nothing is fetched. Comments and the XML
// declaration are allowed.
//
// It reads raw tokens (xml.Decoder.RawToken, which skips the name space
// translation this check has no use for, the costliest part of Token) and
// matches every end tag to its start tag itself, by prefix and local name,
// as Token does in strict mode: the documents it accepts are those it
// accepted with Token.
func CheckXML(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var open [maxXMLDepth]xml.Name // the start tags not yet closed
	depth, tokens, roots := 0, 0, 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return inputErr(ErrMalformed, "XML: %v", err)
		}
		if tokens++; tokens > maxXMLTokens {
			return inputErr(ErrTooLarge, "more than %d XML tokens", maxXMLTokens)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return &InputError{Err: ErrDoctype}
		case xml.ProcInst:
			if t.Target != "xml" || tokens != 1 {
				return inputErr(ErrMalformed, "processing instruction <?%s?>", t.Target)
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			if depth >= maxXMLDepth {
				return inputErr(ErrTooLarge, "elements nested deeper than %d", maxXMLDepth)
			}
			open[depth] = t.Name
			depth++
		case xml.EndElement:
			if depth == 0 {
				return inputErr(ErrMalformed, "XML: unexpected end element </%s>", t.Name.Local)
			}
			if depth--; open[depth] != t.Name {
				return inputErr(ErrMalformed, "XML: element <%s> closed by </%s>", open[depth].Local, t.Name.Local)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return inputErr(ErrMalformed, "text outside the root element")
			}
		}
	}
	if roots != 1 || depth != 0 {
		return inputErr(ErrMalformed, "want one root element")
	}
	return nil
}
