package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// MasterKeySize is the size of a master key in bytes.
const MasterKeySize = 32

// Errors that callers branch on with errors.Is.
var (
	// ErrInvalidMasterKey: the text is not standard base64 of exactly
	// MasterKeySize bytes.
	ErrInvalidMasterKey = errors.New("keys: invalid master key")
	// ErrSealBroken: a sealed value could not be opened: it was altered, it
	// belongs to other associated data, or it was sealed under another
	// master key.
	ErrSealBroken = errors.New("keys: sealed value is broken")
)

// sealVersion is the first byte of every sealed value: AES-256-GCM under the
// key derived for "seal/v1", 96-bit random nonce, 128-bit tag.
const sealVersion byte = 1

// HKDF info strings. Derive's purposes live under derivePrefix, so no purpose
// a caller passes can produce the sealing key.
const (
	derivePrefix = "cardsso/derive/"
	sealInfo     = "cardsso/seal/v1"
)

// Purposes for Derive and MAC. Use these names: a purpose spelt differently
// derives another key, silently.
const (
	// PurposeBlindIndex keys BlindIndex.
	PurposeBlindIndex = "blind-index"
	// PurposeClientSecret keys the MAC that hashes client secrets.
	PurposeClientSecret = "client-secret"
	// PurposeCSRF keys the MAC of CSRF tokens.
	PurposeCSRF = "csrf"
	// PurposeOIDCCrypto derives zitadel's op.Config.CryptoKey (32 bytes),
	// which encrypts authorization codes and opaque access tokens.
	PurposeOIDCCrypto = "oidc-crypto"
)

// MasterKey is the deployment's root secret: it seals personal data and
// private keys and derives every other secret key. Every node of a deployment
// must hold the same master key.
//
// The zero MasterKey is not usable: get one from ParseMasterKey or
// LoadOrCreateMasterKey. A MasterKey is safe for concurrent use. It never
// prints its value: String, GoString and LogValue give "[redacted]".
type MasterKey struct {
	key   [MasterKeySize]byte
	seal  cipher.AEAD // AES-256-GCM with random nonces under the sealing subkey
	index *MAC        // the blind-index MAC
}

// newMasterKey builds a MasterKey from raw key bytes (len MasterKeySize).
func newMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != MasterKeySize {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidMasterKey, MasterKeySize, len(raw))
	}
	mk := &MasterKey{}
	copy(mk.key[:], raw)
	block, err := aes.NewCipher(mk.subkey(sealInfo, 32))
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	mk.seal, err = cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: sealing cipher: %w", err)
	}
	mk.index = newMAC(mk.subkey(derivePrefix+PurposeBlindIndex, 32))
	return mk, nil
}

// ParseMasterKey decodes a master key from standard base64 (RFC 4648 §4, with
// padding) of exactly MasterKeySize bytes; surrounding whitespace is ignored.
// Errors wrap ErrInvalidMasterKey and never contain the text.
func ParseMasterKey(b64 string) (*MasterKey, error) {
	s := strings.TrimSpace(b64)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidMasterKey)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		// base64.CorruptInputError names only an offset, but say it ourselves
		// so no part of the value can ever reach a log.
		return nil, fmt.Errorf("%w: not standard base64 of %d bytes", ErrInvalidMasterKey, MasterKeySize)
	}
	return newMasterKey(raw)
}

