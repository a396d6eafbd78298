package simulator

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"
)

// TestAreaSpans checks that every source pixel is shared out whole and that
// every cell receives the same area, n/gridSize pixels.
func TestAreaSpans(t *testing.T) {
	for _, n := range []int{gridSize, gridSize + 1, 100, 240, 241, 320, 333, 4096} {
		cells := make([]float64, gridSize)
		for x, s := range areaSpans(n) {
			if s.w0+s.w1 != 1 || s.w0 <= 0 || s.w1 < 0 || s.cell < 0 || s.cell >= gridSize || (s.w1 > 0 && s.cell == gridSize-1) {
				t.Fatalf("areaSpans(%d)[%d] = %+v; want weights summing to 1 over cells inside the grid", n, x, s)
			}
			cells[s.cell] += s.w0
			if s.w1 > 0 {
				cells[s.cell+1] += s.w1
			}
		}
		want := float64(n) / gridSize
		for c, got := range cells {
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("areaSpans(%d): cell %d gets %v pixels; want %v", n, c, got, want)
			}
		}
	}
}

// TestFaceprintImageTypes checks that the faceprint does not depend on how
// the decoder lays out the pixels, nor on the bounds' origin.
func TestFaceprintImageTypes(t *testing.T) {
	const w, h = 60, 80
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// Grey pixels, so that every colour model holds them exactly.
			v := uint8((x*7 + y*3 + (x*y)%17) % 256)
			rgba.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	convert := func(dst draw.Image) image.Image {
		draw.Draw(dst, dst.Bounds(), rgba, image.Point{}, draw.Src)
		return dst
	}
	ycbcr := image.NewYCbCr(rgba.Bounds(), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			ycbcr.Y[ycbcr.YOffset(x, y)] = rgba.Pix[rgba.PixOffset(x, y)]
		}
	}
	for i := range ycbcr.Cb {
		ycbcr.Cb[i], ycbcr.Cr[i] = 128, 128
	}
	// A sub-image whose origin is not (0, 0) and whose stride is wider than it.
	wide := image.NewRGBA(image.Rect(-5, 10, w+7, h+30))
	draw.Draw(wide, image.Rect(3, 20, 3+w, 20+h), rgba, image.Point{}, draw.Src)
	sub := wide.SubImage(image.Rect(3, 20, 3+w, 20+h))

	want, ok := newFaceprint(rgba)
	if !ok {
		t.Fatal("newFaceprint(RGBA) not ok")
	}
	for name, img := range map[string]image.Image{
		"NRGBA":     convert(image.NewNRGBA(rgba.Bounds())),
		"Gray":      convert(image.NewGray(rgba.Bounds())),
		"RGBA64":    convert(image.NewRGBA64(rgba.Bounds())),
		"YCbCr":     ycbcr,
		"sub-image": sub,
	} {
		got, ok := newFaceprint(img)
		if !ok {
			t.Errorf("newFaceprint(%s) not ok", name)
			continue
		}
		if s := similarity(want, got); s < 0.99999 {
			t.Errorf("similarity(RGBA, %s) = %v; want 1", name, s)
		}
	}
}
