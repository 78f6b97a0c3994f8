package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// restrictFiles makes the database file readable by Herald's own user
// only: it holds event payloads (card data), webhook configurations and API
// key hashes. SQLite gives the -wal and -shm files it creates the mode of
// the database file, so creating that file 0600 covers all three; files
// left world-readable by an earlier Herald are tightened to their owner's
// bits.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check mode of %s: %w", p, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&0o700); err != nil {
				return fmt.Errorf("restrict mode of %s: %w", p, err)
			}
		}
	}
	return nil
}
