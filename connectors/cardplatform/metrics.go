package cardplatform

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// The outcomes of a check that are not faults ("outcome" label of
// cardsso_cardplatform_calls_total). The faults use their FaultKind.
const (
	outcomeMatch        = "match"
	outcomeMismatch     = "mismatch"
	outcomePass         = "pass"
	outcomeFail         = "fail"
	outcomeInvalidPhoto = "invalid_photo"
	outcomeRefused      = "refused"
	outcomeCanceled     = "canceled"
	outcomeError        = "error" // a local failure: no nonce could be made
)

// metrics are a Client's Prometheus collectors.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	breaker  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardsso_cardplatform_calls_total",
			Help: "Checks asked of the card service platform, by check (realname, card, face, ecard_ticket, " +
				"ecard_ticket_status, ecard_counter, ecard_licence, ecard_bindings, ecard_revoke) and outcome " +
				"(match, mismatch, pass, fail, invalid_photo, created, ticket_pending, ticket_confirmed, ticket_refused, " +
				"ticket_expired, valid, " +
				"invalid, used, found, not_found, listed, revoked, canceled, error, unreachable, timeout, " +
				"server_error, bad_response, bad_signature, breaker_open).",
		}, []string{"check", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cardsso_cardplatform_call_duration_seconds",
			Help:    "Time a check took, retries included, by check; checks refused by an open breaker are not counted.",
			Buckets: prometheus.DefBuckets,
		}, []string{"check"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardsso_cardplatform_retries_total",
			Help: "Requests sent again after a network error or a 502, 503 or 504 answer, by check.",
		}, []string{"check"}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cardsso_cardplatform_breaker_state",
			Help: "State of the circuit breaker in front of the card service platform: 0 closed, 1 half-open, 2 open.",
		}),
	}
	for _, check := range []string{CheckRealName, CheckCard, CheckFace,
		CheckTicket, CheckTicketStatus, CheckCounter, CheckLicence, CheckBindings, CheckRevoke} {
		m.duration.WithLabelValues(check)
		m.retries.WithLabelValues(check)
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{m.calls, m.duration, m.retries, m.breaker}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, &ConfigError{Field: "Registerer", Reason: "already has the cardplatform metrics (one Client per registry)", Err: err}
			}
			return nil, &ConfigError{Field: "Registerer", Reason: "cannot register the metrics", Err: err}
		}
	}
	return m, nil
}

func breakerStateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	default:
		return 0
	}
}
