package saml

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	crewjam "github.com/crewjam/saml"
)

// MaxMetadataSize bounds the SP metadata accepted at import.
const MaxMetadataSize = 512 << 10

// ErrInvalidMetadata: SP metadata that cannot be registered. A
// *MetadataError wraps it and says which part is wrong.
var ErrInvalidMetadata = errors.New("invalid SP metadata")

// MetadataError says what is wrong with SP metadata.
type MetadataError struct {
	// Part names the element or attribute, e.g. "AssertionConsumerService[2] Location".
	Part   string
	Reason string
}

func (e *MetadataError) Error() string {
	if e.Part == "" {
		return "SP metadata: " + e.Reason
	}
	return "SP metadata: " + e.Part + ": " + e.Reason
}

func (e *MetadataError) Unwrap() error { return ErrInvalidMetadata }

func metadataErr(part, format string, args ...any) error {
	return &MetadataError{Part: part, Reason: fmt.Sprintf(format, args...)}
}

// SPMetadata is what registration needs from SP metadata that passed
// ParseMetadata.
type SPMetadata struct {
	EntityID string
	// Name is the OrganizationDisplayName (the first, or the zh one), empty
	// when there is none.
	Name string
	// ACS lists the assertion consumer service locations with the HTTP-POST
	// binding (the one CardSSO answers with).
	ACS []string
	// SLO lists the single logout service locations.
	SLO []string
	// Encrypts: the metadata has an encryption certificate; assertions to
	// this SP are encrypted.
	Encrypts bool
	// SignsRequests: AuthnRequestsSigned="true"; unsigned requests from this
	// SP are refused.
	SignsRequests bool
	Descriptor    *crewjam.EntityDescriptor
}

var entityIDSpace = regexp.MustCompile(`\s`)

// ParseMetadata validates SP metadata for registration and returns what it
// says. It refuses, naming the part at fault:
//   - more than MaxMetadataSize bytes, a DOCTYPE or entity declaration,
//     XML that is not well formed (CheckXML);
//   - anything but one md:EntityDescriptor with one SPSSODescriptor;
//   - an entityID that is empty, longer than 1024 characters or not an
//     absolute URI;
//   - metadata whose validUntil has passed at now (not checked when now is
//     the zero time);
//   - an AssertionConsumerService or SingleLogoutService whose Location is
//     not https, or http on a loopback host (localhost, 127.0.0.1, ::1) for
//     development: a javascript:, data: or relative ACS URL would become
//     the action of the form that posts the assertion (the cross-site
//     scripting crewjam/saml fixed in 0.4.x);
//   - no AssertionConsumerService with the HTTP-POST binding;
//   - a KeyDescriptor certificate that is not base64 DER X.509, an
//     encryption certificate whose key is not RSA (assertions are encrypted
//     with RSA-OAEP), AuthnRequestsSigned="true" without a signing
//     certificate.
//
// Not checked: the signature of the metadata (the administrator vouches for
// the file or URL) and the validity period of the certificates (keys in
// metadata are trusted as listed, saml-metadata-2.0-os §2.4.1.1).
func ParseMetadata(data []byte, now time.Time) (SPMetadata, error) {
	var md SPMetadata
	ed, err := metadataDocument(data)
	if err != nil {
		return md, err
	}
	id := strings.TrimSpace(ed.EntityID)
	switch {
	case id == "":
		return md, metadataErr("entityID", "missing")
	case len(id) > 1024:
		return md, metadataErr("entityID", "longer than 1024 characters")
	case entityIDSpace.MatchString(id) || !utf8.ValidString(id):
		return md, metadataErr("entityID", "%q contains white space", id)
	}
	if u, err := url.Parse(id); err != nil || !u.IsAbs() {
		return md, metadataErr("entityID", "%q is not an absolute URI", id)
	}
	ed.EntityID = id
	md.EntityID = id
	if !now.IsZero() && !ed.ValidUntil.IsZero() && !now.Before(ed.ValidUntil) {
		return md, metadataErr("validUntil", "expired at %s", ed.ValidUntil.UTC().Format(time.RFC3339))
	}
	if len(ed.IDPSSODescriptors) > 0 && len(ed.SPSSODescriptors) == 0 {
		return md, metadataErr("", "this is identity provider metadata (IDPSSODescriptor); want a service provider's (SPSSODescriptor)")
	}
	if len(ed.SPSSODescriptors) != 1 {
		return md, metadataErr("SPSSODescriptor", "want exactly one, found %d", len(ed.SPSSODescriptors))
	}
	sp := &ed.SPSSODescriptors[0]
	if !now.IsZero() && sp.ValidUntil != nil && !now.Before(*sp.ValidUntil) {
		return md, metadataErr("SPSSODescriptor validUntil", "expired at %s", sp.ValidUntil.UTC().Format(time.RFC3339))
	}
	if !strings.Contains(sp.ProtocolSupportEnumeration, "urn:oasis:names:tc:SAML:2.0:protocol") {
		return md, metadataErr("SPSSODescriptor protocolSupportEnumeration", "does not list SAML 2.0 (urn:oasis:names:tc:SAML:2.0:protocol)")
	}

	for _, acs := range sp.AssertionConsumerServices {
		if acs.Binding == crewjam.HTTPPostBinding && acs.Location != "" {
			md.ACS = append(md.ACS, acs.Location)
		}
	}
	if len(md.ACS) == 0 {
		return md, metadataErr("AssertionConsumerService", "none with the HTTP-POST binding (%s)", crewjam.HTTPPostBinding)
	}
	for _, slo := range sp.SingleLogoutServices {
		if slo.Location != "" && (slo.Binding == crewjam.HTTPRedirectBinding || slo.Binding == crewjam.HTTPPostBinding) {
			md.SLO = append(md.SLO, slo.Location)
		}
	}

	if err := readKeys(sp, &md); err != nil {
		return md, err
	}
	md.Name = displayName(ed)
	md.Descriptor = ed
	return md, nil
}

