package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

func (c *cli) newSPsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sps",
		Short: "Register and manage SAML service providers (legacy systems)",
		RunE:  missingSubcommand,
	}
	cmd.AddCommand(c.newSPsAddCmd(), c.newSPsListCmd(), c.newSPsShowCmd(), c.newSPsUpdateCmd(), c.newSPsDeleteCmd())
	return cmd
}

// newSPsAddCmd is `cardsso sps add`. It is long for its help text, the
// operator's description of every check the metadata passes; the logic is
// the few lines of RunE.
func (c *cli) newSPsAddCmd() *cobra.Command {
	var (
		spec     admin.SPSpec
		metadata string
		attrs    []string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "add --metadata FILE|URL [flags]",
		Short: "Register a SAML service provider from its metadata",
		Long: `Register a SAML 2.0 service provider from its metadata: a file, "-" for
stdin, or an https URL (http only from localhost).

The metadata is checked before anything is stored: one EntityDescriptor with
one SPSSODescriptor, an absolute entityID, assertion consumer and single
logout services at https URLs (http only on localhost, 127.0.0.1 and ::1;
javascript:, data: and relative URLs are refused), at least one HTTP-POST
assertion consumer service, parseable certificates, no DOCTYPE. An SP with an
encryption certificate receives encrypted assertions; one that declares
AuthnRequestsSigned must sign its requests.

--attributes is the release allow-list (default name): name, ssn_masked,
card_region, card_status, and ssn (the full number, released only when
listed). --nameid persistent (default) gives a stable identifier per SP that
no other SP can link; transient a random one per assertion.

--idp-initiated allows IdP-initiated SSO to the SP
(/saml/idp-initiated?sp=ID[&RelayState=…]); it is off by default, because any
web page can link there and the answer is posted to the SP in the citizen's
session. --relay-state (repeatable) lists the RelayState values such a link
may carry, compared exactly (at most 80 bytes each; an empty RelayState is
always allowed); any other value is refused.`,
		Example: `  cardsso sps add --metadata http://127.0.0.1:9100/saml/metadata --id legacy-demo \
      --attributes name,ssn_masked,card_region
  cardsso sps add --metadata sp.xml --idp-initiated --relay-state https://legacy.example.gov.cn/home`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&metadata, "metadata", "", "SP metadata `FILE`, \"-\" for stdin, or https `URL` (required)")
	f.StringVar(&spec.ID, "id", "", "our `ID` for the SP (default: derived from the entity ID's host)")
	f.StringVar(&spec.Name, "name", "", "display `name` shown to citizens (default: the metadata's organization name, else the id)")
	f.StringVar(&spec.MinACR, "min-acr", "", "minimum assurance `level`, e.g. urn:cardsso:loa:2 (citizens below it are stepped up)")
	f.StringSliceVar(&attrs, "attributes", nil, "attributes the SP may receive, comma-separated `LIST` (default name)")
	f.StringVar(&spec.NameIDFormat, "nameid", "persistent", "NameID `format`: persistent or transient")
	f.BoolVar(&spec.IdPInitiated, "idp-initiated", false, "allow IdP-initiated SSO to this SP (off by default)")
	f.StringArrayVar(&spec.RelayStates, "relay-state", nil, "a RelayState `value` IdP-initiated SSO may carry (repeatable; needs --idp-initiated)")
	addJSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("metadata")

	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		if cmd.Flags().Changed("attributes") {
			spec.Attributes = []string{}
			for _, a := range attrs {
				if a = strings.TrimSpace(a); a != "" {
					spec.Attributes = append(spec.Attributes, a)
				}
			}
		}
		switch {
		case metadata == "-":
			b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			if err != nil {
				return usageErrorf("--metadata: read stdin: %v", err)
			}
			spec.Metadata = b
		case strings.HasPrefix(metadata, "https://") || strings.HasPrefix(metadata, "http://"):
			spec.MetadataURL = metadata
		default:
			b, err := os.ReadFile(metadata)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageErrorf("--metadata: %s: no such file (give a file or an https URL)", metadata)
				}
				return usageErrorf("--metadata: %v", unwrapPathError(err))
			}
			spec.Metadata = b
		}
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)
		info, err := a.AddServiceProvider(cmd.Context(), spec)
		if err != nil {
			return spAddError(err, spec.ID)
		}
		if asJSON {
			return writeJSON(c.stdout, info)
		}
		fmt.Fprintf(c.stdout, "Registered service provider %q.\n\n", info.ID)
		return writeSP(c.stdout, info)
	})
	return cmd
}

func (c *cli) newSPsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "list", Short: "List the registered service providers", Args: cobra.NoArgs}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		sps, err := a.ListServiceProviders(cmd.Context())
		if err != nil {
			return fmt.Errorf("list service providers: %w", err)
		}
		if asJSON {
			if sps == nil {
				sps = []admin.SPInfo{}
			}
			return writeJSON(c.stdout, sps)
		}
		if len(sps) == 0 {
			_, err := fmt.Fprintln(c.stdout, "No service providers registered (add one with `cardsso sps add`).")
			return err
		}
		t := newTable(c.stdout)
		t.row("ID", "ENTITY_ID", "NAME", "NAMEID", "MIN_ACR", "ATTRIBUTES", "IDP_INITIATED", "RELAY_STATES", "CREATED")
		for _, sp := range sps {
			t.row(sp.ID, sp.EntityID, sp.Name, sp.NameIDFormat, sp.MinACR, strings.Join(sp.Attributes, ","),
				yesNo(sp.IdPInitiated), strings.Join(sp.RelayStates, ","), formatTime(sp.CreatedAt))
		}
		return t.flush()
	})
	return cmd
}

