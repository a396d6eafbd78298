// Command gen draws the synthetic card photos of the demo card holders
// (README, "Demo card holders") and writes them, as <number>.png, to examples/photos/ (for
// testers, who upload them on the face-check page) and to
// connectors/simulator/photos/ (the copy the simulator embeds; go:embed cannot
// reach examples/). Run it from the repository root:
//
//	go run ./examples/photos/gen
//
// The faces are simple drawings, not photographs of anyone: a background, the
// shoulders, a head, hair, eyes, brows, a nose and a mouth, each holder with a
// different background shade, head shape and size, eye spacing and hair, so
// that the simulator's face comparison tells them clearly apart. The output is
// deterministic: the same program writes the same pixels (a test checks the
// committed files against it).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// width and height are the size of a card photo in pixels (3:4, like the
// photo printed on a card).
const (
	width  = 240
	height = 320
)

// supersample is the number of samples per pixel along each axis; the
// average of supersample² samples smooths the shapes' edges.
const supersample = 4

// Output directories, relative to the repository root.
const (
	examplesDir  = "examples/photos"
	simulatorDir = "connectors/simulator/photos"
)

func main() {
	root := flag.String("root", ".", "the repository root (the directory holding go.mod)")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is not the repository root (no go.mod); run from the root or pass -root", root)
		}
		return err
	}
	for _, f := range faces {
		data, err := encode(f)
		if err != nil {
			return fmt.Errorf("encode %s: %w", f.name, err)
		}
		for _, dir := range []string{examplesDir, simulatorDir} {
			if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, dir, f.number+".png"), data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// encode draws f and returns it as a PNG file.
func encode(f face) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, render(f)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// hairStyle is the shape of a face's hair.
type hairStyle int

// The hair styles.
const (
	hairShort  hairStyle = iota // a close cap over the top of the head
	hairLong                    // a cap with a parting and hair down to the shoulders
	hairBald                    // grey hair at the sides only
	hairFringe                  // a straight-cut fringe down to the brows and a bun on top
	hairSpiky                   // a tall zigzag crest
)

// face describes one synthetic face. Lengths are in pixels of the
// width×height photo.
type face struct {
	name, number string

	bgTop, bgBottom color.RGBA // the background, a vertical gradient
	skin, hair      color.RGBA
	clothes         color.RGBA

	headX, headY   float64 // the centre of the head
	headRX, headRY float64 // its radii
	style          hairStyle

	eyeDX, eyeY, eyeR float64 // half the eye spacing, the eyes' height, their radius
	mouthY, mouthRX   float64
	glasses           bool
	beard             bool
	shoulderY         float64 // where the shoulders start
	shoulderRX        float64 // their half width
}

// faces are the demo holders' faces, in fixture order.
var faces = []face{
	{
		name: "张三", number: "110105199003070017",
		bgTop: rgb(196, 220, 244), bgBottom: rgb(170, 200, 235),
		skin: rgb(236, 200, 170), hair: rgb(25, 20, 18), clothes: rgb(30, 40, 70),
		headX: 120, headY: 140, headRX: 62, headRY: 80, style: hairShort,
		eyeDX: 27, eyeY: 135, eyeR: 7, mouthY: 185, mouthRX: 20,
		shoulderY: 262, shoulderRX: 125,
	},
	{
		name: "李四", number: "440305198511120028",
		bgTop: rgb(250, 250, 250), bgBottom: rgb(236, 236, 236),
		skin: rgb(244, 214, 190), hair: rgb(40, 28, 22), clothes: rgb(190, 40, 50),
		headX: 120, headY: 150, headRX: 55, headRY: 62, style: hairLong,
		eyeDX: 19, eyeY: 148, eyeR: 6, mouthY: 182, mouthRX: 14,
		shoulderY: 268, shoulderRX: 110,
	},
	{
		name: "王五", number: "31011519780520003X",
		bgTop: rgb(120, 120, 126), bgBottom: rgb(90, 90, 96),
		skin: rgb(214, 170, 136), hair: rgb(170, 170, 170), clothes: rgb(225, 225, 215),
		headX: 120, headY: 150, headRX: 78, headRY: 92, style: hairBald,
		eyeDX: 30, eyeY: 140, eyeR: 6, mouthY: 200, mouthRX: 26,
		glasses: true, beard: true,
		shoulderY: 275, shoulderRX: 135,
	},
	{
		name: "赵六", number: "510104200002290046",
		bgTop: rgb(215, 45, 45), bgBottom: rgb(190, 30, 35),
		skin: rgb(250, 226, 205), hair: rgb(70, 40, 25), clothes: rgb(245, 245, 245),
		headX: 116, headY: 178, headRX: 50, headRY: 60, style: hairFringe,
		eyeDX: 20, eyeY: 182, eyeR: 8, mouthY: 212, mouthRX: 12,
		shoulderY: 282, shoulderRX: 100,
	},
	{
		name: "孙七", number: "330106199512310055",
		bgTop: rgb(60, 120, 200), bgBottom: rgb(40, 95, 175),
		skin: rgb(224, 186, 150), hair: rgb(15, 15, 15), clothes: rgb(120, 130, 60),
		headX: 124, headY: 160, headRX: 46, headRY: 86, style: hairSpiky,
		eyeDX: 17, eyeY: 158, eyeR: 5, mouthY: 212, mouthRX: 15,
		shoulderY: 270, shoulderRX: 118,
	},
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{r, g, b, 255} }

// render draws f as a width×height image.
func render(f face) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	const n = supersample * supersample
	for y := range height {
		for x := range width {
			var r, g, b int
			for sy := range supersample {
				for sx := range supersample {
					c := f.at(float64(x)+(float64(sx)+0.5)/supersample, float64(y)+(float64(sy)+0.5)/supersample)
					r += int(c.R)
					g += int(c.G)
					b += int(c.B)
				}
			}
			img.SetRGBA(x, y, color.RGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((b + n/2) / n), 255})
		}
	}
	return img
}

