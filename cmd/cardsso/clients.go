package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

func (c *cli) newClientsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Register and manage OpenID Connect clients (portals)",
		RunE:  missingSubcommand,
	}
	cmd.AddCommand(
		c.newClientsCreateCmd(),
		c.newClientsListCmd(),
		c.newClientsShowCmd(),
		c.newClientsDeleteCmd(),
		c.newClientsRotateSecretCmd(),
		c.newClientsUpdateCmd(),
	)
	return cmd
}

// createdClient is the JSON output of clients create: the client and, for a
// confidential client, its secret (the shape of an RFC 7591 registration
// response).
type createdClient struct {
	admin.ClientInfo
	Secret string `json:"client_secret,omitempty"`
}

func (c *cli) newClientsCreateCmd() *cobra.Command {
	var (
		spec   admin.ClientSpec
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --id ID --redirect-uri URI... [flags]",
		Short: "Register a client",
		Long: `Register an OpenID Connect client (a portal).

A confidential client (the default) authenticates to the token endpoint with a
secret: CardSSO generates one (256 random bits) unless --secret gives one, and
prints it once; only a keyed hash is stored. A public client (--public, e.g. a
single-page or mobile app) has no secret and must use PKCE with S256.

Redirect URIs are matched exactly. --redirect-uri and
--post-logout-redirect-uri may be repeated or given a comma-separated list.`,
		Example: `  cardsso clients create --id demo-portal --name "Demo portal" \
      --redirect-uri http://127.0.0.1:9000/callback`,
		Args: cobra.NoArgs,
	}
	clientSpecFlags(cmd.Flags(), &spec)
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("id")
	_ = cmd.MarkFlagRequired("redirect-uri")

	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		if spec.Public && cmd.Flags().Changed("secret") {
			return usageErrorf("--secret: a public client has no secret (drop --public or --secret)")
		}
		suppliedSecret := spec.Secret != ""
		if spec.Secret == "-" {
			s, err := readSecret(cmd.InOrStdin())
			if err != nil {
				return usageErrorf("--secret: %v", err)
			}
			spec.Secret = s
		}
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)

		info, secret, err := a.CreateClient(cmd.Context(), spec)
		if err != nil {
			return createError(err, spec.ID)
		}
		return c.printCreated(info, secret, suppliedSecret, asJSON)
	})
	return cmd
}

// clientSpecFlags defines the flags of a client registration.
func clientSpecFlags(f *pflag.FlagSet, spec *admin.ClientSpec) {
	f.StringVar(&spec.ID, "id", "", "client `ID` (required)")
	f.StringVar(&spec.Name, "name", "", "display `name` shown to citizens")
	f.StringSliceVar(&spec.RedirectURIs, "redirect-uri", nil, "allowed redirect `URI` (required; repeatable)")
	f.StringSliceVar(&spec.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "allowed post-logout redirect `URI` (repeatable)")
	f.BoolVar(&spec.Public, "public", false, "register a public client (no secret, PKCE S256 required)")
	f.StringVar(&spec.Secret, "secret", "", "use this `secret` (at least 32 characters) instead of a generated one; \"-\" reads it from stdin (a secret on the command line is visible to other local users)")
	f.BoolVar(&spec.FirstParty, "first-party", false, "the client is operated by the CardSSO operator itself: citizens are not asked for consent")
	f.StringVar(&spec.MinACR, "min-acr", "", "minimum assurance `level` for this client, e.g. urn:cardsso:loa:2; citizens below it are stepped up (card, face checks)")
	f.StringSliceVar(&spec.AllowedClaims, "allow-claim", nil, "restricted `claim` scope the client may receive, e.g. cardsso.ssn (the full number); repeatable")
	f.BoolVar(&spec.PublicSubject, "public-subject", false, "give the client the account's public sub instead of a pairwise one (OIDC Core 8)")
	f.StringVar(&spec.SectorIdentifierURI, "sector-identifier-uri", "", "https `URL` whose host is the pairwise sector (needed when redirect URIs are on several hosts)")
	f.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "`URI` that receives OpenID Connect Back-Channel Logout tokens when a session the client signed in through ends (https; http only on localhost)")
	f.DurationVar(&spec.RefreshReuseGrace, "refresh-reuse-grace", 0, "how long a rotated refresh token may be presented again (a portal that crashed before storing the new one), up to 5m; 0: strict rotation, any reuse revokes the family")
}

