package idp_test

import (
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkOversizedPosts: 24 parallel posts of 20 MB each, without a
// Content-Length (the case a cap by length cannot refuse at once), to
// pages and protocol endpoints alike. The server must read at most its
// caps of each, so the heap stays flat; the figure (peak heap growth over
// the idle node) is in docs/performance.md (issue #18 §2):
//
//	go test ./idp -run '^$' -bench OversizedPosts -benchtime 5x
func BenchmarkOversizedPosts(b *testing.B) {
	n := startBenchNode(b)
	const parallel, size = 24, 20 << 20
	paths := []string{"/logout", "/login/password", "/oauth/token", "/saml/sso", "/account/card", "/login/face/photo"}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: parallel, DisableKeepAlives: true}}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			for {
				p := peak.Load()
				if m.HeapInuse <= p || peak.CompareAndSwap(p, m.HeapInuse) {
					break
				}
			}
		}
	}()
	var refused atomic.Int64
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, n.issuer+paths[i%len(paths)], io.LimitReader(zeros{}, size))
				req.ContentLength = -1
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := client.Do(req)
				if err != nil {
					refused.Add(1) // the server closed the connection at its cap
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					b.Errorf("%s: %d", req.URL.Path, resp.StatusCode)
				}
				refused.Add(1)
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	<-sampled
	growth := float64(int64(peak.Load())-int64(base.HeapInuse)) / (1 << 20)
	b.ReportMetric(growth, "peak-heap-growth-MB")
	b.ReportMetric(float64(parallel*size)/(1<<20), "posted-MB/op")
}
