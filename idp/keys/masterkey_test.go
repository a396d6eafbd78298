package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKeyText is a fixed master key for tests: 32 bytes 0x00..0x1f.
var testKeyText = base64.StdEncoding.EncodeToString([]byte{
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
})

func testMasterKey(t testing.TB) *MasterKey {
	t.Helper()
	mk, err := ParseMasterKey(testKeyText)
	if err != nil {
		t.Fatalf("ParseMasterKey: %v", err)
	}
	return mk
}

func randomMasterKey(t testing.TB) *MasterKey {
	t.Helper()
	text, err := GenerateMasterKey(nil)
	if err != nil {
		t.Fatalf("GenerateMasterKey: %v", err)
	}
	mk, err := ParseMasterKey(text)
	if err != nil {
		t.Fatalf("ParseMasterKey(generated): %v", err)
	}
	return mk
}

func TestParseMasterKey(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"32 bytes", testKeyText, true},
		{"surrounding whitespace", "  " + testKeyText + "\n", true},
		{"empty", "", false},
		{"blank", " \n", false},
		{"16 bytes", b64(make([]byte, 16)), false},
		{"31 bytes", b64(make([]byte, 31)), false},
		{"33 bytes", b64(make([]byte, 33)), false},
		{"64 bytes", b64(make([]byte, 64)), false},
		{"url alphabet", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), false},
		{"no padding", base64.RawStdEncoding.EncodeToString(make([]byte, 32)), false},
		{"hex", hex.EncodeToString(make([]byte, 32)), false},
		{"not base64", "this is not a key, not at all!!!!!!!!!!!!!!!", false},
		{"inner space", testKeyText[:10] + " " + testKeyText[10:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk, err := ParseMasterKey(tc.text)
			if tc.ok {
				if err != nil || mk == nil {
					t.Fatalf("ParseMasterKey(%q) = %v, %v; want a key", tc.text, mk, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidMasterKey) {
				t.Fatalf("ParseMasterKey(%q) = %v; want ErrInvalidMasterKey", tc.text, err)
			}
			if s := strings.TrimSpace(tc.text); s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q echoes the value", err)
			}
		})
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "secrets")
	path := filepath.Join(dir, "master.key")

	mk1, created, err := LoadOrCreateMasterKey(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateMasterKey(new) = %v, %v, %v; want a key, true, nil", mk1, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o; want 600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("key directory mode = %o; want 700", got)
	}
	text, _ := os.ReadFile(path)
	if _, err := ParseMasterKey(string(text)); err != nil {
		t.Errorf("key file does not parse: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the key file (temporary file left?)", len(entries))
	}

	mk2, created, err := LoadOrCreateMasterKey(path)
	if err != nil || created {
		t.Fatalf("LoadOrCreateMasterKey(existing) = %v, %v, %v; want a key, false, nil", mk2, created, err)
	}
	if !bytes.Equal(mk1.BlindIndex("x"), mk2.BlindIndex("x")) {
		t.Errorf("reloaded key differs from the created one")
	}

	// A broken file is an error, not a reason to make a new key.
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateMasterKey(bad); !errors.Is(err, ErrInvalidMasterKey) {
		t.Errorf("LoadOrCreateMasterKey(bad file) = %v; want ErrInvalidMasterKey", err)
	}
	if got, _ := os.ReadFile(bad); string(got) != "c2hvcnQ=\n" {
		t.Errorf("bad key file was overwritten")
	}
	if _, _, err := LoadOrCreateMasterKey(""); err == nil {
		t.Errorf("LoadOrCreateMasterKey(\"\"): no error")
	}
}

// TestLoadOrCreateMasterKeyRace: processes starting at once agree on one key.
func TestLoadOrCreateMasterKeyRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	var (
		wg      sync.WaitGroup
		keys    [n]*MasterKey
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = LoadOrCreateMasterKey(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateMasterKey #%d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if !bytes.Equal(keys[i].BlindIndex("x"), keys[0].BlindIndex("x")) {
			t.Errorf("caller %d got another key", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report created; want 1", creators)
	}
}

func TestSealOpen(t *testing.T) {
	mk := testMasterKey(t)
	pt := []byte("110105199003070017")
	ad := []byte("account-1")
	sealed, err := mk.Seal(pt, ad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if got, want := len(sealed), len(pt)+29; got != want {
		t.Errorf("len(sealed) = %d; want %d", got, want)
	}
	if sealed[0] != 1 {
		t.Errorf("version byte = %d; want 1", sealed[0])
	}
	if bytes.Contains(sealed, pt) {
		t.Errorf("sealed value contains the plaintext")
	}
	got, err := mk.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v; want %q, nil", got, err, pt)
	}
	again, _ := mk.Seal(pt, ad)
	if bytes.Equal(again, sealed) {
		t.Errorf("two seals of one value are equal: nonce not random")
	}
	if empty, err := mk.Seal(nil, nil); err != nil {
		t.Errorf("Seal(nil) = %v", err)
	} else if got, err := mk.Open(empty, nil); err != nil || len(got) != 0 {
		t.Errorf("Open(Seal(nil)) = %q, %v; want empty, nil", got, err)
	}

	broken := map[string][]byte{
		"empty":     nil,
		"too short": sealed[:28],
		"truncated": sealed[:len(sealed)-1],
		"appended":  append(bytes.Clone(sealed), 0),
		"version 2": append([]byte{2}, sealed[1:]...),
		"version 0": append([]byte{0}, sealed[1:]...),
	}
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		broken[fmt.Sprintf("bit flipped in byte %d", i)] = b
	}
	for name, b := range broken {
		if got, err := mk.Open(b, ad); !errors.Is(err, ErrSealBroken) {
			t.Errorf("Open(%s) = %q, %v; want ErrSealBroken", name, got, err)
		}
	}
	if _, err := mk.Open(sealed, []byte("account-2")); !errors.Is(err, ErrSealBroken) {
		t.Errorf("Open with other associated data = %v; want ErrSealBroken", err)
	}
	if _, err := mk.Open(sealed, nil); !errors.Is(err, ErrSealBroken) {
		t.Errorf("Open without associated data = %v; want ErrSealBroken", err)
	}
	if _, err := randomMasterKey(t).Open(sealed, ad); !errors.Is(err, ErrSealBroken) {
		t.Errorf("Open under another master key = %v; want ErrSealBroken", err)
	}
	var zero MasterKey
	if _, err := zero.Seal(pt, ad); err == nil {
		t.Errorf("zero MasterKey Seal: no error")
	}
	if _, err := zero.Open(sealed, ad); err == nil {
		t.Errorf("zero MasterKey Open: no error")
	}
}

