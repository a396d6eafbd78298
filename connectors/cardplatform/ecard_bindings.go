package cardplatform

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// Bindings implements connectors.BindingAdmin with POST
// /v1/ecard/bindings (idempotent): those of *number, or every binding
// when number is nil (a platform may refuse that: a *RefusedError with
// Code wire.CodeForbidden). The list must be of valid bindings, of
// *number when it is set, at most 200.
func (c *Client) Bindings(ctx context.Context, number *citizenid.Number) ([]connectors.Binding, error) {
	req := wire.BindingsRequest{All: true}
	var owner citizenid.Number
	if number != nil {
		if number.IsZero() {
			return nil, fmt.Errorf("cardplatform: %s: no number", CheckBindings)
		}
		owner = *number
		req = wire.BindingsRequest{Number: owner.String()}
	}
	var res []connectors.Binding
	err := c.call(ctx, callSpec{
		check: CheckBindings, path: wire.PathECardBindings, idempotent: true, number: owner,
		payload: req,
		accept: func(body []byte) (string, error) {
			var r wire.BindingsResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			switch {
			case r.Bindings == nil:
				return "", errors.New("answer has no bindings field")
			case len(*r.Bindings) > maxBindings:
				return "", fmt.Errorf("more than %d bindings", maxBindings)
			}
			res = make([]connectors.Binding, 0, len(*r.Bindings))
			for i, w := range *r.Bindings {
				b, err := bindingOf(w, owner)
				if err != nil {
					return "", fmt.Errorf("bindings[%d]: %w", i, err)
				}
				res = append(res, b)
			}
			return "listed", nil
		},
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// bindingOf validates a binding the platform listed; owner, when not
// zero, is the holder whose bindings were asked for.
func bindingOf(w wire.Binding, owner citizenid.Number) (connectors.Binding, error) {
	n, err := citizenid.Parse(w.Number)
	switch {
	case !validBindingID(w.ID):
		return connectors.Binding{}, errors.New("id is not 1 to 128 characters [A-Za-z0-9_-]")
	case err != nil:
		return connectors.Binding{}, errors.New("number is not a valid citizen identity number")
	case !owner.IsZero() && n != owner:
		return connectors.Binding{}, errors.New("a binding of another holder")
	case !validText(w.DeviceName, maxDeviceRunes):
		return connectors.Binding{}, fmt.Errorf("device_name is not 1 to %d characters", maxDeviceRunes)
	case w.BoundAt == nil:
		return connectors.Binding{}, errors.New("no bound_at")
	}
	b := connectors.Binding{ID: w.ID, Number: n, DeviceName: w.DeviceName, BoundAt: *w.BoundAt}
	if w.LastUsedAt != nil {
		b.LastUsedAt = *w.LastUsedAt
	}
	if w.RevokedAt != nil {
		b.RevokedAt = *w.RevokedAt
	}
	return b, nil
}

// RevokeBinding implements connectors.BindingAdmin with POST
// /v1/ecard/bindings/revoke. It is idempotent (revoking a revoked binding
// is not an error), so it is sent again after a fault. An answer of found
// false, and an id that is not a binding id (1 to 128 characters
// [A-Za-z0-9_-]; the platform is not asked), give an error wrapping
// connectors.ErrBindingNotFound; other errors are as for CheckRealName.
func (c *Client) RevokeBinding(ctx context.Context, id string, owner *citizenid.Number) error {
	if !validBindingID(id) {
		return fmt.Errorf("cardplatform: %s: %w", CheckRevoke, connectors.ErrBindingNotFound)
	}
	req := wire.RevokeRequest{ID: id}
	var ownerNumber citizenid.Number
	if owner != nil {
		if owner.IsZero() {
			return fmt.Errorf("cardplatform: %s: no owner number", CheckRevoke)
		}
		ownerNumber = *owner
		req.Owner = owner.String()
	}
	var found bool
	err := c.call(ctx, callSpec{
		check: CheckRevoke, path: wire.PathECardRevoke, idempotent: true, number: ownerNumber,
		payload: req,
		accept: func(body []byte) (string, error) {
			var r wire.RevokeResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			if r.Found == nil {
				return "", errors.New("answer has no found field")
			}
			found = *r.Found
			if !found {
				return "not_found", nil
			}
			return "revoked", nil
		},
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("cardplatform: %s: %w", CheckRevoke, connectors.ErrBindingNotFound)
	}
	return nil
}
