package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	cardsaml "github.com/cardsso/cardsso/idp/internal/saml"
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
	// IdPInitiated allows IdP-initiated (unsolicited) SSO to the SP at
	// /saml/idp-initiated; off by default, since any page can link there.
	IdPInitiated bool
	// RelayStates is the allow-list of RelayState values an IdP-initiated
	// SSO may carry (an empty RelayState is always allowed); each is
	// compared exactly. Only with IdPInitiated; see checkRelayStates.
	RelayStates []string
}

// SPInfo is a registered service provider as shown to administrators.
type SPInfo struct {
	ID             string    `json:"id"`
	EntityID       string    `json:"entity_id"`
	Name           string    `json:"name"`
	MinACR         string    `json:"min_acr,omitempty"`
	Attributes     []string  `json:"attributes"`
	NameIDFormat   string    `json:"nameid_format"`
	IdPInitiated   bool      `json:"idp_initiated"`
	RelayStates    []string  `json:"relay_states"`
	ACS            []string  `json:"assertion_consumer_services"`
	SLO            []string  `json:"single_logout_services"`
	Encrypted      bool      `json:"encrypted_assertions"`
	SignedRequests bool      `json:"signed_requests"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

var spIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
	md, sp, err := a.checkSP(data, spec)
	if err != nil {
		return SPInfo{}, err
	}
	if other, err := a.store.GetServiceProviderByEntityID(ctx, md.EntityID); err == nil {
		return SPInfo{}, fmt.Errorf("service provider with entity ID %q (registered as %q): %w", md.EntityID, other.ID, ErrAlreadyExists)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return SPInfo{}, err
	}
	if err := a.store.CreateServiceProvider(ctx, sp); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return SPInfo{}, fmt.Errorf("service provider %q or entity ID %q: %w", sp.ID, md.EntityID, ErrAlreadyExists)
		}
		return SPInfo{}, err
	}
	return spInfo(sp, md), nil
}

// checkSP validates an SP registration against its parsed metadata and
// returns the row to store.
func (a *Admin) checkSP(data []byte, spec SPSpec) (cardsaml.SPMetadata, storage.ServiceProvider, error) {
	md, err := cardsaml.ParseMetadata(data, a.cfg.Now())
	if err != nil {
		var me *cardsaml.MetadataError
		if errors.As(err, &me) {
			return md, storage.ServiceProvider{}, &InvalidError{Field: "metadata", Reason: strings.TrimPrefix(me.Error(), "SP metadata: ")}
		}
		return md, storage.ServiceProvider{}, &InvalidError{Field: "metadata", Reason: err.Error()}
	}
	if md.EntityID == strings.TrimSuffix(a.cfg.Issuer, "/")+cardsaml.PathMetadata {
		return md, storage.ServiceProvider{}, &InvalidError{Field: "metadata", Reason: "entityID is CardSSO's own"}
	}
	id := spec.ID
	if id == "" {
		if id = spIDFrom(md.EntityID); id == "" {
			return md, storage.ServiceProvider{}, &InvalidError{Field: "id", Reason: fmt.Sprintf("cannot derive an id from entityID %q; give one", md.EntityID)}
		}
	}
	if !spIDPattern.MatchString(id) {
		return md, storage.ServiceProvider{}, &InvalidError{Field: "id", Reason: "1 to 64 characters: letters, digits, '.', '_', '-', starting with a letter or digit"}
	}
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		name = md.Name
	}
	if name == "" {
		name = id
	}
	if utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return md, storage.ServiceProvider{}, &InvalidError{Field: "name", Reason: "at most 200 characters of valid UTF-8"}
	}
	if spec.MinACR != "" {
		if _, err := assurance.ParseACR(spec.MinACR); err != nil {
			return md, storage.ServiceProvider{}, &InvalidError{Field: "min-acr", Reason: err.Error()}
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
			return md, storage.ServiceProvider{}, &InvalidError{Field: "attributes", Reason: fmt.Sprintf("unknown attribute %q (known: %s)", at, strings.Join(cardsaml.Attributes, ", "))}
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
		return md, storage.ServiceProvider{}, &InvalidError{Field: "nameid", Reason: fmt.Sprintf("%q (want persistent or transient)", format)}
	}
	relays, err := checkRelayStates(spec.IdPInitiated, spec.RelayStates)
	if err != nil {
		return md, storage.ServiceProvider{}, err
	}
	now := a.cfg.Now().UTC()
	return md, storage.ServiceProvider{
		ID: id, EntityID: md.EntityID, Name: name, Metadata: data, MinACR: spec.MinACR,
		Attributes: allow, NameIDFormat: format, IdPInitiated: spec.IdPInitiated, RelayStates: relays,
		CreatedAt: now, UpdatedAt: now,
	}, nil
}

// checkRelayStates validates the RelayState allow-list of an SP: only with
// IdP-initiated SSO allowed; each value 1 to cardsaml.MaxRelayState bytes
// (saml-bindings-2.0-os §3.4.3) of printable ASCII, and, when it has a URL
// scheme, http or https (a javascript: or data: value would be followed by
// SPs that treat RelayState as the page to land on), never scheme-relative
// ("//host"). Duplicates are dropped. Bad values are an *InvalidError on
// field "relay-state".
func checkRelayStates(idpInitiated bool, values []string) ([]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if !idpInitiated {
		return nil, &InvalidError{Field: "relay-state", Reason: "allowed RelayState values need --idp-initiated"}
	}
	if len(values) > maxRelayStates {
		return nil, &InvalidError{Field: "relay-state", Reason: fmt.Sprintf("at most %d values", maxRelayStates)}
	}
	var out []string
	for _, v := range values {
		if v == "" || len(v) > cardsaml.MaxRelayState {
			return nil, &InvalidError{Field: "relay-state", Reason: fmt.Sprintf("%q: 1 to %d bytes (SAML bindings §3.4.3)", v, cardsaml.MaxRelayState)}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c >= 0x7f {
				return nil, &InvalidError{Field: "relay-state", Reason: fmt.Sprintf("%q: printable ASCII without spaces only (percent-encode the rest)", v)}
			}
		}
		if strings.HasPrefix(v, "//") || strings.HasPrefix(v, `/\`) {
			return nil, &InvalidError{Field: "relay-state", Reason: fmt.Sprintf("%q: a scheme-relative URL; give https://…", v)}
		}
		if u, err := url.Parse(v); err == nil && u.Scheme != "" {
			if s := strings.ToLower(u.Scheme); s != "https" && s != "http" {
				return nil, &InvalidError{Field: "relay-state", Reason: fmt.Sprintf("%q: scheme %q is not allowed (want https, http or a path)", v, u.Scheme)}
			}
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// maxRelayStates bounds an SP's RelayState allow-list.
const maxRelayStates = 64

// SPUpdate changes a registered service provider (`cardsso sps update`):
// nil fields are left as they are.
type SPUpdate struct {
	// IdPInitiated switches IdP-initiated SSO on or off. Switching it off
	// also empties the RelayState allow-list.
	IdPInitiated *bool
	// RelayStates replaces the RelayState allow-list (an empty, non-nil
	// slice clears it); checked as in AddServiceProvider.
	RelayStates []string
}

// UpdateServiceProvider changes a service provider (by id or entity ID)
// as upd says, in one compare-and-swap update. Invalid values are an
// *InvalidError and nothing is changed.
func (a *Admin) UpdateServiceProvider(ctx context.Context, id string, upd SPUpdate) (SPInfo, error) {
	info, err := a.GetServiceProvider(ctx, id)
	if err != nil {
		return SPInfo{}, err
	}
	var out storage.ServiceProvider
	err = a.store.UpdateServiceProvider(ctx, info.ID, func(sp storage.ServiceProvider) (storage.ServiceProvider, error) {
		on, relays := sp.IdPInitiated, sp.RelayStates
		if upd.IdPInitiated != nil {
			on = *upd.IdPInitiated
			if !on && upd.RelayStates == nil {
				relays = nil
			}
		}
		if upd.RelayStates != nil {
			relays = upd.RelayStates
		}
		checked, err := checkRelayStates(on, relays)
		if err != nil {
			return sp, err
		}
		sp.IdPInitiated, sp.RelayStates = on, checked
		sp.UpdatedAt = a.cfg.Now().UTC()
		out = sp
		return sp, nil
	})
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) {
			return SPInfo{}, ie
		}
		return SPInfo{}, notFound("service provider", id, err)
	}
	return storedSPInfo(out), nil
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

func spInfo(sp storage.ServiceProvider, md cardsaml.SPMetadata) SPInfo {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return SPInfo{
		ID: sp.ID, EntityID: sp.EntityID, Name: sp.Name, MinACR: sp.MinACR, Attributes: nonNil(sp.Attributes),
		NameIDFormat: sp.NameIDFormat, IdPInitiated: sp.IdPInitiated, RelayStates: nonNil(sp.RelayStates), ACS: nonNil(md.ACS), SLO: nonNil(md.SLO), Encrypted: md.Encrypts,
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
