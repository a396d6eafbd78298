package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// DefaultFaceThreshold is the similarity a live photo must reach against the
// card photo to pass the face check when Config.FaceThreshold is zero. The
// similarity is a correlation coefficient, from -1 to 1; see the package
// documentation for how it is computed and what the demo photos score.
const DefaultFaceThreshold = 0.90

// Limits on the photos the face check decodes. The byte limit is
// connectors.MaxPhotoBytes; the dimensions are read from the image header
// before any pixel is decoded, so a small file that claims to be huge (a
// decompression bomb) is refused without allocating for it.
const (
	minPhotoSide = gridSize // smaller than the comparison grid: nothing to compare
	maxPhotoSide = 4096
)

// gridSize is the side of the grey grid photos are reduced to for comparison.
const gridSize = 32

// faceprint is what the face check compares: a photo reduced to a
// gridSize×gridSize grey grid by area averaging, with its mean subtracted and
// scaled to unit length, so that the dot product of two faceprints is the
// Pearson correlation of the two grids.
type faceprint [gridSize * gridSize]float64

var (
	pngSignature  = []byte("\x89PNG\r\n\x1a\n")
	jpegSignature = []byte("\xff\xd8\xff")
)

// errNoChallenge is returned by CheckFace for an empty challenge.
var errNoChallenge = errors.New("simulator: face check: challenge is empty")

// CheckFace implements connectors.FaceChecker. It decodes photo (PNG or JPEG,
// at most connectors.MaxPhotoBytes and maxPhotoSide pixels on each side),
// reduces it to a faceprint and passes when its similarity to the faceprint of
// the holder's card photo is at least the configured threshold. The
// similarity itself is never returned, logged or kept, and neither is the
// photo.
//
// Errors: a done ctx (wrapping ctx.Err()), an empty challenge, and a photo
// that is too large or cannot be decoded (wrapping connectors.ErrInvalidPhoto).
// The photo is decoded before the number is looked up, so an unknown number,
// a holder without a card photo and a face that does not match all give
// FaceResult{} with no error. The challenge must not be empty but is not
// otherwise used: the simulator has no liveness check to bind it to.
func (s *Simulator) CheckFace(ctx context.Context, number citizenid.Number, photo []byte, challenge string) (connectors.FaceResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.FaceResult{}, fmt.Errorf("simulator: face check: %w", err)
	}
	if challenge == "" {
		return connectors.FaceResult{}, errNoChallenge
	}
	live, ok, err := faceprintOf(photo)
	if err != nil {
		return connectors.FaceResult{}, fmt.Errorf("simulator: face check: %w", err)
	}
	// Decoding a large photo takes a while: the caller may have given up.
	if err := ctx.Err(); err != nil {
		return connectors.FaceResult{}, fmt.Errorf("simulator: face check: %w", err)
	}
	i, known := s.byNumber[number]
	if !ok || !known || s.prints[i] == nil {
		return connectors.FaceResult{}, nil
	}
	return connectors.FaceResult{Passed: similarity(live, s.prints[i]) >= s.faceThreshold}, nil
}

// faceprintOf decodes a photo and returns its faceprint. ok is false when the
// photo decodes but is uniform (no structure to compare). The error wraps
// connectors.ErrInvalidPhoto.
func faceprintOf(photo []byte) (p *faceprint, ok bool, err error) {
	img, err := decodePhoto(photo)
	if err != nil {
		return nil, false, err
	}
	p, ok = newFaceprint(img)
	return p, ok, nil
}

// decodePhoto decodes a PNG or JPEG photo within the size limits. Every error
// wraps connectors.ErrInvalidPhoto.
func decodePhoto(data []byte) (image.Image, error) {
	if len(data) > connectors.MaxPhotoBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", connectors.ErrInvalidPhoto, len(data), connectors.MaxPhotoBytes)
	}
	var (
		format       string
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, pngSignature):
		format, decodeConfig, decode = "png", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, jpegSignature):
		format, decodeConfig, decode = "jpeg", jpeg.DecodeConfig, func(r io.Reader) (image.Image, error) { return jpeg.Decode(r) }
	default:
		return nil, fmt.Errorf("%w: neither PNG nor JPEG", connectors.ErrInvalidPhoto)
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %w", connectors.ErrInvalidPhoto, format, err)
	}
	if cfg.Width < minPhotoSide || cfg.Height < minPhotoSide || cfg.Width > maxPhotoSide || cfg.Height > maxPhotoSide {
		return nil, fmt.Errorf("%w: %d×%d pixels; want %d to %d on each side",
			connectors.ErrInvalidPhoto, cfg.Width, cfg.Height, minPhotoSide, maxPhotoSide)
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", connectors.ErrInvalidPhoto, format, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		// Not expected from the standard decoders; refuse rather than trust it.
		return nil, fmt.Errorf("%w: %s: decoded size differs from the header", connectors.ErrInvalidPhoto, format)
	}
	return img, nil
}

