package main

import (
	"fmt"

	"github.com/cardsso/cardsso/idp/admin"
	"github.com/spf13/cobra"
)

func (c *cli) newMigrateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Run pending database migrations and print the schema version",
		Long: `Run pending database migrations and print the schema version.

serve and the other commands migrate too when they open the database; run this
to migrate ahead of a rollout. It is safe to run again: with nothing pending it
only prints the version.`,
		Args: cobra.NoArgs,
	}
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		v, err := a.Migrate(cmd.Context())
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if asJSON {
			return writeJSON(c.stdout, struct {
				SchemaVersion int64 `json:"schema_version"`
			}{v})
		}
		_, err = fmt.Fprintf(c.stdout, "schema version %d\n", v)
		return err
	})
	return cmd
}
