package idp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	cardsaml "github.com/cardsso/cardsso/idp/saml"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// SPSpec is a SAML service provider registration (`cardsso sps add`).
type SPSpec struct {
	// ID is our short id; empty derives it from the entity ID's host (and
	// port), e.g. "legacy.example.gov.cn".
	ID string
	// Name is shown to citizens; empty takes the metadata's
	// OrganizationDisplayName, else the id.
	Name string
	// Metadata is the SP's metadata XML, or MetadataURL where to fetch it
	// (https; http only on loopback hosts).
	Metadata    []byte
	MetadataURL string
	// MinACR is the lowest level the SP accepts, e.g. urn:cardsso:loa:2:
	// citizens below it are stepped up.
	MinACR string
	// Attributes is the release allow-list (cardsaml.Attributes); nil
	// means cardsaml.DefaultAttributes (name). The full number ("ssn") is
	// released only when listed here.
	Attributes []string
	// NameIDFormat is persistent (the default: pairwise, stable) or
	// transient (random per assertion).
	NameIDFormat string
}

// SPInfo is a registered service provider as shown to administrators.
type SPInfo struct {
	ID             string    `json:"id"`
	EntityID       string    `json:"entity_id"`
	Name           string    `json:"name"`
	MinACR         string    `json:"min_acr,omitempty"`
	Attributes     []string  `json:"attributes"`
	NameIDFormat   string    `json:"nameid_format"`
	ACS            []string  `json:"assertion_consumer_services"`
	SLO            []string  `json:"single_logout_services"`
	Encrypted      bool      `json:"encrypted_assertions"`
	SignedRequests bool      `json:"signed_requests"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

var spIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// metadataFetchTimeout bounds `sps add --metadata URL`.
const metadataFetchTimeout = 15 * time.Second

// AddServiceProvider registers a SAML service provider from its metadata,
// validated as cardsaml.ParseMetadata says (entity ID, ACS and SLO URLs
// https or loopback http, certificates). Bad metadata is an *InvalidError
// on field "metadata" naming the part at fault, and nothing is stored.
func (a *Admin) AddServiceProvider(ctx context.Context, spec SPSpec) (SPInfo, error) {
	switch {
	case len(spec.Metadata) > 0 && spec.MetadataURL != "":
		return SPInfo{}, &InvalidError{Field: "metadata", Reason: "give the metadata or its URL, not both"}
	case len(spec.Metadata) == 0 && spec.MetadataURL == "":
		return SPInfo{}, &InvalidError{Field: "metadata", Reason: "required: a file or an https URL"}
	}
	data := spec.Metadata
	if spec.MetadataURL != "" {
		var err error
		if data, err = fetchMetadata(ctx, spec.MetadataURL); err != nil {
			return SPInfo{}, err
		}
	}
	md, err := cardsaml.ParseMetadata(data, a.cfg.Now())
	if err != nil {
		var me *cardsaml.MetadataError
		if errors.As(err, &me) {
			return SPInfo{}, &InvalidError{Field: "metadata", Reason: strings.TrimPrefix(me.Error(), "SP metadata: ")}
		}
		return SPInfo{}, &InvalidError{Field: "metadata", Reason: err.Error()}
	}
	if md.EntityID == strings.TrimSuffix(a.cfg.Issuer, "/")+cardsaml.PathMetadata {
		return SPInfo{}, &InvalidError{Field: "metadata", Reason: "entityID is CardSSO's own"}
	}
	id := spec.ID
	if id == "" {
		if id = spIDFrom(md.EntityID); id == "" {
			return SPInfo{}, &InvalidError{Field: "id", Reason: fmt.Sprintf("cannot derive an id from entityID %q; give one", md.EntityID)}
		}
	}
	if !spIDPattern.MatchString(id) {
		return SPInfo{}, &InvalidError{Field: "id", Reason: "1 to 64 characters: letters, digits, '.', '_', '-', starting with a letter or digit"}
	}
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		name = md.Name
	}
	if name == "" {
		name = id
	}
	if utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return SPInfo{}, &InvalidError{Field: "name", Reason: "at most 200 characters of valid UTF-8"}
	}
	if spec.MinACR != "" {
		if _, err := assurance.ParseACR(spec.MinACR); err != nil {
			return SPInfo{}, &InvalidError{Field: "min-acr", Reason: err.Error()}
		}
	}
	attrs := spec.Attributes
	if attrs == nil {
		attrs = cardsaml.DefaultAttributes
	}
	var allow []string
	for _, at := range attrs {
		at = strings.TrimSpace(at)
		if at == "" {
			continue
		}
		if !slices.Contains(cardsaml.Attributes, at) {
			return SPInfo{}, &InvalidError{Field: "attributes", Reason: fmt.Sprintf("unknown attribute %q (known: %s)", at, strings.Join(cardsaml.Attributes, ", "))}
		}
		if !slices.Contains(allow, at) {
			allow = append(allow, at)
		}
	}
	format := spec.NameIDFormat
	switch format {
	case "":
		format = "persistent"
	case "persistent", "transient":
	default:
		return SPInfo{}, &InvalidError{Field: "nameid", Reason: fmt.Sprintf("%q (want persistent or transient)", format)}
	}
	if other, err := a.store.GetServiceProviderByEntityID(ctx, md.EntityID); err == nil {
		return SPInfo{}, fmt.Errorf("service provider with entity ID %q (registered as %q): %w", md.EntityID, other.ID, ErrAlreadyExists)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return SPInfo{}, err
	}
	now := a.cfg.Now().UTC()
	sp := storage.ServiceProvider{
		ID: id, EntityID: md.EntityID, Name: name, Metadata: data, MinACR: spec.MinACR,
		Attributes: allow, NameIDFormat: format, CreatedAt: now, UpdatedAt: now,
	}
	if err := a.store.CreateServiceProvider(ctx, sp); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return SPInfo{}, fmt.Errorf("service provider %q or entity ID %q: %w", id, md.EntityID, ErrAlreadyExists)
		}
		return SPInfo{}, err
	}
	return spInfo(sp, md), nil
}

// spIDFrom derives an id from an entity ID: its host (and port) for a URL,
// what follows "urn:" for a URN.
func spIDFrom(entityID string) string {
	u, err := url.Parse(entityID)
	if err != nil {
		return ""
	}
	base := u.Host
	if base == "" {
		base = u.Opaque
	}
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-._")
	if len(id) > 64 {
		id = strings.Trim(id[:64], "-._")
	}
	return id
}

// fetchMetadata gets SP metadata from an https URL (http only on loopback
// hosts), following no redirects, within metadataFetchTimeout and
// cardsaml.MaxMetadataSize.
func fetchMetadata(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, &InvalidError{Field: "metadata", Reason: fmt.Sprintf("%q is neither a readable file nor an absolute URL", raw)}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return nil, &InvalidError{Field: "metadata", Reason: fmt.Sprintf("%q: fetch metadata over https (http only from localhost)", raw)}
		}
	default:
		return nil, &InvalidError{Field: "metadata", Reason: fmt.Sprintf("scheme %q is not allowed (want https)", u.Scheme)}
	}
	ctx, cancel := context.WithTimeout(ctx, metadataFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &InvalidError{Field: "metadata", Reason: err.Error()}
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch SP metadata from %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &InvalidError{Field: "metadata", Reason: fmt.Sprintf("%s answered %s", u.Redacted(), resp.Status)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, cardsaml.MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch SP metadata from %s: %w", u.Redacted(), err)
	}
	if len(data) > cardsaml.MaxMetadataSize {
		return nil, &InvalidError{Field: "metadata", Reason: fmt.Sprintf("more than %d bytes", cardsaml.MaxMetadataSize)}
	}
	return data, nil
}

func spInfo(sp storage.ServiceProvider, md cardsaml.SPMetadata) SPInfo {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return SPInfo{
		ID: sp.ID, EntityID: sp.EntityID, Name: sp.Name, MinACR: sp.MinACR, Attributes: nonNil(sp.Attributes),
		NameIDFormat: sp.NameIDFormat, ACS: nonNil(md.ACS), SLO: nonNil(md.SLO), Encrypted: md.Encrypts,
		SignedRequests: md.SignsRequests, CreatedAt: sp.CreatedAt, UpdatedAt: sp.UpdatedAt,
	}
}

func storedSPInfo(sp storage.ServiceProvider) SPInfo {
	md, _ := cardsaml.ParseMetadata(sp.Metadata, time.Time{})
	return spInfo(sp, md)
}

// ListServiceProviders lists the registered SAML service providers.
func (a *Admin) ListServiceProviders(ctx context.Context) ([]SPInfo, error) {
	sps, err := a.store.ListServiceProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SPInfo, len(sps))
	for i, sp := range sps {
		out[i] = storedSPInfo(sp)
	}
	return out, nil
}

// GetServiceProvider shows one service provider, by id or entity ID.
func (a *Admin) GetServiceProvider(ctx context.Context, id string) (SPInfo, error) {
	sp, err := a.store.GetServiceProvider(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		sp, err = a.store.GetServiceProviderByEntityID(ctx, id)
	}
	if err != nil {
		return SPInfo{}, notFound("service provider", id, err)
	}
	return storedSPInfo(sp), nil
}

// DeleteServiceProvider removes a service provider (by id or entity ID):
// it can no longer sign citizens in.
func (a *Admin) DeleteServiceProvider(ctx context.Context, id string) error {
	info, err := a.GetServiceProvider(ctx, id)
	if err != nil {
		return err
	}
	return notFound("service provider", id, a.store.DeleteServiceProvider(ctx, info.ID))
}
