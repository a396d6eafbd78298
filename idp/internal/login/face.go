package login

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// facePath is the real-person step's first page (its consent).
const facePath = "/login/face"

// faceStep is the real-person check: a request of level 3 needs a face
// match in this authentication (a session's counts when its methods
// include face).
var faceStep = &Step{
	Name: "face", Path: facePath, PromptNone: "login_required",
	Done: func(_ context.Context, _ *Handler, f *flow) (bool, error) {
		level, err := f.required()
		if err != nil {
			return false, fmt.Errorf("required level: %w", err)
		}
		return level < assurance.LoA3 || f.st.Auth.FacePassed || f.st.Auth.DeviceBound, nil
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("GET "+facePath, h.getFaceConsent)
		mux.HandleFunc("POST "+facePath+"/consent", h.postFaceConsent)
		mux.HandleFunc("GET "+photoPath, h.getFacePhoto)
		mux.HandleFunc("POST "+photoPath, h.postFacePhoto)
	},
}

// getFaceConsent asks for the citizen's separate, explicit consent to the
// face check (《人脸识别技术应用安全管理办法》: separate consent; face
// recognition must not be the only way in — declining returns to the portal,
// which may offer another way).
func (h *Handler) getFaceConsent(w http.ResponseWriter, r *http.Request) {
	req, _, _, ok := h.authOf(w, r)
	if !ok {
		return
	}
	if h.cfg.Face == nil {
		h.unavailableLevel(w, r, req)
		return
	}
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	h.render(w, http.StatusOK, "face_consent", p)
}

