package connectorstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
)

// TestFace runs the real-person check suite against c, which must know the
// demo card holders of the README ("Demo card holders") with their card photos (the files
// simulator.DemoPhoto returns, also in examples/photos), and no holder with
// unknownNumber. Every call gets a fresh random challenge. It checks that:
//   - each demo holder's own card photo passes against their number,
//     whatever their card status;
//   - lightly altered copies of 张三's photo pass (AlterPhoto: JPEG quality
//     80, resized to 90% and 110%, brightened by 20 levels);
//   - every other holder's photo fails against 张三's number (赵六's among
//     them), and 张三's photo fails against a number no holder has, all with
//     no error;
//   - bytes that are not an image, a truncated PNG, a GIF, a PNG whose header
//     claims 30000×30000 pixels, and a file of connectors.MaxPhotoBytes+1
//     bytes all give an error wrapping connectors.ErrInvalidPhoto;
//   - an empty challenge gives an error, not a pass;
//   - a cancelled context gives an error that wraps context.Canceled.
func TestFace(t *testing.T, c connectors.FaceChecker) {
	t.Helper()
	s := &faceSuite{c: c, photos: demoPhotos(t), zhang: mustParse(t, zhangNumber)}
	s.ownPhotosPass(t)
	s.otherPhotosFail(t)
	s.invalidPhotosFail(t)
	s.badCallsFail(t)
}

// faceSuite is TestFace's checker and the demo holders' photos by number.
type faceSuite struct {
	c      connectors.FaceChecker
	photos map[string][]byte
	zhang  citizenid.Number
}

// demoPhotos returns the demo holders' card photos by number.
func demoPhotos(t *testing.T) map[string][]byte {
	t.Helper()
	photos := make(map[string][]byte)
	for _, h := range demoHolders() {
		p, err := simulator.DemoPhoto(h.number)
		if err != nil {
			t.Fatalf("simulator.DemoPhoto(%s) error = %v; want nil", mustParse(t, h.number).Masked(), err)
		}
		photos[h.number] = p
	}
	return photos
}

// check asks for the face check of photo against number, with a fresh
// challenge.
func (s *faceSuite) check(t *testing.T, number string, photo []byte) (connectors.FaceResult, error) {
	t.Helper()
	return s.c.CheckFace(t.Context(), mustParse(t, number), photo, challenge())
}

// ownPhotosPass: each holder's own photo, and altered copies of 张三's.
func (s *faceSuite) ownPhotosPass(t *testing.T) {
	t.Helper()
	for _, h := range demoHolders() {
		t.Run("own photo passes: "+h.name, func(t *testing.T) {
			got, err := s.check(t, h.number, s.photos[h.number])
			if err != nil || !got.Passed {
				t.Errorf("CheckFace(%s, own photo) = %+v, %v; want Passed, nil", mustParse(t, h.number).Masked(), got, err)
			}
		})
	}

	altered, err := AlterPhoto(s.photos[zhangNumber])
	if err != nil {
		t.Fatalf("AlterPhoto(张三's photo) error = %v; want nil", err)
	}
	for _, a := range altered {
		t.Run("altered photo passes: "+a.Name, func(t *testing.T) {
			got, err := s.check(t, zhangNumber, a.Data)
			if err != nil || !got.Passed {
				t.Errorf("CheckFace(%s, own photo %s) = %+v, %v; want Passed, nil", s.zhang.Masked(), a.Name, got, err)
			}
		})
	}
}

// otherPhotosFail: every other holder's photo against 张三's number, and
// 张三's photo against a number no holder has.
func (s *faceSuite) otherPhotosFail(t *testing.T) {
	t.Helper()
	for _, h := range demoHolders() {
		if h.number == zhangNumber {
			continue
		}
		t.Run("another holder's photo fails: "+h.name, func(t *testing.T) {
			got, err := s.check(t, zhangNumber, s.photos[h.number])
			if err != nil || got.Passed {
				t.Errorf("CheckFace(%s, %s's photo) = %+v, %v; want not Passed, nil", s.zhang.Masked(), h.name, got, err)
			}
		})
	}
	t.Run("unknown number fails", func(t *testing.T) {
		got, err := s.check(t, unknownNumber, s.photos[zhangNumber])
		if err != nil || got.Passed {
			t.Errorf("CheckFace(%s, 张三's photo) = %+v, %v; want not Passed, nil", mustParse(t, unknownNumber).Masked(), got, err)
		}
	})
}

// invalidPhotosFail: files that are no usable photo give
// connectors.ErrInvalidPhoto.
func (s *faceSuite) invalidPhotosFail(t *testing.T) {
	t.Helper()
	zhangPhoto := s.photos[zhangNumber]
	bomb, err := pngClaiming(zhangPhoto, 30000, 30000)
	if err != nil {
		t.Fatal(err)
	}
	var gifPhoto bytes.Buffer
	if err := gif.Encode(&gifPhoto, uniform(64, 64), nil); err != nil {
		t.Fatal(err)
	}
	oversize := make([]byte, connectors.MaxPhotoBytes+1)
	copy(oversize, zhangPhoto)
	invalid := []struct {
		name  string
		photo []byte
	}{
		{"empty", nil},
		{"not an image", []byte("this is not a photo, it is a sentence")},
		{"truncated PNG", zhangPhoto[:len(zhangPhoto)/2]},
		{"GIF", gifPhoto.Bytes()},
		{"PNG claiming 30000×30000 pixels", bomb},
		{"MaxPhotoBytes+1 bytes", oversize},
	}
	for _, tt := range invalid {
		t.Run("invalid photo: "+tt.name, func(t *testing.T) {
			got, err := s.check(t, zhangNumber, tt.photo)
			if !errors.Is(err, connectors.ErrInvalidPhoto) || got.Passed {
				t.Errorf("CheckFace(%s, %s) = %+v, %v; want an error wrapping %v", s.zhang.Masked(), tt.name, got, err, connectors.ErrInvalidPhoto)
			}
		})
	}
}

// badCallsFail: an empty challenge and a cancelled context give errors.
func (s *faceSuite) badCallsFail(t *testing.T) {
	t.Helper()
	t.Run("empty challenge", func(t *testing.T) {
		got, err := s.c.CheckFace(t.Context(), s.zhang, s.photos[zhangNumber], "")
		if err == nil || got.Passed {
			t.Errorf("CheckFace(%s, own photo, empty challenge) = %+v, %v; want an error", s.zhang.Masked(), got, err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := s.c.CheckFace(ctx, s.zhang, s.photos[zhangNumber], challenge())
		if !errors.Is(err, context.Canceled) || got.Passed {
			t.Errorf("CheckFace(cancelled ctx, %s, own photo) = %+v, %v; want an error wrapping %v", s.zhang.Masked(), got, err, context.Canceled)
		}
	})
}

// challenge returns a fresh challenge, as CardSSO issues one per attempt.
func challenge() string { return rand.Text() }

// uniform returns a grey w×h image.
func uniform(w, h int) *image.Paletted {
	return image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Gray{Y: 128}})
}