// GenerateMasterKey returns a fresh master key from rand (crypto/rand when
// nil) as the text ParseMasterKey reads: for `cardsso` commands that print a
// key for the operator's secret store.
func GenerateMasterKey(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	raw := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rnd, raw); err != nil {
		return "", fmt.Errorf("keys: generate master key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// LoadOrCreateMasterKey reads the master key from the file at path (the text
// ParseMasterKey reads). When the file does not exist it creates its
// directory (mode 0700) and the file (mode 0600) with a fresh random key and
// reports created = true; the caller should then warn that production
// deployments need a key of their own, shared by every node.
//
// Creation is atomic: the key is written to a temporary file in the same
// directory and hard-linked into place, which fails if the file appeared
// meanwhile, so two processes starting at once end with one key (the loser
// reads the winner's). Where the file system has no hard links it falls back
// to O_EXCL creation.
//
// An existing file readable, writable or executable by group or others
// (mode & 0o077 != 0) is refused with a *KeyFilePermError naming it and the
// fix, before its content is read: whoever can read it can read every
// sealed number and signing key. The mode is taken from the open file
// (fstat), so a swap between the check and the read does not pass. Not
// checked: the owner, the directory's mode, and Windows, whose permission
// bits do not say who may read.
func LoadOrCreateMasterKey(path string) (mk *MasterKey, created bool, err error) {
	if path == "" {
		return nil, false, errors.New("keys: master key file: empty path")
	}
	mk, err = readMasterKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return mk, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: master key directory: %w", err)
	}
	text, err := GenerateMasterKey(nil)
	if err != nil {
		return nil, false, err
	}
	won, err := createKeyFile(path, []byte(text+"\n"))
	if err != nil {
		return nil, false, fmt.Errorf("keys: create master key file %s: %w", path, err)
	}
	if !won {
		// Another process created it first: use its key.
		mk, err := readMasterKeyFileRetry(path)
		return mk, false, err
	}
	mk, err = ParseMasterKey(text)
	if err != nil {
		return nil, false, err
	}
	return mk, true, nil
}

// createKeyFile writes data to path unless path exists. It reports whether
// this call created the file.
func createKeyFile(path string, data []byte) (bool, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // the link (if any) keeps the content
	if err := writeSync(tmp, data); err != nil {
		return false, err
	}
	switch err := os.Link(tmpName, path); {
	case err == nil:
		syncDir(dir)
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	// No hard links here (some network and FUSE file systems): O_EXCL.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := writeSync(f, data); err != nil {
		os.Remove(path)
		return false, err
	}
	syncDir(dir)
	return true, nil
}

// writeSync writes data to f (created 0600 by os.CreateTemp or OpenFile),
// flushes it to disk and closes it.
func writeSync(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir flushes a directory entry; best effort (not every platform can).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// ErrKeyFilePerm is what a *KeyFilePermError wraps: a key file others may
// read.
var ErrKeyFilePerm = errors.New("keys: key file readable by group or others")

// KeyFilePermError is an existing master key file whose mode lets group or
// others at it. Its message names the file and the fix.
type KeyFilePermError struct {
	Path string
	Mode fs.FileMode // the permission bits found
}

func (e *KeyFilePermError) Error() string { return "keys: " + e.Reason() }

// Reason is the message without the package prefix, for a configuration
// error that names the setting itself.
func (e *KeyFilePermError) Reason() string {
	return fmt.Sprintf("%s is accessible to group or others (mode %04o); make it private with: chmod 600 %s",
		e.Path, uint32(e.Mode.Perm()), e.Path)
}

func (e *KeyFilePermError) Unwrap() error { return ErrKeyFilePerm }

// maxKeyFileSize bounds what is read from a key file: a key is 45 bytes of
// base64 and a newline.
const maxKeyFileSize = 4 << 10

func readMasterKeyFile(path string) (*MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: read master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: read master key file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, &KeyFilePermError{Path: path, Mode: fi.Mode().Perm()}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keys: read master key file: %w", err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("keys: master key file %s: %w: more than %d bytes", path, ErrInvalidMasterKey, maxKeyFileSize)
	}
	mk, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("keys: master key file %s: %w", path, err)
	}
	return mk, nil
}

