package argon2

import (
	"bytes"
	"crypto/rand"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestSameAsXCrypto: IDKeyWith gives golang.org/x/crypto/argon2's IDKey
// result for fresh memory, for memory reused after hashes of other inputs
// and sizes (it must be cleared: the blocks are XORed into), and for more
// than one lane.
func TestSameAsXCrypto(t *testing.T) {
	var m Memory
	cases := []struct {
		time, memory uint32
		threads      uint8
	}{
		{1, 64, 1}, {2, 256, 1}, {2, 128, 1}, {3, 512, 4}, {2, 64, 2}, {2, 19456, 1}, {1, 1024, 1},
	}
	for i, c := range cases {
		for round := range 2 {
			pw := make([]byte, 12+i)
			salt := make([]byte, 16)
			_, _ = rand.Read(pw)
			_, _ = rand.Read(salt)
			want := xargon2.IDKey(pw, salt, c.time, c.memory, c.threads, 32)
			if got := IDKeyWith(&m, pw, salt, c.time, c.memory, c.threads, 32); !bytes.Equal(got, want) {
				t.Fatalf("case %d round %d (t=%d m=%d p=%d): reused memory gives %x; x/crypto %x", i, round, c.time, c.memory, c.threads, got, want)
			}
			if got := IDKeyWith(nil, pw, salt, c.time, c.memory, c.threads, 32); !bytes.Equal(got, want) {
				t.Fatalf("case %d: fresh memory differs from x/crypto", i)
			}
		}
	}
	if m.Bytes() < 19456*1024 {
		t.Errorf("memory holds %d bytes after a 19 MiB hash", m.Bytes())
	}
}

// TestRFC9106Vector: the argon2id test vector of RFC 9106 §5.3 (with secret
// and associated data, through deriveKey).
func TestRFC9106Vector(t *testing.T) {
	pw := bytes.Repeat([]byte{1}, 32)
	salt := bytes.Repeat([]byte{2}, 16)
	secret := bytes.Repeat([]byte{3}, 8)
	ad := bytes.Repeat([]byte{4}, 12)
	want := []byte{0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
		0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59}
	var m Memory
	for range 2 {
		if got := deriveKey(argon2id, pw, salt, secret, ad, 3, 32, 4, 32, &m); !bytes.Equal(got, want) {
			t.Fatalf("RFC 9106 argon2id vector: %x; want %x", got, want)
		}
	}
}
