package idp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/internal/testlog"

	"golang.org/x/net/html"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
)

// node is a CardSSO server started in-process on 127.0.0.1:0.
type node struct {
	srv    *idp.Server
	cfg    idp.Config
	deps   nodeDeps // the store and connector it runs on
	issuer string
	addr   string // where this node listens (the issuer may be a balancer)
	logs   *testlog.Buffer
}

// startNode starts a node on the embedded defaults in a temporary data
// directory and stops it when the test ends.
func startNode(t *testing.T, mutate ...func(*idp.Config)) *node {
	t.Helper()
	return startNodeWith(t, nodeDeps{}, mutate...)
}

// startNodeWith starts a node like startNode, on the store and connector of d.
func startNodeWith(t *testing.T, d nodeDeps, mutate ...func(*idp.Config)) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	cfg := idp.Config{
		Issuer:  "http://" + ln.Addr().String(),
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := newServer(ctx, cfg, d)
	if err != nil {
		cancel()
		t.Fatalf("idp.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &node{srv: srv, cfg: cfg, deps: d, issuer: cfg.Issuer, addr: ln.Addr().String(), logs: logs}
}

// admin opens the administrator's side on the node's database, as the CLI does.
func (n *node) admin(t *testing.T) *admin.Admin {
	t.Helper()
	a, err := openAdmin(context.Background(), n.cfg, n.deps)
	if err != nil {
		t.Fatalf("OpenAdmin: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// seeder opens benchmark seeding on the node's database, as `cardsso seed` does.
func (n *node) seeder(t *testing.T) *benchseed.Seeder {
	t.Helper()
	sd, err := openSeeder(context.Background(), n.cfg, n.deps)
	if err != nil {
		t.Fatalf("OpenSeeder: %v", err)
	}
	t.Cleanup(func() { _ = sd.Close() })
	return sd
}

// browser is a cookie-keeping HTTP client that follows redirects until one
// leaves for a URL with the stop prefix (a relying party's redirect URI).
type browser struct {
	t      *testing.T
	c      *http.Client
	stopAt []string
}

func newBrowser(t *testing.T, stopAt ...string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, stopAt: stopAt}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		for _, p := range b.stopAt {
			if strings.HasPrefix(req.URL.String(), p) {
				return http.ErrUseLastResponse
			}
		}
		if len(via) > 20 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// page is a fetched response with its body.
type page struct {
	status   int
	location string
	url      *url.URL
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept-Language", "en")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), url: resp.Request.URL, body: string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form is an HTML form parsed from a page.
type form struct {
	action string
	fields url.Values
	labels map[string]bool // ids that have a <label for>
	ids    map[string]string
}

// forms parses every form of a page with its inputs (hidden values kept).
func forms(t *testing.T, body string) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	var out []form
	var cur *form
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				out = append(out, form{action: attr["action"], fields: url.Values{}, ids: map[string]string{}})
				cur = &out[len(out)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "label":
				labels[attr["for"]] = true
			case "input":
				if cur != nil && attr["name"] != "" {
					cur.fields.Set(attr["name"], attr["value"])
					if attr["type"] != "hidden" {
						cur.ids[attr["name"]] = attr["id"]
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for i := range out {
		out[i].labels = labels
	}
	return out
}

// formFor returns the page's form posting to action.
func formFor(t *testing.T, p page, action string) form {
	t.Helper()
	for _, f := range forms(t, p.body) {
		if f.action == action {
			for name, id := range f.ids {
				if id == "" || !f.labels[id] {
					t.Errorf("form %s: input %q has no <label for>", action, name)
				}
			}
			if f.fields.Get("csrf_token") == "" {
				t.Errorf("form %s has no CSRF token", action)
			}
			return f
		}
	}
	t.Fatalf("no form posting to %s on page %s (status %d):\n%s", action, p.url, p.status, p.body)
	return form{}
}

// submit fills a form and posts it.
func (b *browser) submit(base string, f form, values map[string]string) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	return b.post(base+f.action, v)
}

// submitFile posts a multipart form with one file, as a browser does for
// <input type=file>.
func (b *browser) submitFile(base string, f form, values map[string]string, field, filename string, data []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	for k, vs := range v {
		if k == field {
			continue
		}
		for _, val := range vs {
			_ = mw.WriteField(k, val)
		}
	}
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, base+f.action, &buf)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}
