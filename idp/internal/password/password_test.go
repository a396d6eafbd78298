package password

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// weak are cheap parameters for tests that need many hashes; only encode
// (not Hash) accepts them.
var weak = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func weakHash(t testing.TB, pw string) string {
	t.Helper()
	salt := bytes.Repeat([]byte{7}, SaltSize)
	return encode(weak, salt, key(pw, salt, weak, KeySize))
}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse 1", Defaults(), nil)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q; want prefix $argon2id$v=19$m=19456,t=2,p=1$", h)
	}
	parts := strings.Split(h, "$")
	if got := len(parts[4]); got != 22 { // 16 bytes, base64 without padding
		t.Errorf("salt field length = %d; want 22", got)
	}
	if got := len(parts[5]); got != 43 { // 32 bytes
		t.Errorf("hash field length = %d; want 43", got)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"correct horse 1", true},
		{"correct horse 2", false},
		{"Correct horse 1", false},
		{"", false},
		{"correct horse 1 ", false},
	} {
		ok, err := Verify(tc.pw, h)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tc.pw, ok, err, tc.want)
		}
	}
	if NeedsRehash(h, Defaults()) {
		t.Errorf("NeedsRehash(fresh hash, Defaults()) = true; want false")
	}
	stronger := Params{MemoryKiB: 65536, Time: 3, Threads: 2}
	if !NeedsRehash(h, stronger) {
		t.Errorf("NeedsRehash(fresh hash, %v) = false; want true", stronger)
	}
}

func TestHashSalted(t *testing.T) {
	a, err1 := Hash("same password 1", Defaults(), nil)
	b, err2 := Hash("same password 1", Defaults(), nil)
	if err1 != nil || err2 != nil {
		t.Fatalf("Hash: %v, %v", err1, err2)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: salt not random")
	}
	// An injected reader makes the salt (and so the hash) reproducible.
	c, _ := Hash("same password 1", Defaults(), bytes.NewReader(make([]byte, SaltSize)))
	d, _ := Hash("same password 1", Defaults(), bytes.NewReader(make([]byte, SaltSize)))
	if c != d {
		t.Errorf("hashes with the same salt differ: %q, %q", c, d)
	}
	if _, err := Hash("x", Defaults(), bytes.NewReader(nil)); err == nil {
		t.Errorf("Hash with an empty reader: no error")
	}
}