func (h *Handler) postFaceConsent(w http.ResponseWriter, r *http.Request) {
	req, st, _, ok := h.authOf(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	switch r.PostFormValue("consent") {
	case "allow":
	case "deny":
		h.cfg.Observer.Login("face", "consent_denied")
		h.provider(req).ReturnError(w, r, req.ID, "access_denied", "the citizen declined the face check")
		return
	default:
		h.message(w, r, http.StatusBadRequest, "err.title", "err.consent", stepURL(facePath, req.ID))
		return
	}
	st.Auth.FaceConsent = true
	if err := h.saveState(r.Context(), req.ID, st); err != nil {
		h.internal(w, r, "save login state", err)
		return
	}
	http.Redirect(w, r, stepURL(photoPath, req.ID), http.StatusSeeOther)
}

// newChallenge stores a fresh single-use challenge for this attempt.
func (h *Handler) newChallenge(ctx context.Context, id string, st state) (string, error) {
	st.Challenge = &challenge{Value: rand.Text(), ExpiresAt: h.cfg.Now().UTC().Add(h.cfg.FaceChallengeTTL)}
	return st.Challenge.Value, h.saveState(ctx, id, st)
}

func (h *Handler) getFacePhoto(w http.ResponseWriter, r *http.Request) {
	req, st, _, ok := h.authOf(w, r)
	if !ok {
		return
	}
	if !st.Auth.FaceConsent {
		http.Redirect(w, r, stepURL(facePath, req.ID), http.StatusSeeOther)
		return
	}
	h.renderFacePhoto(w, r, req, st, http.StatusOK, "")
}

func (h *Handler) renderFacePhoto(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, status int, errKey string) {
	value, err := h.newChallenge(r.Context(), req.ID, st)
	if err != nil {
		h.internal(w, r, "save challenge", err)
		return
	}
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	p.Values["challenge"] = value
	p.Link = stepURL(cancelPath, req.ID)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	h.render(w, status, "face_photo", p)
}

var errChallenge = errors.New("face challenge missing, used or expired")

// photoSlots is how many photo uploads a node reads at once. A photo is
// held in memory (up to its 5 MB cap, never in a temporary file), so this
// bounds what a flood of uploads costs: photoSlots × the cap. The face
// step is rare (level 3 only) and short; an upload that finds every slot
// taken is answered 503 with Retry-After and loses nothing.
const photoSlots = 8

// postFacePhoto runs the face check on an uploaded photo. The photo is read
// into memory, handed to the connector and dropped: it is never written to
// disk, stored or logged.
func (h *Handler) postFacePhoto(w http.ResponseWriter, r *http.Request) {
	select {
	case h.photos <- struct{}{}:
		defer func() { <-h.photos }()
	default:
		w.Header().Set("Retry-After", "2")
		w.Header().Set("Connection", "close")
		h.cfg.Observer.Login("face", "busy")
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "err.photo.busy", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, photoBodyBytes) // BoundBodies checked Content-Length
	// All parts stay in memory (the limit is below maxMemory), so no
	// temporary file ever holds the photo.
	if err := r.ParseMultipartForm(connectors.MaxPhotoBytes + 128<<10); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.message(w, r, http.StatusRequestEntityTooLarge, "err.title", "err.photo.size", "")
			return
		}
		h.message(w, r, http.StatusBadRequest, "err.title", "err.photo.form", "")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	req, st, acct, ok := h.authOf(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	if h.cfg.Face == nil {
		h.unavailableLevel(w, r, req)
		return
	}
	if !st.Auth.FaceConsent {
		http.Redirect(w, r, stepURL(facePath, req.ID), http.StatusSeeOther)
		return
	}
	now := h.cfg.Now().UTC()
	given := r.PostFormValue("challenge")
	err := h.consumeChallenge(r.Context(), req.ID, given, now)
	if errors.Is(err, errChallenge) {
		h.renderFacePhoto(w, r, req, st, http.StatusBadRequest, "err.face.challenge")
		return
	}
	if err != nil {
		h.internal(w, r, "consume challenge", err)
		return
	}
	st.Challenge = nil
	h.checkFace(w, r, req, st, acct, given, now)
}

// consumeChallenge takes the challenge given from the request's state:
// single use, bound to this attempt, short-lived (errChallenge otherwise).
func (h *Handler) consumeChallenge(ctx context.Context, id, given string, now time.Time) error {
	_, err := h.updateState(ctx, id, func(s *state) error {
		if s.Challenge == nil || s.Challenge.Value != given || !now.Before(s.Challenge.ExpiresAt) {
			return errChallenge
		}
		s.Challenge = nil
		return nil
	})
	return err
}

// checkFace runs the face check of the uploaded photo against the
// challenge just consumed, within the account's attempt limit, and
// continues the login on a match.
func (h *Handler) checkFace(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, acct storage.Account, given string, now time.Time) {
	ctx := r.Context()
	// The attempt limit, per account, held in storage: the attempt is
	// counted before the check and decided on the counted value; only a
	// photo that did not match stays counted.
	until, locked, err := h.faceAttempt(ctx, acct.ID, now)
	if err != nil {
		h.internal(w, r, "count face attempt", err)
		return
	}
	if locked {
		h.cfg.Observer.Login("face", "locked")
		h.cfg.Logger.InfoContext(ctx, "face check locked", "account", acct.ID, "ip", clientAddr(r), "until", until)
		h.message(w, r, http.StatusTooManyRequests, "err.title", "err.face.locked", stepURL(cancelPath, req.ID))
		return
	}
	failed := false
	defer func() {
		if !failed {
			h.faceForgive(ctx, acct.ID)
		}
	}()

	file, _, err := r.FormFile("photo")
	if err != nil {
		h.renderFacePhoto(w, r, req, st, http.StatusBadRequest, "err.photo.form")
		return
	}
	photo, err := io.ReadAll(io.LimitReader(file, connectors.MaxPhotoBytes+1))
	_ = file.Close()
	if err != nil || len(photo) == 0 || len(photo) > connectors.MaxPhotoBytes {
		h.renderFacePhoto(w, r, req, st, http.StatusBadRequest, "err.photo.invalid")
		return
	}
	num, err := h.number(acct)
	if err != nil {
		h.internal(w, r, "open number", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	res, err := h.cfg.Face.CheckFace(cctx, num, photo, given)
	cancel()
	clear(photo)
	switch {
	case errors.Is(err, connectors.ErrInvalidPhoto):
		h.cfg.Observer.Check("face", "invalid_photo")
		h.renderFacePhoto(w, r, req, st, http.StatusBadRequest, "err.photo.invalid")
	case err != nil:
		h.cfg.Observer.Check("face", "unavailable")
		h.cfg.Logger.WarnContext(ctx, "real-person check failed", "number", num, "client", req.ClientID,
			"unavailable", errors.Is(err, connectors.ErrUnavailable), "error", err)
		h.renderFacePhoto(w, r, req, st, http.StatusServiceUnavailable, "err.unavailable")
	case !res.Passed:
		h.cfg.Observer.Check("face", "fail")
		h.cfg.Logger.InfoContext(ctx, "real-person check: no match", "number", num, "client", req.ClientID, "ip", clientAddr(r))
		failed = true
		h.renderFacePhoto(w, r, req, st, http.StatusUnauthorized, "err.face.mismatch")
	default:
		h.cfg.Observer.Check("face", "pass")
		h.cfg.Logger.InfoContext(ctx, "real-person check: passed", "number", num, "client", req.ClientID)
		h.facePassed(w, r, req, st, acct, now)
	}
}

// facePassed records the match on the account and in the authentication
// (a new authentication event, with face and, after another method,
// mfa) and continues the login.
func (h *Handler) facePassed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, acct storage.Account, now time.Time) {
	ctx := r.Context()
	err := h.cfg.Store.UpdateAccount(ctx, acct.ID, func(a storage.Account) (storage.Account, error) {
		a.FaceVerifiedAt, a.UpdatedAt = &now, now
		return a, nil
	})
	if err != nil {
		h.internal(w, r, "record face check", err)
		return
	}
	st.Auth.FacePassed = true
	st.Auth.AuthTime = now // a new authentication event
	st.Auth.Stepped = true
	st.Auth.AMR = addAMR(st.Auth.AMR, assurance.AMRFace)
	if len(st.Auth.AMR) > 1 {
		st.Auth.AMR = addAMR(st.Auth.AMR, assurance.AMRMulti)
	}
	if err := h.saveState(ctx, req.ID, st); err != nil {
		h.internal(w, r, "save login state", err)
		return
	}
	h.next(w, r, req.ID)
}

// faceAttempt counts a face check on the account in storage (one
// transaction, so the limit holds across nodes, restarts and parallel
// attempts), starting a new window when the last one ended, and reports
// whether the counted attempt is over the limit, and until when. A refused
// attempt is not left counted.
func (h *Handler) faceAttempt(ctx context.Context, accountID string, now time.Time) (time.Time, bool, error) {
	var until time.Time
	locked := false
	err := h.cfg.Store.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
		if a.FaceFailuresSince == nil || now.Sub(*a.FaceFailuresSince) >= h.cfg.FaceWindow {
			a.FaceFailures, a.FaceFailuresSince = 0, &now
		}
		until = a.FaceFailuresSince.Add(h.cfg.FaceWindow)
		locked = a.FaceFailures+1 > h.cfg.FaceMaxFailures
		if locked {
			return a, nil // nothing counted: the check does not run
		}
		a.FaceFailures++
		a.UpdatedAt = now
		return a, nil
	})
	return until, locked, err
}

// faceForgive takes back an attempt faceAttempt counted that was no
// failure (a pass, an invalid photo, a platform fault).
func (h *Handler) faceForgive(ctx context.Context, accountID string) {
	err := h.cfg.Store.UpdateAccount(context.WithoutCancel(ctx), accountID, func(a storage.Account) (storage.Account, error) {
		if a.FaceFailures > 0 {
			a.FaceFailures--
		}
		return a, nil
	})
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "take back face attempt", "account", accountID, "error", err)
	}
}
