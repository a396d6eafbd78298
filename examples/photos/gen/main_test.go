package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedPhotos checks that the photos in examples/photos and
// connectors/simulator/photos are what this program draws, pixel for pixel
// (the PNG bytes could differ between Go versions; the pixels cannot).
func TestCommittedPhotos(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, f := range faces {
		want := render(f)
		for _, dir := range []string{examplesDir, simulatorDir} {
			path := filepath.Join(root, dir, f.number+".png")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%s: cannot read the photo of %s; run go run ./examples/photos/gen", dir, f.name)
			}
			got, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s (%s): %v", dir, f.name, err)
			}
			if !samePixels(got, want) {
				t.Errorf("%s (%s) is not what gen draws; run go run ./examples/photos/gen", dir, f.name)
			}
		}
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

func TestRunNeedsRoot(t *testing.T) {
	if err := run(t.TempDir()); err == nil {
		t.Error("run(a directory without go.mod) = nil; want an error")
	}
}

func TestRunWritesBothCopies(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(root); err != nil {
		t.Fatalf("run(%s) = %v; want nil", root, err)
	}
	for _, f := range faces {
		a, errA := os.ReadFile(filepath.Join(root, examplesDir, f.number+".png"))
		b, errB := os.ReadFile(filepath.Join(root, simulatorDir, f.number+".png"))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("photo of %s: errors %v, %v, equal %t; want two identical files", f.name, errA, errB, bytes.Equal(a, b))
		}
	}
}
