package simulator_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/connectors/simulator"
)

// demoNumbers are the numbers of the demo holders, in fixture order.
var demoNumbers = []string{"110105199003070017", "440305198511120028", "31011519780520003X", "510104200002290046", "330106199512310055"}

func demoPhoto(t testing.TB, number string) []byte {
	t.Helper()
	p, err := simulator.DemoPhoto(number)
	if err != nil {
		t.Fatalf("DemoPhoto(%s) error = %v; want nil", citizenid.Mask(number), err)
	}
	return p
}

// TestScores checks the margins of the similarity on the demo photos: a
// holder's own photo and its altered copies score well above the default
// threshold, every other holder's photo well below it. Run with -v to see
// the scores.
func TestScores(t *testing.T) {
	const (
		sameMargin  = 0.05 // own photo and altered copies: at least threshold + sameMargin
		otherMargin = 0.30 // another holder's photo: at most threshold - otherMargin
	)
	minSame, maxOther := math.Inf(1), math.Inf(-1)
	for _, a := range demoNumbers {
		photo := demoPhoto(t, a)
		altered, err := connectorstest.AlterPhoto(photo)
		if err != nil {
			t.Fatal(err)
		}
		altered = append(altered, connectorstest.AlteredPhoto{Name: "unaltered", Data: photo})
		for _, alt := range altered {
			got, err := simulator.Similarity(photo, alt.Data)
			if err != nil {
				t.Fatalf("Similarity(%s, %s) error = %v", citizenid.Mask(a), alt.Name, err)
			}
			t.Logf("%s %-24s %.4f", citizenid.Mask(a), alt.Name, got)
			minSame = min(minSame, got)
			if got < simulator.DefaultFaceThreshold+sameMargin {
				t.Errorf("Similarity(%s, %s) = %.4f; want at least %.2f", citizenid.Mask(a), alt.Name, got, simulator.DefaultFaceThreshold+sameMargin)
			}
		}
		for _, b := range demoNumbers {
			if b == a {
				continue
			}
			for _, other := range []struct {
				name string
				data []byte
			}{{"card photo", demoPhoto(t, b)}, {"JPEG quality 80", jpegOf(t, demoPhoto(t, b), 80)}} {
				got, err := simulator.Similarity(photo, other.data)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s vs %s %-15s %.4f", citizenid.Mask(a), citizenid.Mask(b), other.name, got)
				maxOther = max(maxOther, got)
				if got > simulator.DefaultFaceThreshold-otherMargin {
					t.Errorf("Similarity(%s, %s's %s) = %.4f; want at most %.2f", citizenid.Mask(a), citizenid.Mask(b), other.name, got, simulator.DefaultFaceThreshold-otherMargin)
				}
			}
		}
	}
	t.Logf("lowest same-holder score %.4f, highest other-holder score %.4f, threshold %.2f", minSame, maxOther, simulator.DefaultFaceThreshold)
}

func jpegOf(t testing.TB, photo []byte, quality int) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPhotoCopies checks that the embedded card photos are the files in
// examples/photos, byte for byte, and that both hold a photo of each demo
// holder and nothing else. `go run ./examples/photos/gen` rewrites both.
func TestPhotoCopies(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "photos")
	var files []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	var want []string
	for _, n := range demoNumbers {
		want = append(want, n+".png")
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("files in %s = %d files; want the %d demo holders' photos", dir, len(files), len(want))
	}
	for _, n := range demoNumbers {
		example, err := os.ReadFile(filepath.Join(dir, n+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(demoPhoto(t, n), example) {
			t.Errorf("DemoPhoto(%s) differs from %s/%s.png; run go run ./examples/photos/gen", citizenid.Mask(n), dir, citizenid.Mask(n))
		}
	}
}

func TestDemoPhotoUnknown(t *testing.T) {
	for _, n := range []string{"110101198001010010", "110105199003070018", "", "../fixture.yaml"} {
		if _, err := simulator.DemoPhoto(n); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("DemoPhoto(%q) error = %v; want an error wrapping %v", citizenid.Mask(n), err, fs.ErrNotExist)
		} else if strings.Contains(err.Error(), "110101198001010010") {
			t.Errorf("DemoPhoto error = %q; want no full number in it", err)
		}
	}
}