// newFaceprint reduces img (at least gridSize pixels on each side) to its
// faceprint: luma (ITU-R BT.601 weights, the Y of JPEG's YCbCr), averaged over
// gridSize×gridSize equal areas, mean subtracted, scaled to unit length. ok is
// false for an image with (almost) no variation.
func newFaceprint(img image.Image) (p *faceprint, ok bool) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < gridSize || h < gridSize {
		return nil, false
	}
	xs, ys := areaSpans(w), areaSpans(h)
	var grid faceprint
	row := make([]float64, w)
	var cols [gridSize]float64
	for y := range h {
		lumaRow(img, b.Min.Y+y, row)
		cols = [gridSize]float64{}
		for x, l := range row {
			s := xs[x]
			cols[s.cell] += l * s.w0
			if s.w1 > 0 {
				cols[s.cell+1] += l * s.w1
			}
		}
		s := ys[y]
		r0 := grid[s.cell*gridSize : (s.cell+1)*gridSize]
		for c, v := range cols {
			r0[c] += v * s.w0
		}
		if s.w1 > 0 {
			r1 := grid[(s.cell+1)*gridSize : (s.cell+2)*gridSize]
			for c, v := range cols {
				r1[c] += v * s.w1
			}
		}
	}
	// The cells are sums over equal areas; their common scale does not
	// matter once the grid is normalised.
	var mean float64
	for _, v := range grid {
		mean += v
	}
	mean /= float64(len(grid))
	var norm float64
	for i, v := range grid {
		grid[i] = v - mean
		norm += grid[i] * grid[i]
	}
	norm = math.Sqrt(norm)
	// Each cell is a sum over w·h/gridSize² pixels, so norm is the RMS
	// deviation of the cells' mean luma times w·h/gridSize. A grid whose
	// cells deviate by less than half a grey level has nothing to correlate.
	if !(norm >= 0.5*float64(w*h)/gridSize) {
		return nil, false
	}
	for i := range grid {
		grid[i] /= norm
	}
	return &grid, true
}

// similarity is the Pearson correlation of the grids behind two faceprints.
func similarity(a, b *faceprint) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// areaSpan says how one source pixel contributes to the grid: the fraction
// w0 of it falls in cell, and w1 = 1-w0 in cell+1 (the source is at least
// gridSize pixels long, so a pixel never spans more than two cells).
type areaSpan struct {
	cell   int
	w0, w1 float64
}

// areaSpans returns the span of each of n source pixels over gridSize cells
// of equal length n/gridSize. Pixel x covers [x·gridSize, (x+1)·gridSize) in
// units where a cell is n long.
func areaSpans(n int) []areaSpan {
	spans := make([]areaSpan, n)
	for x := range spans {
		start, end := x*gridSize, (x+1)*gridSize
		cell := start / n
		boundary := (cell + 1) * n
		if end <= boundary {
			spans[x] = areaSpan{cell: cell, w0: 1}
			continue
		}
		w0 := float64(boundary-start) / gridSize
		spans[x] = areaSpan{cell: cell, w0: w0, w1: 1 - w0}
	}
	return spans
}

// lumaRow writes the luma (0–255) of row y of img into row, which has one
// entry per column. Colours with alpha are taken as composited over black.
func lumaRow(img image.Image, y int, row []float64) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		off := m.YOffset(b.Min.X, y)
		for x, v := range m.Y[off : off+len(row)] {
			row[x] = float64(v)
		}
	case *image.Gray:
		off := m.PixOffset(b.Min.X, y)
		for x, v := range m.Pix[off : off+len(row)] {
			row[x] = float64(v)
		}
	case *image.RGBA:
		off := m.PixOffset(b.Min.X, y)
		pix := m.Pix[off : off+4*len(row)]
		for x := range row {
			p := pix[4*x : 4*x+3]
			row[x] = luma(float64(p[0]), float64(p[1]), float64(p[2]))
		}
	case *image.NRGBA:
		off := m.PixOffset(b.Min.X, y)
		pix := m.Pix[off : off+4*len(row)]
		for x := range row {
			p := pix[4*x : 4*x+4]
			a := float64(p[3]) / 255
			row[x] = luma(float64(p[0])*a, float64(p[1])*a, float64(p[2])*a)
		}
	default:
		for x := range row {
			r, g, bl, _ := img.At(b.Min.X+x, y).RGBA()
			row[x] = luma(float64(r)/257, float64(g)/257, float64(bl)/257)
		}
	}
}

// luma returns the ITU-R BT.601 luma of an RGB colour.
func luma(r, g, b float64) float64 { return 0.299*r + 0.587*g + 0.114*b }