// readMasterKeyFileRetry reads a key file another process has just created;
// with the O_EXCL fallback it may still be empty for a moment.
func readMasterKeyFileRetry(path string) (*MasterKey, error) {
	var err error
	for range 20 {
		var mk *MasterKey
		if mk, err = readMasterKeyFile(path); err == nil || errors.Is(err, ErrKeyFilePerm) {
			return mk, err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil, err
}

// subkey is HKDF-SHA256 (RFC 5869) of the master key with info; no salt, as
// the master key is already uniformly random.
func (mk *MasterKey) subkey(info string, size int) []byte {
	if size < 1 || size > 255*sha256.Size {
		panic(fmt.Sprintf("keys: derived key size %d out of range 1..%d", size, 255*sha256.Size))
	}
	k, err := hkdf.Key(sha256.New, mk.key[:], nil, info, size)
	if err != nil {
		// Only for sizes out of range (checked above) or FIPS-only mode
		// refusing the parameters, which cannot change at run time.
		panic("keys: hkdf: " + err.Error())
	}
	return k
}

// Derive returns a size-byte key for purpose, derived from the master key by
// HKDF-SHA256 (RFC 5869) with info "cardsso/derive/"+purpose. The same master
// key and purpose give the same key on every node; different purposes give
// independent keys. Use one size per purpose (a shorter key of the same
// purpose is a prefix of a longer one).
//
// Purposes in use: PurposeBlindIndex, PurposeClientSecret, PurposeCSRF and
// PurposeOIDCCrypto.
//
// Derive panics when size is outside 1..8160 or the MasterKey was not made by
// this package: both are programming errors, not input.
func (mk *MasterKey) Derive(purpose string, size int) []byte {
	if mk == nil || mk.seal == nil {
		panic("keys: use of an uninitialised MasterKey (use ParseMasterKey or LoadOrCreateMasterKey)")
	}
	return mk.subkey(derivePrefix+purpose, size)
}

// Seal encrypts and authenticates plaintext, binding it to associatedData
// (for example the account id or the key id, so a sealed value cannot be
// moved to another row). The result is
//
//	version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext and tag
//
// under a subkey derived for sealing; 29 bytes longer than plaintext. Random
// nonces keep a subkey safe for 2^32 seals.
func (mk *MasterKey) Seal(plaintext, associatedData []byte) ([]byte, error) {
	if mk == nil || mk.seal == nil {
		return nil, errors.New("keys: seal: uninitialised master key")
	}
	out := make([]byte, 1, 1+len(plaintext)+mk.seal.Overhead())
	out[0] = sealVersion
	return mk.seal.Seal(out, nil, plaintext, associatedData), nil
}

// Open reverses Seal. A value that was altered, sealed with other associated
// data or under another master key, or of an unknown version, gives an error
// wrapping ErrSealBroken.
func (mk *MasterKey) Open(sealed, associatedData []byte) ([]byte, error) {
	if mk == nil || mk.seal == nil {
		return nil, errors.New("keys: open: uninitialised master key")
	}
	if len(sealed) < 1+mk.seal.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrSealBroken)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrSealBroken, sealed[0])
	}
	pt, err := mk.seal.Open(nil, nil, sealed[1:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (altered, other associated data or other master key)", ErrSealBroken)
	}
	return pt, nil
}

// BlindIndex returns HMAC-SHA256 of value under the key derived for
// "blind-index": a deterministic 32-byte index for looking a value (the
// social security number) up without storing it in clear. Callers normalise
// the value first (for a citizen number: 18 characters, upper-case X).
func (mk *MasterKey) BlindIndex(value string) []byte {
	if mk == nil || mk.index == nil {
		panic("keys: use of an uninitialised MasterKey (use ParseMasterKey or LoadOrCreateMasterKey)")
	}
	return mk.index.Sum([]byte(value))
}

// MAC returns an HMAC-SHA256 keyed with Derive(purpose, 32), e.g.
// "client-secret" for client secret hashes or "csrf" for CSRF tokens.
func (mk *MasterKey) MAC(purpose string) *MAC {
	return newMAC(mk.Derive(purpose, 32))
}

func newMAC(key []byte) *MAC {
	return &MAC{key: key, hashes: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// String returns "[redacted]".
func (MasterKey) String() string { return "[redacted]" }

// GoString returns "[redacted]", so %#v does not print the key either.
func (MasterKey) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (MasterKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MAC is HMAC-SHA256 (RFC 2104) under a key derived from the master key; get
// one from MasterKey.MAC. It is safe for concurrent use.
type MAC struct {
	key []byte
	// hashes keeps keyed HMAC states for reuse: a client secret is checked
	// on every token and introspection request, and a new HMAC (two
	// SHA-256 states and the padded key) for each was a noticeable share
	// of their allocations.
	hashes *sync.Pool
}

// Sum returns the 32-byte MAC of data. It panics on a MAC not made by
// MasterKey.MAC rather than use an empty key.
func (m *MAC) Sum(data []byte) []byte {
	if m == nil || len(m.key) == 0 || m.hashes == nil {
		panic("keys: use of a MAC not made by MasterKey.MAC")
	}
	h := m.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	sum := h.Sum(make([]byte, 0, sha256.Size))
	m.hashes.Put(h)
	return sum
}

// Equal reports whether mac is the MAC of data, in constant time.
func (m *MAC) Equal(data, mac []byte) bool {
	return hmac.Equal(m.Sum(data), mac)
}

// String returns "[redacted]".
func (MAC) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (MAC) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]" for log/slog.
func (MAC) LogValue() slog.Value { return slog.StringValue("[redacted]") }
