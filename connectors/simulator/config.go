package simulator

import (
	"fmt"
	"net/url"
)

// ConfigError reports a Config field that is not valid. Key is the field's
// YAML key (fixture, photo_dir, face_threshold, app_base_url).
type ConfigError struct {
	Key    string
	Reason string
}

// Error returns "simulator: key: reason".
func (e *ConfigError) Error() string { return "simulator: " + e.Key + ": " + e.Reason }

// ConfigKey is the YAML key of the bad field.
func (e *ConfigError) ConfigKey() string { return e.Key }

// ConfigReason is why it is bad.
func (e *ConfigError) ConfigReason() string { return e.Reason }

// Validate checks cfg without reading any file: FaceThreshold above 0 and at
// most 1, or zero for DefaultFaceThreshold; AppBaseURL empty or an absolute
// http or https URL with no query or fragment. The fixture and the photos
// are checked by Open.
func (cfg Config) Validate() error {
	if t := cfg.FaceThreshold; t != 0 && !(t > 0 && t <= 1) { // also refuses NaN
		return &ConfigError{Key: "face_threshold", Reason: fmt.Sprintf("face threshold %v is not above 0 and at most 1 (0 for the default, %v)", t, DefaultFaceThreshold)}
	}
	if u := cfg.AppBaseURL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
			return &ConfigError{Key: "app_base_url", Reason: fmt.Sprintf("%q is not an absolute http or https URL without user, query or fragment", u)}
		}
	}
	return nil
}

// Open loads the fixture and its photos and returns the simulator: New(cfg).
// A fixture (or photo) that cannot be read or is not valid gives a
// *ConfigError for fixture whose reason is New's error.
func (cfg Config) Open() (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sim, err := New(cfg)
	if err != nil {
		return nil, &ConfigError{Key: "fixture", Reason: err.Error()}
	}
	return sim, nil
}