func TestCheckFace(t *testing.T) {
	s := newDefault(t)
	zhang := mustParse(t, "110105199003070017")
	own := demoPhoto(t, zhang.String())
	grey := image.NewGray(image.Rect(0, 0, 240, 320))
	draw.Draw(grey, grey.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)
	tests := []struct {
		name    string
		number  citizenid.Number
		photo   []byte
		want    bool
		invalid bool // want an error wrapping connectors.ErrInvalidPhoto
	}{
		{"own photo", zhang, own, true, false},
		{"own photo as JPEG quality 50", zhang, jpegOf(t, own, 50), true, false},
		{"another holder's photo", zhang, demoPhoto(t, "510104200002290046"), false, false},
		{"uniform grey photo", zhang, pngOf(t, grey), false, false},
		{"zero number", citizenid.Number{}, own, false, false},
		{"16×16 pixels", zhang, pngOf(t, image.NewGray(image.Rect(0, 0, 16, 16))), false, true},
		{"4097×32 pixels", zhang, pngOf(t, image.NewGray(image.Rect(0, 0, 4097, 32))), false, true},
		{"JPEG signature only", zhang, []byte("\xff\xd8\xff"), false, true},
		{"PNG signature only", zhang, []byte("\x89PNG\r\n\x1a\n"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CheckFace(t.Context(), tt.number, tt.photo, "challenge")
			if tt.invalid {
				if !errors.Is(err, connectors.ErrInvalidPhoto) || got.Passed {
					t.Errorf("CheckFace(%s, %s) = %+v, %v; want an error wrapping %v", tt.number.Masked(), tt.name, got, err, connectors.ErrInvalidPhoto)
				}
				return
			}
			if err != nil || got.Passed != tt.want {
				t.Errorf("CheckFace(%s, %s) = %+v, %v; want {Passed:%t}, nil", tt.number.Masked(), tt.name, got, err, tt.want)
			}
		})
	}
}

