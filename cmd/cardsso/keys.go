package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
)

func (c *cli) newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and rotate the token signing keys",
		RunE:  missingSubcommand,
	}
	cmd.AddCommand(c.newKeysListCmd(), c.newKeysRotateCmd())
	return cmd
}

func (c *cli) newKeysListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys (never their private parts)",
		Args:  cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)
		keys, err := a.ListKeys(cmd.Context())
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		return c.writeKeys(keys, asJSON)
	})
	return cmd
}

func (c *cli) newKeysRotateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the signing keys now",
		Long: `Rotate the signing keys now: the next key starts signing and the current
one is retired. A retired key stays published (JWKS) until every token it
signed has expired, so tokens already issued keep verifying. Safe to run while
nodes serve: they pick the new key up from the database within
keys.refresh_interval (default 1m).`,
		Args: cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)
		keys, err := a.RotateKeys(cmd.Context())
		if err != nil {
			return fmt.Errorf("rotate keys: %w", err)
		}
		if !asJSON {
			fmt.Fprintln(c.stdout, "Rotated the signing keys.")
			fmt.Fprintln(c.stdout)
		}
		return c.writeKeys(keys, asJSON)
	})
	return cmd
}

func (c *cli) writeKeys(keys []idp.KeyInfo, asJSON bool) error {
	if asJSON {
		if keys == nil {
			keys = []idp.KeyInfo{}
		}
		return writeJSON(c.stdout, keys)
	}
	return writeKeyTable(c.stdout, keys)
}

func writeKeyTable(w io.Writer, keys []idp.KeyInfo) error {
	if len(keys) == 0 {
		_, err := fmt.Fprintln(w, "No signing keys yet (serve generates them on first start).")
		return err
	}
	t := newTable(w)
	t.row("KID", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "EXPIRES")
	for _, k := range keys {
		t.row(k.ID, k.Algorithm, k.State, formatTime(k.CreatedAt), formatTimePtr(k.ActivatedAt), formatTimePtr(k.RetiredAt), formatTimePtr(k.ExpiresAt))
	}
	return t.flush()
}
