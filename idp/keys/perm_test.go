package keys

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// An existing master key file that group or others may read is refused,
// with an error naming the file and the fix, whatever it holds; a 0600 (or
// 0400) file is read. A new file is created 0600 in a 0700 directory. The
// table of cases makes it longer than most functions.
func TestMasterKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Log("permission bits do not say who may read on Windows: not checked there")
		return
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false}, // world-readable: the usual umask 022 result
		{0o640, false}, // group-readable
		{0o604, false}, // others only
		{0o660, false}, // group-writable
		{0o601, false}, // any bit for others
		{0o620, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(testKeyText+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // not subject to the umask
				t.Fatal(err)
			}
			mk, created, err := LoadOrCreateMasterKey(path)
			if tc.ok {
				if err != nil || mk == nil || created {
					t.Fatalf("LoadOrCreateMasterKey(%04o file) = %v, created %v, %v; want the key", tc.mode, mk, created, err)
				}
				return
			}
			var pe *KeyFilePermError
			if !errors.As(err, &pe) || !errors.Is(err, ErrKeyFilePerm) || mk != nil {
				t.Fatalf("LoadOrCreateMasterKey(%04o file) = %v, %v; want a *KeyFilePermError", tc.mode, mk, err)
			}
			msg := err.Error()
			if pe.Path != path || pe.Mode != tc.mode || !strings.Contains(msg, path) || !strings.Contains(msg, "chmod 600 "+path) {
				t.Errorf("error %q (path %q, mode %04o); want it to name %s, its mode and the fix chmod 600", msg, pe.Path, pe.Mode, path)
			}
			if strings.Contains(msg, testKeyText) {
				t.Errorf("error %q holds the key", msg)
			}
			// Refused, not rewritten: the file and its mode are as they were.
			b, _ := os.ReadFile(path)
			fi, _ := os.Stat(path)
			if string(b) != testKeyText+"\n" || fi.Mode().Perm() != tc.mode {
				t.Errorf("the refused file was changed: mode %04o", fi.Mode().Perm())
			}
		})
	}

	// The mode of the file a link points to counts (a Kubernetes secret
	// volume is links into a directory of 0644 files by default).
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		target, link := filepath.Join(dir, "..data-key"), filepath.Join(dir, "master.key")
		if err := os.WriteFile(target, []byte(testKeyText+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateMasterKey(link); err != nil {
			t.Errorf("LoadOrCreateMasterKey(link to a 0600 file) = %v; want the key", err)
		}
		if err := os.Chmod(target, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateMasterKey(link); !errors.Is(err, ErrKeyFilePerm) || !strings.Contains(err.Error(), link) {
			t.Errorf("LoadOrCreateMasterKey(link to a 0644 file) = %v; want ErrKeyFilePerm naming %s", err, link)
		}
	})

	t.Run("new file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		path := filepath.Join(dir, "master.key")
		if _, created, err := LoadOrCreateMasterKey(path); err != nil || !created {
			t.Fatalf("LoadOrCreateMasterKey(new) = created %v, %v; want created", created, err)
		}
		for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %04o, %v; want %04o", p, fi.Mode().Perm(), err, want)
			}
		}
		// … and the file it made is accepted on the next start.
		if _, created, err := LoadOrCreateMasterKey(path); err != nil || created {
			t.Errorf("LoadOrCreateMasterKey(made by us) = created %v, %v; want it read", created, err)
		}
	})
}
