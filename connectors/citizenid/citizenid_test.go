package citizenid

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// testNow is the reference time of the tests: 2026-01-01 12:00 CST.
var testNow = time.Date(2026, time.January, 1, 4, 0, 0, 0, time.UTC)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string // normalised
		masked string
		region string
		birth  string // YYYY-MM-DD
		sex    Sex
	}{
		{"demo 张三", "110105199003070017", "110105199003070017", "110***********0017", "110105", "1990-03-07", Male},
		{"demo 李四", "440305198511120028", "440305198511120028", "440***********0028", "440305", "1985-11-12", Female},
		{"demo 王五, X check character", "31011519780520003X", "31011519780520003X", "310***********003X", "310115", "1978-05-20", Male},
		{"demo 赵六, 29 February 2000", "510104200002290046", "510104200002290046", "510***********0046", "510104", "2000-02-29", Female},
		{"demo 孙七", "330106199512310055", "330106199512310055", "330***********0055", "330106", "1995-12-31", Male},
		{"lowercase x", "31011519780520003x", "31011519780520003X", "310***********003X", "310115", "1978-05-20", Male},
		{"surrounding spaces", "  110105199003070017\t\n", "110105199003070017", "110***********0017", "110105", "1990-03-07", Male},
		{"ideographic space", "\u3000110105199003070017\u3000", "110105199003070017", "110***********0017", "110105", "1990-03-07", Male},
		{"GB 11643 worked example", "34052419800101001X", "34052419800101001X", "340***********001X", "340524", "1980-01-01", Male},
		{"retired code (110103, Chongwen, merged 2010)", "110103198001010021", "110103198001010021", "110***********0021", "110103", "1980-01-01", Female},
		{"Hong Kong residence permit", "810000199001010019", "810000199001010019", "810***********0019", "810000", "1990-01-01", Male},
		{"Taiwan", "710000200002290026", "710000200002290026", "710***********0026", "710000", "2000-02-29", Female},
		{"born 1900", "11010519000101001X", "11010519000101001X", "110***********001X", "110105", "1900-01-01", Male},
		{"born today", "110105202601010019", "110105202601010019", "110***********0019", "110105", "2026-01-01", Male},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseAt(tt.in, testNow)
			if err != nil {
				t.Fatalf("ParseAt(%q) error = %v; want nil", tt.in, err)
			}
			if got := n.String(); got != tt.want {
				t.Errorf("ParseAt(%q).String() = %q; want %q", tt.in, got, tt.want)
			}
			if got := n.Masked(); got != tt.masked {
				t.Errorf("ParseAt(%q).Masked() = %q; want %q", tt.in, got, tt.masked)
			}
			if got := n.Region(); got != tt.region {
				t.Errorf("ParseAt(%q).Region() = %q; want %q", tt.in, got, tt.region)
			}
			if got := n.BirthDate().Format(time.DateOnly); got != tt.birth {
				t.Errorf("ParseAt(%q).BirthDate() = %s; want %s", tt.in, got, tt.birth)
			}
			if got := n.Sex(); got != tt.sex {
				t.Errorf("ParseAt(%q).Sex() = %v; want %v", tt.in, got, tt.sex)
			}
			if n.IsZero() {
				t.Errorf("ParseAt(%q).IsZero() = true; want false", tt.in)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrLength},
		{"only spaces", "   ", ErrLength},
		{"17 characters", "11010519900307001", ErrLength},
		{"19 characters", "1101051990030700170", ErrLength},
		{"15-digit legacy number", "110105900307001", ErrLength},
		{"inner space", "110105 19900307001", ErrCharacters},
		{"letter in the middle", "1101051990O3070017", ErrCharacters},
		{"X not last", "X10105199003070017", ErrCharacters},
		{"bad check letter", "11010519900307001A", ErrCharacters},
		{"full-width digit", "11010519900307001７", ErrCharacters},
		{"Chinese character", "张10105199003070017", ErrCharacters},
		{"invalid UTF-8", "\xff10105199003070017", ErrCharacters},
		{"province 00", "000000199003070014", ErrRegion},
		{"province 99", "990000199003070013", ErrRegion},
		{"province 16", "160000199003070019", ErrRegion},
		{"province 84", "840000199003070010", ErrRegion},
		{"29 February 1999", "110105199902290013", ErrBirthDate},
		{"month 13", "110105199013070010", ErrBirthDate},
		{"month 00", "110105199000070011", ErrBirthDate},
		{"day 00", "110105199003000019", ErrBirthDate},
		{"31 April", "110105199004310019", ErrBirthDate},
		{"29 February 1900 (not leap)", "110105190002290017", ErrBirthDate},
		{"born 1899", "110105189912310015", ErrBirthDate},
		{"born tomorrow", "110105202601020014", ErrBirthDate},
		{"bad check character", "110105199003070018", ErrCheckCharacter},
		{"X where a digit is due", "11010519900307001X", ErrCheckCharacter},
		{"digit where X is due", "310115197805200030", ErrCheckCharacter},
		{"two digits swapped", "110105199003070071", ErrCheckCharacter},
		{"GB 11643 worked counter-example", "340524198001010013", ErrCheckCharacter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseAt(tt.in, testNow)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseAt(%q) error = %v; want %v", tt.in, err, tt.want)
			}
			if !n.IsZero() {
				t.Errorf("ParseAt(%q) = %#v with an error; want the zero Number", tt.in, n)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || !strings.HasPrefix(msg, "citizenid: ") {
				t.Errorf("ParseAt(%q) error = %q; want a lowercase message starting with \"citizenid: \"", tt.in, msg)
			}
			if s := strings.TrimSpace(tt.in); len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Errorf("ParseAt(%q) error = %q; want a message without the number", tt.in, err)
			}
		})
	}
}

