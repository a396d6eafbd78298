package idp

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics, in a registry of its own (no
// global state: several servers may run in one process, as tests do).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	checks   *prometheus.CounterVec

	// byRequest caches the counter and histogram of each (route, method,
	// code): WithLabelValues hashes the labels and takes a lock on every
	// call, on every request.
	byRequest sync.Map // requestLabels → requestMetrics
}

type requestLabels struct {
	route, method string
	code          int
}

type requestMetrics struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// knownMethods are the methods counted by name; others count as OTHER, so
// made-up methods cannot grow the label set without bound.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// observe counts a request and records its latency.
func (m *metrics) observe(route, method string, code int, d time.Duration) {
	if known, ok := knownMethods[method]; ok {
		method = known
	} else {
		method = "OTHER"
	}
	key := requestLabels{route, method, code}
	v, ok := m.byRequest.Load(key)
	if !ok {
		v, _ = m.byRequest.LoadOrStore(key, requestMetrics{
			count:   m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
			latency: m.latency.WithLabelValues(route),
		})
	}
	rm := v.(requestMetrics)
	rm.count.Inc()
	rm.latency.Observe(d.Seconds())
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardsso_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cardsso_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardsso_logins_total",
			Help: "Login attempts by method (password, register, sso, form) and outcome.",
		}, []string{"method", "outcome"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardsso_checks_total",
			Help: "Identity checks at the card service platform by check and outcome.",
		}, []string{"check", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.logins, m.checks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Login implements login.Observer.
func (m *metrics) Login(method, outcome string) { m.logins.WithLabelValues(method, outcome).Inc() }

// Check implements login.Observer.
func (m *metrics) Check(check, outcome string) { m.checks.WithLabelValues(check, outcome).Inc() }