// metadataDocument is the first half of ParseMetadata: the size, the guard's
// XML check, the root element, every endpoint Location as written, then
// crewjam/saml's reading of the document.
func metadataDocument(data []byte) (*crewjam.EntityDescriptor, error) {
	if len(data) == 0 {
		return nil, metadataErr("", "empty")
	}
	if len(data) > MaxMetadataSize {
		return nil, metadataErr("", "%d bytes, more than the %d accepted", len(data), MaxMetadataSize)
	}
	if err := CheckXML(data); err != nil {
		var ie *InputError
		switch {
		case errors.Is(err, ErrDoctype):
			return nil, metadataErr("", "a DOCTYPE or entity declaration is not accepted")
		case errors.As(err, &ie) && ie.Detail != "":
			return nil, metadataErr("", "not well-formed XML (%s)", ie.Detail)
		}
		return nil, metadataErr("", "not well-formed XML (%v)", err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, metadataErr("", "%v", err)
	}
	const mdNS = "urn:oasis:names:tc:SAML:2.0:metadata"
	if root.XMLName.Space != mdNS || root.XMLName.Local != "EntityDescriptor" {
		if root.XMLName.Local == "EntitiesDescriptor" {
			return nil, metadataErr("", "an EntitiesDescriptor (federation metadata) holds many entities; register one EntityDescriptor")
		}
		return nil, metadataErr("", "root element is {%s}%s; want an md:EntityDescriptor", root.XMLName.Space, root.XMLName.Local)
	}
	// Every endpoint Location as written, first: crewjam/saml blanks
	// those of bindings it does not know and refuses the non-http(s) ones
	// of those it knows without saying which.
	names, locations, err := rawEndpoints(data)
	if err != nil {
		return nil, err
	}
	for i, loc := range locations {
		if err := checkLocation(loc); err != nil {
			return nil, metadataErr(names[i], "%v", err)
		}
	}
	ed := &crewjam.EntityDescriptor{}
	if err := xml.Unmarshal(data, ed); err != nil {
		return nil, metadataErr("", "%v", err)
	}
	return ed, nil
}

// readKeys is the last part of ParseMetadata: the KeyDescriptors of sp
// (use, certificates, RSA for encryption) and AuthnRequestsSigned.
func readKeys(sp *crewjam.SPSSODescriptor, md *SPMetadata) error {
	var signing bool
	for i, kd := range sp.KeyDescriptors {
		part := fmt.Sprintf("KeyDescriptor[%d]", i+1)
		switch kd.Use {
		case "", "signing", "encryption":
		default:
			return metadataErr(part+" use", "%q (want signing or encryption)", kd.Use)
		}
		for j, c := range kd.KeyInfo.X509Data.X509Certificates {
			cert, err := parseCertificate(c.Data)
			if err != nil {
				return metadataErr(fmt.Sprintf("%s X509Certificate[%d]", part, j+1), "%v", err)
			}
			if kd.Use != "signing" {
				if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
					return metadataErr(fmt.Sprintf("%s X509Certificate[%d]", part, j+1), "an encryption key must be RSA, not %T", cert.PublicKey)
				}
				md.Encrypts = true
			}
			if kd.Use != "encryption" {
				signing = true
			}
		}
	}
	if sp.AuthnRequestsSigned != nil && *sp.AuthnRequestsSigned {
		md.SignsRequests = true
		if !signing {
			return metadataErr("SPSSODescriptor AuthnRequestsSigned", "is true but there is no signing certificate")
		}
	}
	return nil
}