// printCreated prints a registered client and, once, its secret.
func (c *cli) printCreated(info admin.ClientInfo, secret string, suppliedSecret, asJSON bool) error {
	if asJSON {
		if err := writeJSON(c.stdout, createdClient{ClientInfo: jsonClient(info), Secret: secret}); err != nil {
			return err
		}
		if secret != "" && !suppliedSecret {
			fmt.Fprintln(c.stderr, secretNote(info.ID))
		}
		return nil
	}
	fmt.Fprintf(c.stdout, "Registered client %q.\n\n", info.ID)
	if err := writeClient(c.stdout, info); err != nil {
		return err
	}
	if secret != "" {
		if suppliedSecret {
			fmt.Fprintf(c.stdout, "\nclient_secret: the one given with --secret\n")
		} else {
			fmt.Fprintf(c.stdout, "\nclient_secret: %s\n\n%s\n", secret, secretNote(info.ID))
		}
	}
	return nil
}

// readSecret reads a secret from the first line of r.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read from stdin: %w", err)
	}
	s := strings.TrimRight(line, "\r\n")
	if s == "" {
		return "", errors.New("nothing on stdin")
	}
	return s, nil
}

func secretNote(id string) string {
	return fmt.Sprintf("The client secret is shown only this once; CardSSO stores only a hash of it. Store it now (`cardsso clients rotate-secret %s` issues a new one).", id)
}

func (c *cli) newClientsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the registered clients",
		Args:  cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		clients, err := a.ListClients(cmd.Context())
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		if asJSON {
			out := make([]admin.ClientInfo, 0, len(clients))
			for _, ci := range clients {
				out = append(out, jsonClient(ci))
			}
			return writeJSON(c.stdout, out)
		}
		if len(clients) == 0 {
			_, err := fmt.Fprintln(c.stdout, "No clients registered (add one with `cardsso clients create`).")
			return err
		}
		t := newTable(c.stdout)
		t.row("CLIENT_ID", "NAME", "TYPE", "REDIRECT_URIS", "FIRST_PARTY", "MIN_ACR", "CREATED")
		for _, ci := range clients {
			t.row(ci.ID, ci.Name, clientType(ci), strings.Join(ci.RedirectURIs, ","), yesNo(ci.FirstParty), ci.MinACR, formatTime(ci.CreatedAt))
		}
		return t.flush()
	})
	return cmd
}

func (c *cli) newClientsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one client",
		Args:  exactlyOneID("client ID"),
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		info, err := a.GetClient(cmd.Context(), args[0])
		if err != nil {
			return clientError(err, args[0])
		}
		if asJSON {
			return writeJSON(c.stdout, jsonClient(info))
		}
		return writeClient(c.stdout, info)
	})
	return cmd
}

func (c *cli) newClientsDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client",
		Long:  "Delete a client. Portals using it can no longer sign citizens in.",
		Args:  exactlyOneID("client ID"),
	}
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		if err := a.DeleteClient(cmd.Context(), args[0]); err != nil {
			return clientError(err, args[0])
		}
		_, err = fmt.Fprintf(c.stdout, "Deleted client %q.\n", args[0])
		return err
	})
	return cmd
}

func (c *cli) newClientsRotateSecretCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Replace a confidential client's secret",
		Long:  "Replace a confidential client's secret with a new generated one, printed once. The old secret stops working at once.",
		Args:  exactlyOneID("client ID"),
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		secret, err := a.RotateClientSecret(cmd.Context(), args[0])
		if err != nil {
			return clientError(err, args[0])
		}
		if asJSON {
			if err := writeJSON(c.stdout, struct {
				ID     string `json:"client_id"`
				Secret string `json:"client_secret"`
			}{args[0], secret}); err != nil {
				return err
			}
			fmt.Fprintln(c.stderr, secretNote(args[0]))
			return nil
		}
		_, err = fmt.Fprintf(c.stdout, "New secret for client %q (the old one no longer works).\n\nclient_secret: %s\n\n%s\n", args[0], secret, secretNote(args[0]))
		return err
	})
	return cmd
}

// jsonClient is ci for JSON output: lists are [] rather than null.
func jsonClient(ci admin.ClientInfo) admin.ClientInfo {
	if ci.RedirectURIs == nil {
		ci.RedirectURIs = []string{}
	}
	if ci.PostLogoutRedirectURIs == nil {
		ci.PostLogoutRedirectURIs = []string{}
	}
	return ci
}

