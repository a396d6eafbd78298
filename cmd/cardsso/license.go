package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

func (c *cli) newLicenseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "license",
		Short: "Verify e-card licence documents (GET /ecard/license)",
		RunE:  missingSubcommand,
	}
	cmd.AddCommand(c.newLicenseVerifyCmd())
	return cmd
}

// maxLicenceFile bounds the licence file read (a licence is about 1 KB).
const maxLicenceFile = 64 << 10

func (c *cli) newLicenseVerifyCmd() *cobra.Command {
	var issuer string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a licence document and print its claims",
		Long: `Verify a licence document (the compact JWS GET /ecard/license answers, in
FILE, or - for standard input): its type, and its signature by one of the
node's published signing keys, read from the database; with --issuer, by the
JWKS of the running node at that issuer URL, and its iss.

Exit 0 and print the claims (JSON) when it is valid; exit 1 naming the reason
when not. The claims say when it was issued (iat) and the card's status then.`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "verify against the JWKS of the node at this issuer `URL` instead of the database")
	verify := func(cmd *cobra.Command, args []string, keys func(context.Context) ([]jose.JSONWebKey, error)) error {
		jws, err := readLicence(args[0], cmd.InOrStdin())
		if err != nil {
			return err
		}
		ks, err := keys(cmd.Context())
		if err != nil {
			return fmt.Errorf("published keys: %w", err)
		}
		claims, err := idp.VerifyLicence(jws, ks, issuer)
		if err != nil {
			return fmt.Errorf("the licence is not valid: %w", err)
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(claims)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if issuer != "" {
			return runE(func(cmd *cobra.Command, args []string) error {
				return verify(cmd, args, func(ctx context.Context) ([]jose.JSONWebKey, error) { return fetchJWKS(ctx, issuer) })
			})(cmd, args)
		}
		return c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) error {
			return verify(cmd, args, a.PublishedKeys)
		})(cmd, args)
	}
	return cmd
}

func readLicence(path string, stdin io.Reader) (string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxLicenceFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxLicenceFile {
		return "", fmt.Errorf("%s: larger than %d bytes: not a licence", path, maxLicenceFile)
	}
	return strings.TrimSpace(string(b)), nil
}

// fetchJWKS reads the JWKS of the OpenID Provider at issuer (its discovery
// document's jwks_uri).
func fetchJWKS(ctx context.Context, issuer string) ([]jose.JSONWebKey, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, hc, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.JWKSURI == "" {
		return nil, errors.New("the discovery document has no jwks_uri")
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, hc, disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