// at returns the colour of f at the point (x, y), painting from back to
// front: the background, what lies behind the head, the head, the hair in
// front and the features. Each layer returns c, the colour so far, where it
// paints nothing.
func (f face) at(x, y float64) color.RGBA {
	c := mix(f.bgTop, f.bgBottom, y/height)
	c = f.behind(x, y, c)
	c = f.body(x, y, c)
	c = f.hairFront(x, y, c)
	return f.features(x, y, c)
}

// behind paints what lies behind the head: long hair and a bun.
func (f face) behind(x, y float64, c color.RGBA) color.RGBA {
	// Long hair falls behind the head down to the shoulders.
	if f.style == hairLong && (ellipse(x, y, f.headX, f.headY, f.headRX*1.3, f.headRY+12) ||
		y > f.headY && y < f.shoulderY+30 && math.Abs(x-f.headX) < f.headRX*1.3) {
		c = f.hair
	}
	// A bun on top of the head.
	if f.style == hairFringe && ellipse(x, y, f.headX, f.headY-f.headRY-12, 26, 22) {
		c = f.hair
	}
	return c
}

// body paints the shoulders, the neck, the ears and the head (with a beard).
func (f face) body(x, y float64, c color.RGBA) color.RGBA {
	// Shoulders and neck.
	if y > f.shoulderY && ellipse(x, y, f.headX, f.shoulderY+70, f.shoulderRX, 110) {
		c = f.clothes
	}
	if math.Abs(x-f.headX) < f.headRX*0.45 && y > f.headY && y < f.shoulderY+12 {
		c = shade(f.skin, 0.9)
	}
	// Ears.
	for _, s := range []float64{-1, 1} {
		if ellipse(x, y, f.headX+s*f.headRX*0.97, f.eyeY+10, 9, 16) {
			c = shade(f.skin, 0.93)
		}
	}
	// The head.
	if ellipse(x, y, f.headX, f.headY, f.headRX, f.headRY) {
		c = f.skin
		if f.beard && y > f.mouthY-14 && !ellipse(x, y, f.headX, f.mouthY, f.mouthRX+4, 9) {
			c = mix(f.skin, rgb(80, 70, 65), 0.7)
		}
	}
	return c
}