func TestCheckFaceErrorsCarryNoNumber(t *testing.T) {
	s := newDefault(t)
	zhang := mustParse(t, "110105199003070017")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range map[string]func() error{
		"garbage":         func() error { _, err := s.CheckFace(t.Context(), zhang, []byte("garbage"), "c"); return err },
		"empty challenge": func() error { _, err := s.CheckFace(t.Context(), zhang, demoPhoto(t, zhang.String()), ""); return err },
		"cancelled":       func() error { _, err := s.CheckFace(ctx, zhang, demoPhoto(t, zhang.String()), "c"); return err },
	} {
		err := call()
		if err == nil {
			t.Errorf("CheckFace(%s) error = nil; want an error", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, zhang.String()) || !strings.HasPrefix(msg, "simulator: ") {
			t.Errorf("CheckFace(%s) error = %q; want a message starting with \"simulator: \" and without the number", name, msg)
		}
	}
}

func TestFaceThreshold(t *testing.T) {
	zhang := mustParse(t, "110105199003070017")
	// 李四's photo is the other holder's photo most like 张三's (TestScores).
	li := demoPhoto(t, "440305198511120028")
	for _, tt := range []struct {
		threshold float64
		want      bool
	}{{0, false}, {simulator.DefaultFaceThreshold, false}, {0.2, true}} {
		s, err := simulator.New(simulator.Config{FaceThreshold: tt.threshold})
		if err != nil {
			t.Fatalf("New(FaceThreshold: %v) error = %v; want nil", tt.threshold, err)
		}
		got, err := s.CheckFace(t.Context(), zhang, li, "challenge")
		if err != nil || got.Passed != tt.want {
			t.Errorf("with FaceThreshold %v: CheckFace(%s, 李四's photo) = %+v, %v; want {Passed:%t}, nil", tt.threshold, zhang.Masked(), got, err, tt.want)
		}
	}
	for _, bad := range []float64{-0.5, 1.01, math.NaN(), math.Inf(1)} {
		if _, err := simulator.New(simulator.Config{FaceThreshold: bad}); err == nil || !strings.Contains(err.Error(), "face threshold") {
			t.Errorf("New(FaceThreshold: %v) error = %v; want an error about the face threshold", bad, err)
		}
	}
}

// TestPhotoDir runs a custom fixture whose card photos are in a directory:
// 张三's card there shows 赵六's face.
func TestPhotoDir(t *testing.T) {
	dir := t.TempDir()
	zhao := demoPhoto(t, "510104200002290046")
	if err := os.WriteFile(filepath.Join(dir, "zhang.png"), zhao, 0o600); err != nil {
		t.Fatal(err)
	}
	fixture := writeFixture(t, `holders:
  - name: 张三
    number: "110105199003070017"
    card_number: A00000001
    card_region: "110105"
    card_status: normal
    photo: zhang.png
  - name: 测试
    number: "110101198001010010"
    card_number: B12345678
    card_region: "110101"
    card_status: normal
`)
	s, err := simulator.New(simulator.Config{Fixture: fixture, PhotoDir: dir})
	if err != nil {
		t.Fatalf("New(custom fixture, PhotoDir) error = %v; want nil", err)
	}
	zhang := mustParse(t, "110105199003070017")
	for _, tt := range []struct {
		name   string
		number citizenid.Number
		photo  []byte
		want   bool
	}{
		{"the photo in PhotoDir", zhang, zhao, true},
		{"the embedded photo", zhang, demoPhoto(t, zhang.String()), false},
		{"a holder without a photo", mustParse(t, "110101198001010010"), zhao, false},
	} {
		got, err := s.CheckFace(t.Context(), tt.number, tt.photo, "challenge")
		if err != nil || got.Passed != tt.want {
			t.Errorf("CheckFace(%s, %s) = %+v, %v; want {Passed:%t}, nil", tt.number.Masked(), tt.name, got, err, tt.want)
		}
	}

	// The default fixture's photos are not in dir.
	_, err = simulator.New(simulator.Config{PhotoDir: dir})
	var fe *simulator.FixtureError
	if !errors.As(err, &fe) || fe.Field != "photo" || !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), zhang.String()) {
		t.Errorf("New(PhotoDir without the demo photos) error = %v; want a *FixtureError for photo wrapping %v, without the full number", err, fs.ErrNotExist)
	}

	// A card photo that is not an image.
	if err := os.WriteFile(filepath.Join(dir, "zhang.png"), []byte("not a photo"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = simulator.New(simulator.Config{Fixture: fixture, PhotoDir: dir})
	if !errors.As(err, &fe) || fe.Field != "photo" || !errors.Is(err, connectors.ErrInvalidPhoto) {
		t.Errorf("New(card photo not an image) error = %v; want a *FixtureError for photo wrapping %v", err, connectors.ErrInvalidPhoto)
	}
}

// FuzzCheckFace feeds arbitrary bytes to the decoding path: CheckFace must
// not panic, and an error must wrap connectors.ErrInvalidPhoto.
func FuzzCheckFace(f *testing.F) {
	zhangPhoto := demoPhoto(f, "110105199003070017")
	f.Add(zhangPhoto)
	f.Add(jpegOf(f, zhangPhoto, 80))
	f.Add(zhangPhoto[:len(zhangPhoto)/3])
	f.Add(pngOf(f, image.NewGray(image.Rect(0, 0, 32, 32))))
	f.Add(pngOf(f, image.NewNRGBA64(image.Rect(0, 0, 40, 33))))
	f.Add(pngOf(f, image.NewPaletted(image.Rect(0, 0, 33, 40), color.Palette{color.Black, color.White})))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Add([]byte{})
	s, err := simulator.New(simulator.Config{})
	if err != nil {
		f.Fatal(err)
	}
	zhang, err := citizenid.Parse("110105199003070017")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, photo []byte) {
		_, err := s.CheckFace(t.Context(), zhang, photo, "challenge")
		if err != nil && !errors.Is(err, connectors.ErrInvalidPhoto) {
			t.Errorf("CheckFace(%d bytes) error = %v; want nil or an error wrapping %v", len(photo), err, connectors.ErrInvalidPhoto)
		}
	})
}

func BenchmarkCheckFace(b *testing.B) {
	s, err := simulator.New(simulator.Config{})
	if err != nil {
		b.Fatal(err)
	}
	zhang, err := citizenid.Parse("110105199003070017")
	if err != nil {
		b.Fatal(err)
	}
	photo := demoPhoto(b, zhang.String())
	// A phone-sized photo: the card photo scaled up to 3024×4032, as JPEG.
	src, err := png.Decode(bytes.NewReader(photo))
	if err != nil {
		b.Fatal(err)
	}
	big := image.NewRGBA(image.Rect(0, 0, 3024, 4032))
	for y := range 4032 {
		for x := range 3024 {
			big.Set(x, y, src.At(x*240/3024, y*320/4032))
		}
	}
	var phone bytes.Buffer
	if err := jpeg.Encode(&phone, big, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		photo []byte
	}{
		{"card PNG 240x320", photo},
		{"JPEG 240x320", jpegOf(b, photo, 80)},
		{"JPEG 3024x4032", phone.Bytes()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.CheckFace(b.Context(), zhang, bc.photo, "challenge")
				if err != nil || !res.Passed {
					b.Fatalf("CheckFace = %+v, %v; want Passed", res, err)
				}
			}
		})
	}
}
