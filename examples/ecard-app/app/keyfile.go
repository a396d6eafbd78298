package app

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultKeyFile is where the ecard-app command keeps its key unless told.
const DefaultKeyFile = "ecard-app.json"

// ErrKeyFileExists means Save was asked to write over an existing key
// file without force: the binding it holds would be lost.
var ErrKeyFileExists = errors.New("the key file exists")

// keyFile is the JSON of a key file. It holds the private key, so it is
// written with mode 0600; it never holds the holder's full number.
type keyFile struct {
	Platform     string          `json:"platform"` // the app API base URL
	BindingID    string          `json:"binding_id"`
	DeviceName   string          `json:"device_name"`
	MaskedNumber string          `json:"masked_number"`
	BoundAt      time.Time       `json:"bound_at"`
	Key          json.RawMessage `json:"key"` // private JWK (RFC 7517), kid = binding id
}

// Save writes the app's key file at path with mode 0600. An existing file
// is refused with ErrKeyFileExists unless force; with force it is replaced
// atomically (a temporary file in the same directory, then a rename).
func (a *App) Save(path string, force bool) error {
	jwk := jose.JSONWebKey{Key: a.Key, KeyID: a.BindingID, Algorithm: string(jose.ES256), Use: "sig"}
	key, err := jwk.MarshalJSON()
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	b, err := json.MarshalIndent(keyFile{
		Platform: a.Platform, BindingID: a.BindingID, DeviceName: a.DeviceName,
		MaskedNumber: a.MaskedNumber, BoundAt: a.BoundAt, Key: key,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	b = append(b, '\n')
	if !force {
		return writeNew(path, b)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ecard-app-*.tmp")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	return nil
}

// writeNew creates path (0600), refusing an existing file even if it
// appears between a caller's check and this write.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s (use --force to replace it and lose its binding)", ErrKeyFileExists, path)
	}
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("key file: %w", err)
	}
	return f.Close()
}

// CheckNew reports ErrKeyFileExists if path exists and force is false, so
// that a command can refuse before it binds (binding, then failing to
// save, would leave a binding nobody holds the key of).
func CheckNew(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s (use --force to replace it and lose its binding)", ErrKeyFileExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("key file: %w", err)
	}
	return nil
}

// Load reads a key file that Save wrote. On Unix a key file that others
// may read (mode bits beyond 0600) is refused, as ssh refuses such keys.
func Load(path string) (*App, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w (bind first: ecard-app bind)", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: mode %04o lets others read the private key; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(kf.Key); err != nil {
		return nil, fmt.Errorf("key file %s: key: %w", path, err)
	}
	key, ok := jwk.Key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: want a private EC P-256 key", path)
	}
	if kf.BindingID == "" {
		return nil, fmt.Errorf("key file %s: no binding id", path)
	}
	base, err := ParseBase(kf.Platform)
	if err != nil {
		return nil, fmt.Errorf("key file %s: platform: %w", path, err)
	}
	return &App{
		Platform: base, BindingID: kf.BindingID, DeviceName: kf.DeviceName,
		MaskedNumber: kf.MaskedNumber, BoundAt: kf.BoundAt, Key: key,
	}, nil
}