func TestDerive(t *testing.T) {
	mk := testMasterKey(t)
	a := mk.Derive("oidc-crypto", 32)
	if len(a) != 32 {
		t.Fatalf("len(Derive(oidc-crypto, 32)) = %d; want 32", len(a))
	}
	if !bytes.Equal(a, testMasterKey(t).Derive("oidc-crypto", 32)) {
		t.Errorf("Derive is not deterministic")
	}
	if bytes.Equal(a, mk.Derive("csrf", 32)) {
		t.Errorf("Derive gives one key for two purposes")
	}
	if bytes.Equal(a, randomMasterKey(t).Derive("oidc-crypto", 32)) {
		t.Errorf("Derive gives one key for two master keys")
	}
	if raw, _ := base64.StdEncoding.DecodeString(testKeyText); bytes.Equal(a, raw) {
		t.Errorf("Derive returns the master key")
	}
	// Golden value: Derive must never change, or every node's derived keys
	// (CSRF, client secrets, blind indexes) change with it.
	if got, want := hex.EncodeToString(mk.Derive("golden", 16)), goldenDerive; got != want {
		t.Errorf("Derive(golden, 16) = %s; want %s", got, want)
	}
	for _, size := range []int{0, -1, 255*32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Derive(size %d) did not panic", size)
				}
			}()
			mk.Derive("x", size)
		}()
	}
}

// goldenDerive is HKDF-SHA256(IKM = 0x00..0x1f, salt = none,
// info = "cardsso/derive/golden", L = 16), computed independently with
// Python's cryptography package (HKDF(SHA256(), 16, None, info).derive(ikm)).
const goldenDerive = "0cd49b4ddecd0e005ed2f8db8b45d87b"

func TestBlindIndex(t *testing.T) {
	mk := testMasterKey(t)
	a := mk.BlindIndex("110105199003070017")
	if len(a) != 32 {
		t.Fatalf("len(BlindIndex) = %d; want 32", len(a))
	}
	if !bytes.Equal(a, testMasterKey(t).BlindIndex("110105199003070017")) {
		t.Errorf("BlindIndex is not deterministic")
	}
	if bytes.Equal(a, mk.BlindIndex("11010519900307001X")) {
		t.Errorf("BlindIndex equal for two values")
	}
	if bytes.Equal(a, randomMasterKey(t).BlindIndex("110105199003070017")) {
		t.Errorf("BlindIndex equal under two master keys")
	}
	if !bytes.Equal(a, mk.MAC(PurposeBlindIndex).Sum([]byte("110105199003070017"))) {
		t.Errorf("BlindIndex differs from MAC(%q).Sum", PurposeBlindIndex)
	}
}

func TestMAC(t *testing.T) {
	mk := testMasterKey(t)
	m := mk.MAC("client-secret")
	sum := m.Sum([]byte("s3cret"))
	if !m.Equal([]byte("s3cret"), sum) {
		t.Errorf("Equal(own sum) = false")
	}
	if m.Equal([]byte("s3cret!"), sum) {
		t.Errorf("Equal(other data) = true")
	}
	if m.Equal([]byte("s3cret"), sum[:16]) {
		t.Errorf("Equal(truncated mac) = true")
	}
	if m.Equal([]byte("s3cret"), nil) {
		t.Errorf("Equal(nil mac) = true")
	}
	if mk.MAC("csrf").Equal([]byte("s3cret"), sum) {
		t.Errorf("a MAC of one purpose verifies under another")
	}
}

func TestRedacted(t *testing.T) {
	mk := testMasterKey(t)
	raw, _ := base64.StdEncoding.DecodeString(testKeyText)
	secrets := []string{testKeyText, hex.EncodeToString(raw), fmt.Sprint(raw), fmt.Sprintf("%#v", raw), "0x0, 0x1, 0x2"}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("key", "mk", mk, "mac", mk.MAC("csrf"))
	logger.Info("key value", "mk", *mk)
	outputs := []string{
		fmt.Sprint(mk), fmt.Sprintf("%v %+v %#v %s", mk, mk, mk, mk),
		fmt.Sprintf("%v %+v %#v", *mk, *mk, *mk),
		fmt.Sprintf("%v %+v %#v", mk.MAC("csrf"), mk.MAC("csrf"), mk.MAC("csrf")),
		logs.String(),
	}
	for _, out := range outputs {
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("output %q does not say [redacted]", out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %q contains key material %q", out, s)
			}
		}
	}
}