// TestParseSingleSubstitution checks that changing any one character of a
// valid number is rejected, as ISO 7064 MOD 11-2 guarantees.
func TestParseSingleSubstitution(t *testing.T) {
	const valid = "31011519780520003X"
	for i := range Length {
		for _, c := range "0123456789X" {
			s := []byte(valid)
			if s[i] == byte(c) {
				continue
			}
			s[i] = byte(c)
			if n, err := ParseAt(string(s), testNow); err == nil {
				t.Errorf("ParseAt(%q) = %#v, nil; want an error", s, n)
			}
		}
	}
}

func TestParseAtTimeZone(t *testing.T) {
	const n = "510104200002290046" // born 2000-02-29
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"day before in China", time.Date(2000, time.February, 28, 15, 59, 59, 0, time.UTC), false},
		{"birth day in China, day before in UTC", time.Date(2000, time.February, 28, 16, 0, 0, 0, time.UTC), true},
		{"birth day in Shanghai location", time.Date(2000, time.February, 29, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAt(n, tt.now)
			if got := err == nil; got != tt.ok {
				t.Errorf("ParseAt(%q, %v) error = %v; want ok = %v", n, tt.now, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBirthDate) {
				t.Errorf("ParseAt(%q, %v) error = %v; want %v", n, tt.now, err, ErrBirthDate)
			}
		})
	}
}

func TestParseUsesCurrentTime(t *testing.T) {
	if _, err := Parse("110105199003070017"); err != nil {
		t.Errorf("Parse(%q) error = %v; want nil", "110105199003070017", err)
	}
	future := time.Now().AddDate(2, 0, 0)
	first17 := fmt.Sprintf("110105%s001", future.Format("20060102"))
	s := first17 + string(CheckCharacter(first17))
	if _, err := Parse(s); !errors.Is(err, ErrBirthDate) {
		t.Errorf("Parse(%q) error = %v; want %v", s, err, ErrBirthDate)
	}
}

func TestZeroNumber(t *testing.T) {
	var n Number
	if !n.IsZero() {
		t.Errorf("Number{}.IsZero() = false; want true")
	}
	if got := n.String(); got != "" {
		t.Errorf("Number{}.String() = %q; want \"\"", got)
	}
	if got := n.Masked(); got != "" {
		t.Errorf("Number{}.Masked() = %q; want \"\"", got)
	}
	if got := n.Region(); got != "" {
		t.Errorf("Number{}.Region() = %q; want \"\"", got)
	}
	if got := n.BirthDate(); !got.IsZero() {
		t.Errorf("Number{}.BirthDate() = %v; want the zero time", got)
	}
	if got := n.Sex(); got != SexUnknown {
		t.Errorf("Number{}.Sex() = %v; want %v", got, SexUnknown)
	}
}

