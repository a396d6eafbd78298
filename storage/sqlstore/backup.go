package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrBackupUnsupported is returned by BackupTo on PostgreSQL, whose own
// tools (pg_dump, base backups) are the backup (docs/operations.md). It is
// errors.ErrUnsupported as well (errors.Is), as storage.Backuper says.
var ErrBackupUnsupported error = unsupported("sqlstore: online backup is for SQLite; back PostgreSQL up with pg_dump")

// unsupported is an error that is errors.ErrUnsupported too.
type unsupported string

func (e unsupported) Error() string { return string(e) }

// Is reports whether target is errors.ErrUnsupported.
func (e unsupported) Is(target error) bool { return target == errors.ErrUnsupported }

// BackupTo writes a consistent copy of a SQLite database to path while the
// database stays in use: VACUUM INTO reads one snapshot (a read transaction;
// in WAL mode writers go on meanwhile) and writes a compact, self-contained
// database file without a WAL. path must not exist; on failure nothing is
// left at path.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if s.flavour != &sqliteFlavour {
		return ErrBackupUnsupported
	}
	// An empty file made here first (VACUUM INTO fills an empty file): the
	// copy is never readable by others, and an existing file is refused
	// rather than overwritten.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sqlstore: backup: %s already exists", path)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("sqlstore: backup to %s: %w", path, err)
	}
	return nil
}
