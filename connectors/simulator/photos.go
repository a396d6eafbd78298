package simulator

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/cardsso/cardsso/connectors/citizenid"
)

//go:generate go run ../../examples/photos/gen -root ../..

// demoPhotos holds the card photos of the demo holders, written by
// examples/photos/gen together with the identical copies in examples/photos.
//
//go:embed photos/*.png
var demoPhotos embed.FS

// embeddedPhotosName names the embedded photos in errors.
const embeddedPhotosName = "the embedded photos"

// embeddedPhotos returns the embedded card photos as a directory.
func embeddedPhotos() fs.FS {
	sub, err := fs.Sub(demoPhotos, "photos")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "photos" is valid.
		panic(err)
	}
	return sub
}

// DemoPhoto returns the card photo (a PNG file) of the demo holder with the
// given social security number, the same bytes as examples/photos/<number>.png.
// It is for tests that play the citizen: the conformance suite in
// connectorstest, and the tests of other checkers serving the demo holders.
// A number that is not valid, or no demo holder's, gives an error wrapping
// fs.ErrNotExist.
func DemoPhoto(number string) ([]byte, error) {
	n, err := citizenid.Parse(number)
	if err != nil {
		return nil, fmt.Errorf("simulator: demo photo: %w: %w", fs.ErrNotExist, err)
	}
	data, err := fs.ReadFile(embeddedPhotos(), n.String()+".png")
	if err != nil {
		return nil, fmt.Errorf("simulator: no demo photo for %s: %w", n.Masked(), fs.ErrNotExist)
	}
	return data, nil
}

// loadCardPhoto reads the card photo called name from photos and returns its
// faceprint. where names photos in errors, which never carry the file name
// (it is the holder's number).
func loadCardPhoto(photos fs.FS, where, name string) (*faceprint, error) {
	data, err := fs.ReadFile(photos, name)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // drop the path: it holds the full number
		}
		return nil, fmt.Errorf("cannot read the file from %s: %w", where, err)
	}
	p, ok, err := faceprintOf(data)
	if err != nil {
		return nil, fmt.Errorf("card photo in %s: %w", where, err)
	}
	if !ok {
		return nil, fmt.Errorf("card photo in %s is uniform: it has no face to compare", where)
	}
	return p, nil
}
