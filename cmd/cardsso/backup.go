package main

import (
	"fmt"

	"github.com/cardsso/cardsso/idp/admin"
	"github.com/spf13/cobra"
)

func (c *cli) newBackupCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Copy the SQLite database to a file while CardSSO keeps serving",
		Long: `Copy the SQLite database to a file while CardSSO keeps serving.

The copy is one consistent snapshot (SQLite's VACUUM INTO), compact, readable
only by its owner, and does not include the master key: back up the master key
file separately (and keep it apart from the database copies). FILE must not
exist. To restore, stop every node, move the copy to <data-dir>/cardsso.db
(removing cardsso.db-wal and cardsso.db-shm), and start again.

PostgreSQL deployments back up with pg_dump; this command refuses them.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&to, "to", "", "`file` to write the copy to (must not exist)")
	_ = cmd.MarkFlagRequired("to")
	cmd.RunE = c.withAdmin(func(cmd *cobra.Command, args []string, a *admin.Admin) (err error) {
		if err := a.Backup(cmd.Context(), to); err != nil {
			return err // PostgreSQL: an *InvalidError pointing to pg_dump
		}
		_, err = fmt.Fprintf(c.stdout, "backed up to %s\n", to)
		return err
	})
	return cmd
}
