//go:build !unix

package main

import (
	"errors"
	"time"
)

// selfCPUTime is not measured here: the report leaves gen CPU out.
func selfCPUTime() (time.Duration, error) {
	return 0, errors.New("getrusage is unix only")
}
