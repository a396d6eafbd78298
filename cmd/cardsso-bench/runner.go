package main

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A Worker runs one iteration of a workload per Do. Its state (a browser's
// cookie jar, a refresh token chain) is its own: Do is never called
// concurrently on one Worker.
type Worker interface {
	Do(ctx context.Context) error
}

// phases of a run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// Result is one run of one workload.
type Result struct {
	Iterations int64         `json:"iterations"`
	Requests   int64         `json:"http_requests"`
	Errors     int64         `json:"errors"`
	Duration   time.Duration `json:"duration_ns"`
	RPS        float64       `json:"rps"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	// RSSBeforeKiB is the server's VmRSS before the warm-up, RSSMaxKiB the
	// largest sample during the measured part; 0 without --pid.
	RSSBeforeKiB int64 `json:"rss_before_kib,omitempty"`
	RSSMaxKiB    int64 `json:"rss_max_kib,omitempty"`
	// ServerCPU is the CPU time (user + system) the server process used
	// during the measured part, and ServerCPUPerIter that divided by the
	// iterations: what an iteration costs the server, whatever else runs on
	// the machine. 0 without --pid.
	ServerCPU        time.Duration `json:"server_cpu_ns,omitempty"`
	ServerCPUPerIter time.Duration `json:"server_cpu_per_iteration_ns,omitempty"`
	// GenCPU is the CPU time (user + system, getrusage RUSAGE_SELF) the
	// generator itself used during the measured part, and GenCPUPerIter
	// that divided by the iterations: what driving an iteration costs the
	// generator. On one host it is CPU the server did not get.
	GenCPU        time.Duration `json:"gen_cpu_ns,omitempty"`
	GenCPUPerIter time.Duration `json:"gen_cpu_per_iteration_ns,omitempty"`
	// ErrorSamples are the first distinct error messages.
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Soak holds the samples of a soak run (--soak-every): what the
	// database and the server weigh as the run goes on.
	Soak []SoakSample `json:"soak,omitempty"`
}

// SoakSample is one reading of a soak run, at Elapsed into the measured
// part: the iterations done so far, the size of the database files
// (--db-file and its -wal), the server's RSS (--pid).
type SoakSample struct {
	Elapsed    time.Duration `json:"elapsed_ns"`
	Iterations int64         `json:"iterations"`
	DBBytes    int64         `json:"db_bytes,omitempty"`
	RSSKiB     int64         `json:"rss_kib,omitempty"`
}

// soak says how to sample a run; zero Every: no sampling.
type soak struct {
	Every  time.Duration
	DBFile string
}

// dbBytes is the size of a SQLite database file with its WAL (0 when none
// was named or it cannot be read).
func dbBytes(path string) int64 {
	if path == "" {
		return 0
	}
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// errorLog keeps a count and a few distinct messages.
type errorLog struct {
	mu      sync.Mutex
	n       atomic.Int64
	samples []string
}

const maxErrorSamples = 5

func (e *errorLog) add(err error) {
	e.n.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	msg := err.Error()
	if len(e.samples) < maxErrorSamples && !slices.Contains(e.samples, msg) {
		e.samples = append(e.samples, msg)
	}
}

// run drives workers for warmup and then for d, and returns what the
// measured part saw. An iteration counts when it started and ended within the
// measured window; errors count in the same window.
func run(ctx context.Context, workers []Worker, warmup, d time.Duration, pid int, reqs *atomic.Int64, sk soak) Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var res Result
	if pid > 0 {
		res.RSSBeforeKiB, _ = rssKiB(pid)
	}
	var win window
	errs := &errorLog{}
	lat := make([][]time.Duration, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { lat[i] = win.drive(ctx, w, errs) })
	}

	sleepCtx(ctx, warmup)
	start := win.open()
	reqsStart := reqs.Load()
	cpu := markCPU(pid)
	stopRSS := watchRSS(pid)
	stopSoak := startSoak(sk, pid, start, &win.iterations)
	sleepCtx(ctx, d)
	res.Soak = stopSoak()
	end := win.close()
	res.Requests = reqs.Load() - reqsStart
	cpu.measure(pid, &res)
	res.RSSMaxKiB = stopRSS()
	drain(&wg, cancel)
	res.tally(lat, end.Sub(start), errs)
	return res
}

// window is the measured part of a run, which its workers share: the
// phase the run is in and, as Unix nanoseconds, when the measured part
// started and ended (0 until then).
type window struct {
	phase      atomic.Int32
	start, end atomic.Int64
	iterations atomic.Int64 // measured iterations so far, for soak samples
}

// open ends the warm-up and starts the measured part; it returns when.
func (m *window) open() time.Time {
	start := time.Now()
	m.start.Store(start.UnixNano())
	m.phase.Store(phaseMeasure)
	return start
}

// close ends the measured part and tells the workers to stop; it returns when.
func (m *window) close() time.Time {
	end := time.Now()
	m.end.Store(end.UnixNano())
	m.phase.Store(phaseStop)
	return end
}

// drive runs w until the run stops and returns the latencies of its
// iterations that started and ended within the window; errors in the
// window go to errs (unless the run was cut off).
func (m *window) drive(ctx context.Context, w Worker, errs *errorLog) []time.Duration {
	samples := make([]time.Duration, 0, 4096)
	for {
		p := m.phase.Load()
		if p == phaseStop {
			return samples
		}
		start := time.Now()
		err := w.Do(ctx)
		end := time.Now()
		if p != phaseMeasure {
			continue
		}
		if end.UnixNano() > m.end.Load() && m.end.Load() != 0 {
			continue // finished after the window
		}
		if start.UnixNano() < m.start.Load() {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				errs.add(err)
			}
			continue
		}
		samples = append(samples, end.Sub(start))
		m.iterations.Add(1)
	}
}

// watchRSS samples the VmRSS of pid every 100 ms (nothing when pid is not
// positive); stop ends the sampling and returns the largest value seen.
func watchRSS(pid int) (stop func() int64) {
	var rssMax atomic.Int64
	stopc := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if pid <= 0 {
			return
		}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssKiB(pid); err == nil && v > rssMax.Load() {
				rssMax.Store(v)
			}
			select {
			case <-stopc:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stopc)
		<-done
		return rssMax.Load()
	}
}

// startSoak takes a soak sample now and every sk.Every (nothing when it is
// not positive), with the elapsed time since start and the iterations
// counted so far; stop takes a last one and returns them all.
func startSoak(sk soak, pid int, start time.Time, iterations *atomic.Int64) (stop func() []SoakSample) {
	var samples []SoakSample
	stopc := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if sk.Every <= 0 {
			return
		}
		t := time.NewTicker(sk.Every)
		defer t.Stop()
		sample := func() {
			s := SoakSample{Elapsed: time.Since(start).Round(time.Second), Iterations: iterations.Load(), DBBytes: dbBytes(sk.DBFile)}
			if pid > 0 {
				s.RSSKiB, _ = rssKiB(pid)
			}
			samples = append(samples, s)
		}
		sample()
		for {
			select {
			case <-stopc:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() []SoakSample {
		close(stopc)
		<-done
		return samples
	}
}

// cpuMark is the CPU time the server (pid) and the generator had used at
// the start of the measured part.
type cpuMark struct {
	server, gen time.Duration
	genErr      error
}

func markCPU(pid int) cpuMark {
	var m cpuMark
	m.server, _ = cpuTime(pid)
	m.gen, m.genErr = selfCPUTime()
	return m
}

// measure sets res.ServerCPU (with a pid) and res.GenCPU to the CPU time
// used since m, when it can be read.
func (m cpuMark) measure(pid int, res *Result) {
	if cpuEnd, err := cpuTime(pid); err == nil && pid > 0 {
		res.ServerCPU = cpuEnd - m.server
	}
	if genEnd, err := selfCPUTime(); err == nil && m.genErr == nil {
		res.GenCPU = genEnd - m.gen
	}
}

// drain waits for the iterations still in flight to end on their own; a
// stuck server is cut off (cancel) after a grace period.
func drain(wg *sync.WaitGroup, cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cancel()
		<-done
	}
}

// tally fills in res from the latencies of the workers' measured
// iterations, the errors and the length of the measured part, d.
func (res *Result) tally(lat [][]time.Duration, d time.Duration, errs *errorLog) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res.Duration = d
	res.Iterations = int64(len(all))
	res.Errors = errs.n.Load()
	res.ErrorSamples = errs.samples
	res.RPS = float64(len(all)) / res.Duration.Seconds()
	res.P50, res.P90, res.P99 = quantile(all, 0.50), quantile(all, 0.90), quantile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	if res.Iterations > 0 {
		res.ServerCPUPerIter = res.ServerCPU / time.Duration(res.Iterations)
		res.GenCPUPerIter = res.GenCPU / time.Duration(res.Iterations)
	}
}

// quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Summary is the median of several runs of one workload.
type Summary struct {
	Target   string   `json:"target,omitempty"`
	Workload string   `json:"workload"`
	Workers  int      `json:"workers"`
	Runs     []Result `json:"runs"`
	// Medians over the runs (each figure on its own); errors are summed and
	// RSS is the largest of the runs.
	RPS          float64       `json:"rps"`
	P50          time.Duration `json:"p50_ns"`
	P90          time.Duration `json:"p90_ns"`
	P99          time.Duration `json:"p99_ns"`
	Errors       int64         `json:"errors"`
	RSSBeforeKiB int64         `json:"rss_before_kib,omitempty"`
	RSSMaxKiB    int64         `json:"rss_max_kib,omitempty"`
	// ServerCPUPerIter is the median of the runs' server CPU per iteration.
	ServerCPUPerIter time.Duration `json:"server_cpu_per_iteration_ns,omitempty"`
	// GenCPUPerIter is the median of the runs' generator CPU per iteration.
	GenCPUPerIter time.Duration `json:"gen_cpu_per_iteration_ns,omitempty"`
	// RequestsPerIteration is how many HTTP requests one iteration made on
	// average (a code flow is several).
	RequestsPerIteration float64 `json:"requests_per_iteration"`
	// Notes say what the numbers depend on (argon2id parameters, …).
	Notes []string `json:"notes,omitempty"`
}

func summarize(target, workload string, workers int, runs []Result) Summary {
	s := Summary{Target: target, Workload: workload, Workers: workers, Runs: runs}
	med := func(get func(Result) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	s.RPS = med(func(r Result) float64 { return r.RPS })
	s.P50 = time.Duration(med(func(r Result) float64 { return float64(r.P50) }))
	s.P90 = time.Duration(med(func(r Result) float64 { return float64(r.P90) }))
	s.P99 = time.Duration(med(func(r Result) float64 { return float64(r.P99) }))
	s.ServerCPUPerIter = time.Duration(med(func(r Result) float64 { return float64(r.ServerCPUPerIter) }))
	s.GenCPUPerIter = time.Duration(med(func(r Result) float64 { return float64(r.GenCPUPerIter) }))
	var iters, reqs int64
	for i, r := range runs {
		iters += r.Iterations
		reqs += r.Requests
		s.Errors += r.Errors
		s.RSSMaxKiB = max(s.RSSMaxKiB, r.RSSMaxKiB)
		if i == 0 {
			s.RSSBeforeKiB = r.RSSBeforeKiB
		}
	}
	if iters > 0 {
		s.RequestsPerIteration = float64(reqs) / float64(iters)
	}
	return s
}