// parseCertificate decodes base64 DER (white space allowed) as X.509.
func parseCertificate(b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, b64))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(der) == 0 {
		return nil, errors.New("empty")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %v", err)
	}
	return cert, nil
}

// rawEndpoints reads the Location (and ResponseLocation) of every
// AssertionConsumerService and SingleLogoutService as written, each named
// for errors, e.g. "AssertionConsumerService[2] Location".
func rawEndpoints(data []byte) (names, locations []string, err error) {
	type endpoint struct {
		Location         string `xml:"Location,attr"`
		ResponseLocation string `xml:"ResponseLocation,attr"`
	}
	var doc struct {
		SP []struct {
			ACS []endpoint `xml:"urn:oasis:names:tc:SAML:2.0:metadata AssertionConsumerService"`
			SLO []endpoint `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleLogoutService"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:metadata SPSSODescriptor"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, nil, metadataErr("", "%v", err)
	}
	add := func(kind string, es []endpoint) {
		for i, e := range es {
			names = append(names, fmt.Sprintf("%s[%d] Location", kind, i+1))
			locations = append(locations, e.Location)
			if e.ResponseLocation != "" {
				names = append(names, fmt.Sprintf("%s[%d] ResponseLocation", kind, i+1))
				locations = append(locations, e.ResponseLocation)
			}
		}
	}
	for _, sp := range doc.SP {
		add("AssertionConsumerService", sp.ACS)
		add("SingleLogoutService", sp.SLO)
	}
	return names, locations, nil
}

// checkLocation accepts an absolute https URL with a host, or http on a
// loopback host, without user info or fragment.
func checkLocation(raw string) error {
	loc := strings.TrimSpace(raw)
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("%q is not an absolute URL", loc)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q: http is accepted only for localhost, 127.0.0.1 and ::1; use https", loc)
		}
	default:
		return fmt.Errorf("scheme %q is not accepted (want https)", u.Scheme)
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q has no host", loc)
	case u.User != nil:
		return fmt.Errorf("%q must not carry user info", loc)
	case u.Fragment != "" || strings.Contains(loc, "#"):
		return fmt.Errorf("%q must not have a fragment", loc)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func displayName(ed *crewjam.EntityDescriptor) string {
	orgs := []*crewjam.Organization{ed.Organization}
	for i := range ed.SPSSODescriptors {
		orgs = append(orgs, ed.SPSSODescriptors[i].Organization)
	}
	for _, o := range orgs {
		if o == nil {
			continue
		}
		names := append(append([]crewjam.LocalizedName(nil), o.OrganizationDisplayNames...), o.OrganizationNames...)
		best := ""
		for _, n := range names {
			v := strings.TrimSpace(n.Value)
			if v == "" {
				continue
			}
			if strings.HasPrefix(strings.ToLower(n.Lang), "zh") {
				return truncate(v, 200)
			}
			if best == "" {
				best = v
			}
		}
		if best != "" {
			return truncate(best, 200)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
