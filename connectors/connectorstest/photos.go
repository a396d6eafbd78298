package connectorstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
)

// AlteredPhoto is a lightly altered copy of a card photo: a face check must
// still take it for the same face.
type AlteredPhoto struct {
	Name string // what was done, e.g. "JPEG quality 80"
	Data []byte // the altered photo, a PNG or JPEG file
}

// AlterPhoto returns the altered copies of photo (a PNG file) that TestFace
// requires a face check to pass: re-encoded as JPEG at quality 80, resized to
// 90% and to 110% (bilinear, saved as PNG), and brightened by 20 levels on
// each channel (clipped at 255, saved as PNG).
func AlterPhoto(photo []byte) ([]AlteredPhoto, error) {
	img, err := png.Decode(bytes.NewReader(photo))
	if err != nil {
		return nil, fmt.Errorf("connectorstest: decode photo: %w", err)
	}
	src := toRGBA(img)
	steps := []struct {
		name string
		enc  func(*bytes.Buffer) error
	}{
		{"JPEG quality 80", func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 80}) }},
		{"resized to 90%", func(b *bytes.Buffer) error { return png.Encode(b, resize(src, 0.9)) }},
		{"resized to 110%", func(b *bytes.Buffer) error { return png.Encode(b, resize(src, 1.1)) }},
		{"brightened by 20 levels", func(b *bytes.Buffer) error { return png.Encode(b, brighten(src, 20)) }},
	}
	out := make([]AlteredPhoto, 0, len(steps))
	for _, s := range steps {
		var buf bytes.Buffer
		if err := s.enc(&buf); err != nil {
			return nil, fmt.Errorf("connectorstest: %s: %w", s.name, err)
		}
		out = append(out, AlteredPhoto{Name: s.name, Data: buf.Bytes()})
	}
	return out, nil
}

func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Bounds(), img, b.Min, draw.Src)
	return m
}

// resize scales src by factor with bilinear interpolation.
func resize(src *image.RGBA, factor float64) *image.RGBA {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := int(math.Round(float64(sw)*factor)), int(math.Round(float64(sh)*factor))
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	clamp := func(v, hi int) int { return max(0, min(v, hi)) }
	for y := range dh {
		fy := (float64(y)+0.5)*float64(sh)/float64(dh) - 0.5
		y0 := int(math.Floor(fy))
		ty := fy - float64(y0)
		y1 := clamp(y0+1, sh-1)
		y0 = clamp(y0, sh-1)
		for x := range dw {
			fx := (float64(x)+0.5)*float64(sw)/float64(dw) - 0.5
			x0 := int(math.Floor(fx))
			tx := fx - float64(x0)
			x1 := clamp(x0+1, sw-1)
			x0 = clamp(x0, sw-1)
			var px [4]uint8
			for c := range 4 {
				at := func(x, y int) float64 { return float64(src.Pix[src.PixOffset(x, y)+c]) }
				top := at(x0, y0)*(1-tx) + at(x1, y0)*tx
				bottom := at(x0, y1)*(1-tx) + at(x1, y1)*tx
				px[c] = uint8(math.Round(top*(1-ty) + bottom*ty))
			}
			dst.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], px[3]})
		}
	}
	return dst
}

// brighten adds levels to each colour channel of an opaque image, clipping
// at 255.
func brighten(src *image.RGBA, levels int) *image.RGBA {
	dst := image.NewRGBA(src.Bounds())
	for i, v := range src.Pix {
		if i%4 == 3 {
			dst.Pix[i] = v
			continue
		}
		dst.Pix[i] = uint8(min(255, int(v)+levels))
	}
	return dst
}

// pngClaiming returns photo (a PNG file) with the width and height in its
// header changed, and the header's checksum fixed: a small file that claims
// to be a huge image.
func pngClaiming(photo []byte, width, height uint32) ([]byte, error) {
	// The signature (8 bytes), then the IHDR chunk: length (4), type (4),
	// width (4), height (4), 5 more bytes of data, CRC (4).
	const ihdr = 8
	if len(photo) < ihdr+8+13+4 || string(photo[ihdr+4:ihdr+8]) != "IHDR" {
		return nil, fmt.Errorf("connectorstest: not a PNG file with an IHDR chunk first")
	}
	out := bytes.Clone(photo)
	binary.BigEndian.PutUint32(out[ihdr+8:], width)
	binary.BigEndian.PutUint32(out[ihdr+12:], height)
	binary.BigEndian.PutUint32(out[ihdr+8+13:], crc32.ChecksumIEEE(out[ihdr+4:ihdr+8+13]))
	return out, nil
}