// writeClient prints one client as aligned key/value lines.
func writeClient(w io.Writer, ci admin.ClientInfo) error {
	t := newTable(w)
	t.row("client_id", ci.ID)
	t.row("name", ci.Name)
	t.row("type", clientType(ci))
	t.row("token_endpoint_auth_method", ci.AuthMethod)
	t.row("redirect_uris", strings.Join(ci.RedirectURIs, " "))
	t.row("post_logout_redirect_uris", strings.Join(ci.PostLogoutRedirectURIs, " "))
	t.row("first_party", yesNo(ci.FirstParty))
	t.row("min_acr", ci.MinACR)
	t.row("allowed_claims", strings.Join(ci.AllowedClaims, " "))
	t.row("subject_type", ci.SubjectType)
	if ci.SectorIdentifierURI != "" {
		t.row("sector_identifier_uri", ci.SectorIdentifierURI)
	}
	if ci.BackchannelLogoutURI != "" {
		t.row("backchannel_logout_uri", ci.BackchannelLogoutURI)
	}
	t.row("refresh_reuse_grace", ci.RefreshReuseGrace)
	t.row("created_at", formatTime(ci.CreatedAt))
	t.row("updated_at", formatTime(ci.UpdatedAt))
	return t.flush()
}

func clientType(ci admin.ClientInfo) string {
	if ci.Public {
		return "public"
	}
	return "confidential"
}

// clientError turns an idp error about client id into the CLI's: not found
// and already exists are failures (exit 1) that name the client; an
// *idp.InvalidError is a usage error (exit 2) that names the flag at fault
// (clients create) or the client (the commands that take an ID).
func clientError(err error, id string) error {
	var ie *idp.InvalidError
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return fmt.Errorf("client %q not found", id)
	case errors.Is(err, admin.ErrAlreadyExists):
		return fmt.Errorf("client %q already exists", id)
	case errors.As(err, &ie):
		msg := ie.Reason
		if !strings.Contains(msg, strconv.Quote(id)) {
			msg = fmt.Sprintf("client %q: %s", id, msg)
		}
		return &exitError{code: exitUsage, err: errors.New(msg)}
	}
	return err
}

// createError is clientError for clients create, where an invalid field is
// named by its flag.
func createError(err error, id string) error {
	var ie *idp.InvalidError
	if errors.As(err, &ie) {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %s", clientFlag(ie.Field), ie.Reason), hint: true}
	}
	return clientError(err, id)
}

// clientFlag names the flag of clients create that sets a ClientSpec field,
// whichever way idp spells it ("RedirectURIs", "redirect_uris[1]",
// "redirect_uri"); an unknown field is returned as it is.
func clientFlag(field string) string {
	key := field
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	key = strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(key))
	switch key {
	case "id", "clientid":
		return "--id"
	case "name", "clientname":
		return "--name"
	case "redirecturi", "redirecturis":
		return "--redirect-uri"
	case "postlogoutredirecturi", "postlogoutredirecturis":
		return "--post-logout-redirect-uri"
	case "public":
		return "--public"
	case "secret", "clientsecret":
		return "--secret"
	case "firstparty":
		return "--first-party"
	case "minacr":
		return "--min-acr"
	case "backchannellogouturi":
		return "--backchannel-logout-uri"
	case "allowclaim", "allowedclaims":
		return "--allow-claim"
	case "sectoridentifieruri":
		return "--sector-identifier-uri"
	}
	return field
}

func (c *cli) newClientsUpdateCmd() *cobra.Command {
	var (
		grace  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "update ID --refresh-reuse-grace DURATION",
		Short: "Change a client's settings",
		Long: `Change a client's settings. Today: --refresh-reuse-grace, how long after a
refresh token was rotated the client may present it again and get a fresh pair
in the same family (a portal that crashed after CardSSO rotated the token but
before it stored the new one). 0 is strict rotation: any reuse is taken as
theft and revokes the whole family. Within the grace a reuse is logged; after
it, reuse revokes the family as always. Running nodes pick the change up when
their client cache refreshes (30 s).`,
		Example: "  cardsso clients update demo-portal --refresh-reuse-grace 30s",
		Args:    exactlyOneID("client ID"),
	}
	cmd.Flags().DurationVar(&grace, "refresh-reuse-grace", 0, "grace for presenting a rotated refresh token again, 0 to 5m (0: strict)")
	_ = cmd.MarkFlagRequired("refresh-reuse-grace")
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		info, err := a.SetRefreshReuseGrace(cmd.Context(), args[0], grace)
		if err != nil {
			return clientError(err, args[0])
		}
		if asJSON {
			return writeJSON(c.stdout, jsonClient(info))
		}
		fmt.Fprintf(c.stdout, "Updated client %q.\n\n", info.ID)
		return writeClient(c.stdout, info)
	})
	return cmd
}