// hairFront paints the hair in front of the head, by style.
func (f face) hairFront(x, y float64, c color.RGBA) color.RGBA {
	top := f.headY - f.headRY
	switch f.style {
	case hairShort:
		if ellipse(x, y, f.headX, f.headY-6, f.headRX+5, f.headRY+6) && y < top+f.headRY*0.45 {
			c = f.hair
		}
	case hairLong:
		if ellipse(x, y, f.headX, f.headY, f.headRX+4, f.headRY+6) && y < top+f.headRY*0.35+math.Abs(x-f.headX-10)*0.5 {
			c = f.hair
		}
	case hairBald:
		if ellipse(x, y, f.headX, f.headY-10, f.headRX+5, f.headRY) && !ellipse(x, y, f.headX, f.headY-20, f.headRX-12, f.headRY) &&
			y < f.eyeY+5 && y > top+20 {
			c = f.hair
		}
	case hairFringe:
		if ellipse(x, y, f.headX, f.headY-4, f.headRX+5, f.headRY+6) && y < f.eyeY-16 {
			c = f.hair
		}
	case hairSpiky:
		saw := math.Abs(math.Mod(x-f.headX+200, 20) - 10) // 0..10, a zigzag
		if math.Abs(x-f.headX) < f.headRX+2 && y > top-30+saw*2.2 && y < top+f.headRY*0.35 &&
			ellipse(x, y, f.headX, f.headY-10, f.headRX+4, f.headRY+40) {
			c = f.hair
		}
	}
	return c
}

// features paints the brows, the eyes (with glasses), the nose and the mouth.
func (f face) features(x, y float64, c color.RGBA) color.RGBA {
	for _, s := range []float64{-1, 1} {
		ex := f.headX + s*f.eyeDX
		if math.Abs(x-ex) < f.eyeR*1.8 && math.Abs(y-(f.eyeY-f.eyeR*2.2+math.Abs(x-ex)*0.12*s*s)) < 2.5 {
			c = shade(f.hair, 0.8)
			if f.style == hairBald {
				c = rgb(110, 105, 100)
			}
		}
		if ellipse(x, y, ex, f.eyeY, f.eyeR*1.6, f.eyeR) {
			c = rgb(245, 245, 240)
		}
		if ellipse(x, y, ex, f.eyeY, f.eyeR*0.75, f.eyeR*0.75) {
			c = rgb(35, 25, 20)
		}
		if f.glasses {
			d := math.Hypot(x-ex, y-f.eyeY)
			if d > f.eyeR*2.6 && d < f.eyeR*2.6+3 {
				c = rgb(20, 20, 20)
			}
		}
	}
	if f.glasses && math.Abs(y-f.eyeY) < 1.5 && math.Abs(x-f.headX) < f.eyeDX-f.eyeR*2.6 {
		c = rgb(20, 20, 20)
	}
	noseY := (f.eyeY + f.mouthY) / 2
	if math.Abs(x-f.headX) < 2+(y-f.eyeY)*0.08 && y > f.eyeY+6 && y < noseY+8 {
		c = shade(f.skin, 0.82)
	}
	if ellipse(x, y, f.headX, f.mouthY, f.mouthRX, 5) {
		c = rgb(170, 70, 70)
	}
	return c
}

// ellipse reports whether (x, y) is inside the ellipse centred at (cx, cy)
// with radii rx and ry.
func ellipse(x, y, cx, cy, rx, ry float64) bool {
	dx, dy := (x-cx)/rx, (y-cy)/ry
	return dx*dx+dy*dy <= 1
}

// mix returns a + (b-a)·t.
func mix(a, b color.RGBA, t float64) color.RGBA {
	l := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + (float64(q)-float64(p))*t)) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 255}
}

// shade returns c darkened by the factor k.
func shade(c color.RGBA, k float64) color.RGBA {
	s := func(p uint8) uint8 { return uint8(math.Round(float64(p) * k)) }
	return color.RGBA{s(c.R), s(c.G), s(c.B), 255}
}
