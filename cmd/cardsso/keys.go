package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

func (c *cli) newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate the signing keys (OIDC tokens and SAML)",
		RunE:  missingSubcommand,
	}
	cmd.AddCommand(c.newKeysListCmd(), c.newKeysRotateCmd())
	return cmd
}

func (c *cli) newKeysListCmd() *cobra.Command {
	var (
		asJSON bool
		uses   []string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys (never their private parts)",
		Args:  cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	addUseFlag(cmd, &uses)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		keys, err := a.ListKeys(cmd.Context(), uses...)
		if err != nil {
			return keysError("list keys", err)
		}
		return c.writeKeys(keys, asJSON)
	})
	return cmd
}

func (c *cli) newKeysRotateCmd() *cobra.Command {
	var (
		asJSON bool
		uses   []string
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the signing keys now",
		Long: `Rotate the signing keys now: the next key starts signing and the current
one is retired. A retired key stays published (JWKS) until every token it
signed has expired, so tokens already issued keep verifying. Safe to run while
nodes serve: they pick the new key up from the database within
keys.refresh_interval (default 1m).

Both uses rotate unless --use names one: oidc (ID tokens, logout tokens) or
saml (SAML responses, assertions, logout messages). Rotating the SAML key
makes the published next certificate sign: service providers that imported
the metadata since the previous rotation already trust it; others must
import the metadata again.`,
		Args: cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	addUseFlag(cmd, &uses)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		keys, err := a.RotateKeys(cmd.Context(), uses...)
		if err != nil {
			return keysError("rotate keys", err)
		}
		if !asJSON {
			fmt.Fprintln(c.stdout, "Rotated the signing keys.")
			fmt.Fprintln(c.stdout)
		}
		return c.writeKeys(keys, asJSON)
	})
	return cmd
}

func (c *cli) writeKeys(keys []admin.KeyInfo, asJSON bool) error {
	if asJSON {
		if keys == nil {
			keys = []admin.KeyInfo{}
		}
		return writeJSON(c.stdout, keys)
	}
	return writeKeyTable(c.stdout, keys)
}

func writeKeyTable(w io.Writer, keys []admin.KeyInfo) error {
	if len(keys) == 0 {
		_, err := fmt.Fprintln(w, "No signing keys yet (serve generates them on first start).")
		return err
	}
	t := newTable(w)
	t.row("KID", "USE", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "EXPIRES")
	for _, k := range keys {
		t.row(k.ID, k.Use, k.Algorithm, k.State, formatTime(k.CreatedAt), formatTimePtr(k.ActivatedAt), formatTimePtr(k.RetiredAt), formatTimePtr(k.ExpiresAt))
	}
	return t.flush()
}

// addUseFlag adds --use (oidc, saml; repeatable; default both).
func addUseFlag(cmd *cobra.Command, v *[]string) {
	cmd.Flags().StringSliceVar(v, "use", nil, "only the keys of this `use`: oidc or saml (default both)")
}

// keysError makes an unknown --use a usage error naming the flag.
func keysError(what string, err error) error {
	var ie *idp.InvalidError
	if errors.As(err, &ie) && ie.Field == "use" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--use: %s", ie.Reason), hint: true}
	}
	return fmt.Errorf("%s: %w", what, err)
}