func TestNumberNeverLoggedInFull(t *testing.T) {
	n, err := ParseAt("110105199003070017", testNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "ssn", n, slog.Any("number", n))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "ssn", n)
	if got := buf.String(); strings.Contains(got, n.String()) || strings.Count(got, "110***********0017") != 3 {
		t.Errorf("slog output = %q; want the masked number 3 times and never the full one", got)
	}
	if got, want := fmt.Sprintf("%#v", n), "citizenid.Number{110***********0017}"; got != want {
		t.Errorf("Sprintf(%%#v) = %q; want %q", got, want)
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"110105199003070017", "110***********0017"},
		{"31011519780520003X", "310***********003X"},
		{"", ""},
		{"1234567", "*******"},
		{"12345678", "123*5678"},
		{"张三李四王五赵六", "张三李*王五赵六"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidRegion(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"110105", true},
		{"150000", true},
		{"650102", true},
		{"710000", true},
		{"830000", true},
		{"100000", false},
		{"160000", false},
		{"240000", false},
		{"380000", false},
		{"470000", false},
		{"550000", false},
		{"660000", false},
		{"700000", false},
		{"840000", false},
		{"11010", false},
		{"1101050", false},
		{"11010a", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidRegion(tt.code); got != tt.want {
			t.Errorf("ValidRegion(%q) = %v; want %v", tt.code, got, tt.want)
		}
	}
}

func TestSexString(t *testing.T) {
	tests := []struct {
		sex  Sex
		want string
	}{
		{Male, "male"},
		{Female, "female"},
		{SexUnknown, "unknown"},
		{Sex(9), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.sex.String(); got != tt.want {
			t.Errorf("Sex(%d).String() = %q; want %q", int(tt.sex), got, tt.want)
		}
	}
}

// TestCheckCharacter compares CheckCharacter with the equivalent formula
// over all 18 characters: Σ aᵢ·(2^(17-i) mod 11) ≡ 1 (mod 11), X = 10.
func TestCheckCharacter(t *testing.T) {
	for _, first17 := range []string{
		"11010519900307001", "44030519851112002", "31011519780520003",
		"51010420000229004", "33010619951231005", "00000000000000000", "99999999999999999",
	} {
		c := CheckCharacter(first17)
		sum, w := 0, 1
		for i := Length - 1; i >= 0; i-- {
			a := 10
			if i < Length-1 {
				a = int(first17[i] - '0')
			} else if c != 'X' {
				a = int(c - '0')
			}
			sum += a * w
			w = w * 2 % 11
		}
		if sum%11 != 1 {
			t.Errorf("CheckCharacter(%q) = %c; the 18-character sum mod 11 = %d; want 1", first17, c, sum%11)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"110105199003070017", "440305198511120028", "31011519780520003X", "31011519780520003x",
		"510104200002290046", "330106199512310055", " 110105199003070017 ", "110105199902290013",
		"11010519900307001", "", "张10105199003070017", "\xff10105199003070017",
	} {
		f.Add(s)
	}
	sentinels := []error{ErrLength, ErrCharacters, ErrRegion, ErrBirthDate, ErrCheckCharacter}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseAt(s, testNow)
		if err != nil {
			if !n.IsZero() {
				t.Fatalf("ParseAt(%q) = %#v, %v; want the zero Number with an error", s, n, err)
			}
			matched := 0
			for _, e := range sentinels {
				if errors.Is(err, e) {
					matched++
				}
			}
			if matched != 1 {
				t.Fatalf("ParseAt(%q) error = %v wraps %d sentinel errors; want 1", s, err, matched)
			}
			if ts := strings.TrimSpace(s); len(ts) == Length && strings.Contains(err.Error(), ts[:Length-1]) {
				t.Fatalf("ParseAt(%q) error = %q; want a message without the number", s, err)
			}
			return
		}
		if len(n.String()) != Length || n.IsZero() {
			t.Fatalf("ParseAt(%q) = %q; want 18 characters", s, n.String())
		}
		if got := strings.ToUpper(strings.TrimSpace(s)); got != n.String() {
			t.Fatalf("ParseAt(%q) = %q; want %q", s, n.String(), got)
		}
		again, err := ParseAt(n.String(), testNow)
		if err != nil || again != n {
			t.Fatalf("ParseAt(%q) = %#v, %v; want %#v, nil (round trip)", n.String(), again, err, n)
		}
		if got := Mask(n.String()); got != n.Masked() || len(got) != Length {
			t.Fatalf("Masked() = %q; want Mask(String()) = %q of 18 characters", n.Masked(), got)
		}
		if b := n.BirthDate(); b.Format("20060102") != n.String()[6:14] {
			t.Fatalf("BirthDate() = %v; want the date in %q", b, n.Masked())
		}
	})
}