func (c *cli) newSPsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "show ID", Short: "Show one service provider (by id or entity ID)", Args: exactlyOneID("service provider ID")}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		info, err := a.GetServiceProvider(cmd.Context(), args[0])
		if err != nil {
			return spError(err, args[0])
		}
		if asJSON {
			return writeJSON(c.stdout, info)
		}
		return writeSP(c.stdout, info)
	})
	return cmd
}

func (c *cli) newSPsUpdateCmd() *cobra.Command {
	var (
		upd     admin.SPUpdate
		on      bool
		relays  []string
		clearRS bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a service provider's IdP-initiated SSO settings",
		Long: `Change a service provider (by id or entity ID).

--idp-initiated=true|false switches IdP-initiated SSO on or off (off also
empties the RelayState list). --relay-state (repeatable) replaces the list of
RelayState values an IdP-initiated SSO may carry; --clear-relay-states
empties it. Flags not given leave the setting as it is.`,
		Example: `  cardsso sps update legacy.example.gov.cn --idp-initiated --relay-state https://legacy.example.gov.cn/home
  cardsso sps update legacy.example.gov.cn --idp-initiated=false`,
		Args: exactlyOneID("service provider ID"),
	}
	f := cmd.Flags()
	f.BoolVar(&on, "idp-initiated", false, "allow (true) or refuse (false) IdP-initiated SSO to this SP")
	f.StringArrayVar(&relays, "relay-state", nil, "a RelayState `value` IdP-initiated SSO may carry (repeatable; replaces the list)")
	f.BoolVar(&clearRS, "clear-relay-states", false, "empty the RelayState list")
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		fl := cmd.Flags()
		if fl.Changed("idp-initiated") {
			upd.IdPInitiated = &on
		}
		switch {
		case clearRS && fl.Changed("relay-state"):
			return usageErrorf("--clear-relay-states and --relay-state: give one")
		case clearRS:
			upd.RelayStates = []string{}
		case fl.Changed("relay-state"):
			upd.RelayStates = relays
		}
		if upd.IdPInitiated == nil && upd.RelayStates == nil {
			return usageErrorf("nothing to change: give --idp-initiated, --relay-state or --clear-relay-states")
		}
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)
		info, err := a.UpdateServiceProvider(cmd.Context(), args[0], upd)
		if err != nil {
			return spAddError(err, args[0])
		}
		if asJSON {
			return writeJSON(c.stdout, info)
		}
		fmt.Fprintf(c.stdout, "Updated service provider %q.\n\n", info.ID)
		return writeSP(c.stdout, info)
	})
	return cmd
}

func (c *cli) newSPsDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a service provider",
		Long:  "Delete a service provider (by id or entity ID). It can no longer sign citizens in.",
		Args:  exactlyOneID("service provider ID"),
	}
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		if err := a.DeleteServiceProvider(cmd.Context(), args[0]); err != nil {
			return spError(err, args[0])
		}
		_, err = fmt.Fprintf(c.stdout, "Deleted service provider %q.\n", args[0])
		return err
	})
	return cmd
}

func writeSP(w io.Writer, sp admin.SPInfo) error {
	t := newTable(w)
	t.row("id", sp.ID)
	t.row("entity_id", sp.EntityID)
	t.row("name", sp.Name)
	t.row("nameid_format", sp.NameIDFormat)
	t.row("min_acr", sp.MinACR)
	t.row("attributes", strings.Join(sp.Attributes, " "))
	t.row("idp_initiated", yesNo(sp.IdPInitiated))
	t.row("relay_states", strings.Join(sp.RelayStates, " "))
	t.row("assertion_consumer_services", strings.Join(sp.ACS, " "))
	t.row("single_logout_services", strings.Join(sp.SLO, " "))
	t.row("encrypted_assertions", yesNo(sp.Encrypted))
	t.row("signed_requests", yesNo(sp.SignedRequests))
	t.row("created_at", formatTime(sp.CreatedAt))
	return t.flush()
}

// spError turns an idp error about service provider id into the CLI's: not
// found and already exists are failures (exit 1), an *idp.InvalidError a
// usage error (exit 2).
func spError(err error, id string) error {
	var ie *idp.InvalidError
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return fmt.Errorf("service provider %q not found", id)
	case errors.Is(err, admin.ErrAlreadyExists):
		return fmt.Errorf("%s", strings.TrimSuffix(err.Error(), ": "+admin.ErrAlreadyExists.Error())+" is already registered")
	case errors.As(err, &ie):
		return &exitError{code: exitUsage, err: fmt.Errorf("service provider %s: %s", strconv.Quote(id), ie.Reason)}
	}
	return err
}

// spAddError is spError for sps add, where an invalid field is named by its
// flag: --metadata, --id, --name, --min-acr, --attributes, --nameid or
// --relay-state (and so for sps update).
func spAddError(err error, id string) error {
	var ie *idp.InvalidError
	if errors.As(err, &ie) {
		return &exitError{code: exitUsage, err: fmt.Errorf("--%s: %s", ie.Field, ie.Reason), hint: true}
	}
	return spError(err, id)
}
