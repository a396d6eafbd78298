package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	cardsaml "github.com/cardsso/cardsso/idp/internal/saml"
)

// metadataFetchTimeout bounds `sps add --metadata URL`.
const metadataFetchTimeout = 15 * time.Second

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