func TestNFKC(t *testing.T) {
	// Full-width letters and digits, as a Chinese input method in full-width
	// mode types them, match their ASCII forms.
	h := weakHash(t, "Passw0rd2024")
	ok, err := Verify("Ｐａｓｓｗ０ｒｄ２０２４", h)
	if err != nil || !ok {
		t.Errorf("Verify(full-width form) = %v, %v; want true, nil", ok, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p       Params
		wantErr error
	}{
		{Defaults(), nil},
		{Params{MemoryKiB: 65536, Time: 3, Threads: 4}, nil},
		{Params{MemoryKiB: 19455, Time: 2, Threads: 1}, ErrWeakParams},
		{Params{MemoryKiB: 19456, Time: 1, Threads: 1}, ErrWeakParams},
		{Params{MemoryKiB: 19456, Time: 2, Threads: 0}, ErrWeakParams},
		{Params{}, ErrWeakParams},
		{Params{MemoryKiB: MaxMemoryKiB + 1, Time: 2, Threads: 1}, errAny},
		{Params{MemoryKiB: 19456, Time: MaxTime + 1, Threads: 1}, errAny},
	} {
		err := tc.p.Validate()
		switch {
		case tc.wantErr == nil && err != nil,
			tc.wantErr == errAny && err == nil,
			tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
			t.Errorf("%v.Validate() = %v; want %v", tc.p, err, tc.wantErr)
		}
		if errors.Is(err, ErrWeakParams) && !strings.Contains(err.Error(), "m=19456,t=2,p=1") {
			t.Errorf("%v.Validate() = %q; want the minimum named", tc.p, err)
		}
		if _, herr := Hash("pw", tc.p, nil); (herr == nil) != (err == nil) {
			t.Errorf("Hash with %v: err = %v; want the Validate result %v", tc.p, herr, err)
		}
	}
}

var errAny = errors.New("any error")

func TestVerifyMalformed(t *testing.T) {
	good := weakHash(t, "pw")
	parts := strings.Split(good, "$")
	salt, sum := parts[4], parts[5]
	for _, enc := range []string{
		"",
		"$",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + sum,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + sum,
		"$argon2id$v=19$m=7,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=4294967295,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum + "=",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum + "$",
		"$argon2id$v=19$m=64,t=1,p=1$AAAA$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum[:len(sum)-1] + "!",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum[:10] + "\n" + sum[10:],
		"x" + good,
	} {
		ok, err := Verify("pw", enc)
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(pw, %q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
		}
		if !NeedsRehash(enc, Defaults()) {
			t.Errorf("NeedsRehash(%q) = false; want true", enc)
		}
	}
	if ok, err := Verify("pw", good); !ok || err != nil {
		t.Errorf("Verify(pw, %q) = %v, %v; want true, nil", good, ok, err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("pw", weakHash(f, "pw"))
	f.Add("pw", weakHash(f, "other"))
	f.Add("", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("pw", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("pw", "$$$$$")
	f.Fuzz(func(t *testing.T, pw, enc string) {
		d, err := decode(enc)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decode(%q) = %v; want ErrMalformedHash", enc, err)
			}
			if ok, verr := Verify(pw, enc); ok || verr == nil {
				t.Fatalf("Verify(%q) = %v, %v; want false, error", enc, ok, verr)
			}
			return
		}
		// Hash only when cheap: the fuzzer is after panics in parsing.
		if d.params.MemoryKiB <= 1024 && d.params.Time <= 2 {
			if _, err := Verify(pw, enc); err != nil {
				t.Fatalf("Verify(%q) = %v after decode succeeded", enc, err)
			}
		}
		// What decodes re-encodes to itself (the format is canonical).
		if got := encode(d.params, d.salt, d.key); got != enc {
			t.Fatalf("encode(decode(%q)) = %q", enc, got)
		}
	})
}

func TestCheckPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error
	}{
		{"abcd1234", nil},
		{"abcdefg!", nil},
		{"1234567!", nil},
		{"社保卡密码2024", nil},
		{"pass word", nil},
		{strings.Repeat("a1", 64), nil},
		{"abc123", ErrTooShort},
		{"", ErrTooShort},
		{"社保卡密码12", ErrTooShort},
		{strings.Repeat("a1", 64) + "x", ErrTooLong},
		{"12345678", ErrTooSimple},
		{"abcdefgh", ErrTooSimple},
		{"ABCDefgh", ErrTooSimple},
		{"!@#$%^&*", ErrTooSimple},
		{"１２３４５６７８", ErrTooSimple}, // full-width digits are digits
		{"abcd\x001234", ErrInvalidText},
		{"abcd\n1234", ErrInvalidText},
		{"abcd\xff1234", ErrInvalidText},
	} {
		err := CheckPolicy(tc.pw)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckPolicy(%q) = %v; want %v", tc.pw, err, tc.want)
		}
		if err != nil && tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("CheckPolicy(%q) error %q contains the password", tc.pw, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	p := Defaults()
	b.Run(fmt.Sprintf("argon2id_m=%d_t=%d_p=%d", p.MemoryKiB, p.Time, p.Threads), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Hash("correct horse battery staple", p, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	h, err := Hash("correct horse battery staple", Defaults(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("argon2id_"+strings.ReplaceAll(Defaults().String(), ",", "_"), func(b *testing.B) {
		for b.Loop() {
			if ok, err := Verify("correct horse battery staple", h); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

func TestDummy(t *testing.T) {
	d, err := Dummy(Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify("any password", d); ok || err != nil {
		t.Errorf("Verify(any, Dummy) = %v, %v; want false, nil", ok, err)
	}
	if NeedsRehash(d, Defaults()) {
		t.Errorf("NeedsRehash(Dummy(Defaults())) = true; want a hash of the current shape")
	}
	if _, err := Dummy(Params{MemoryKiB: 1024, Time: 1, Threads: 1}, nil); !errors.Is(err, ErrWeakParams) {
		t.Errorf("Dummy(weak) = %v; want ErrWeakParams", err)
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(1)
	h, err := l.Hash(context.Background(), "correct horse 42", Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Verify(context.Background(), "correct horse 42", h); !ok || err != nil {
		t.Errorf("Limiter.Verify(right) = %v, %v; want true", ok, err)
	}
	// A caller waiting for the only slot gives up when its context ends.
	l.sem <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := l.Verify(ctx, "correct horse 42", h); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Limiter.Verify(cancelled while full) = %v, %v; want false, context.Canceled", ok, err)
	}
	<-l.sem
}

func TestLimiterReturnsIdleMemory(t *testing.T) {
	l := NewLimiter(2)
	l.ReturnIdleMemory(10 * time.Millisecond)
	if _, err := l.Hash(context.Background(), "correct horse 42", Defaults(), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the timer has fired: no data race, no hang
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight != 0 || l.timer == nil {
		t.Errorf("after a hash: %d in flight, timer %v; want 0 and a timer", l.inFlight, l.timer)
	}
}
