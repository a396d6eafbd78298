package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const spMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://legacy.example.gov.cn/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://legacy.example.gov.cn/saml/slo"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://legacy.example.gov.cn/saml/acs" index="1"/>
  </md:SPSSODescriptor>
  <md:Organization><md:OrganizationName xml:lang="zh">旧系统</md:OrganizationName><md:OrganizationDisplayName xml:lang="zh">社保旧系统</md:OrganizationDisplayName><md:OrganizationURL xml:lang="zh">https://legacy.example.gov.cn/</md:OrganizationURL></md:Organization>
</md:EntityDescriptor>`

// cardsso sps add|list|show|delete against one data directory, with the
// exit codes and error lines of the CLI contract.
func TestSPsCommands(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, append(args, "--data-dir", dir)...)
	}
	good := writeFile(t, "sp.xml", spMetadata)
	evil := writeFile(t, "evil.xml", strings.Replace(spMetadata, "https://legacy.example.gov.cn/saml/acs", "javascript:alert(document.cookie)", 1))

	code, stdout, stderr := cli("sps", "add", "--metadata", good, "--attributes", "name,ssn_masked", "--min-acr", "urn:cardsso:loa:2", "--json")
	var info struct {
		ID         string   `json:"id"`
		EntityID   string   `json:"entity_id"`
		Name       string   `json:"name"`
		Attributes []string `json:"attributes"`
		NameID     string   `json:"nameid_format"`
		ACS        []string `json:"assertion_consumer_services"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &info) != nil {
		t.Fatalf("sps add --json = exit %d, %q, stderr %q", code, stdout, stderr)
	}
	if info.ID != "legacy.example.gov.cn" || info.Name != "社保旧系统" || info.NameID != "persistent" ||
		strings.Join(info.Attributes, ",") != "name,ssn_masked" || len(info.ACS) != 1 {
		t.Errorf("sps add = %+v", info)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // a prefix of stderr after "cardsso: "
	}{
		{"javascript ACS", []string{"sps", "add", "--metadata", evil, "--id", "evil"}, exitUsage, "--metadata: AssertionConsumerService[1] Location: scheme \"javascript\" is not accepted"},
		{"missing file", []string{"sps", "add", "--metadata", dir + "/nope.xml"}, exitUsage, "--metadata: " + dir + "/nope.xml: no such file"},
		{"no metadata", []string{"sps", "add"}, exitUsage, `required flag(s) "metadata" not set`},
		{"bad attribute", []string{"sps", "add", "--metadata", good, "--id", "x", "--attributes", "photo"}, exitUsage, `--attributes: unknown attribute "photo"`},
		{"bad nameid", []string{"sps", "add", "--metadata", good, "--id", "x", "--nameid", "email"}, exitUsage, `--nameid: "email" (want persistent or transient)`},
		{"duplicate", []string{"sps", "add", "--metadata", good, "--id", "again"}, exitFailure, `service provider with entity ID "https://legacy.example.gov.cn/saml" (registered as "legacy.example.gov.cn") is already registered`},
		{"show unknown", []string{"sps", "show", "nobody"}, exitFailure, `service provider "nobody" not found`},
		{"delete unknown", []string{"sps", "delete", "nobody"}, exitFailure, `service provider "nobody" not found`},
		{"bad use", []string{"keys", "list", "--use", "tls"}, exitUsage, `--use: unknown key use "tls"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, "cardsso: "+tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("cardsso %q = exit %d, stderr %q; want exit %d, one line starting %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}

	// By URL, from a local server.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.ReplaceAll(spMetadata, "legacy.example.gov.cn", "second.example.gov.cn")))
	}))
	defer srv.Close()
	if code, stdout, stderr := cli("sps", "add", "--metadata", srv.URL+"/md", "--nameid", "transient"); code != exitOK || !strings.Contains(stdout, `Registered service provider "second.example.gov.cn"`) {
		t.Errorf("sps add --metadata URL = exit %d, %q, stderr %q", code, stdout, stderr)
	}

	code, stdout, _ = cli("sps", "list")
	if code != exitOK || !strings.HasPrefix(stdout, "ID") || !strings.Contains(stdout, "legacy.example.gov.cn") || !strings.Contains(stdout, "transient") {
		t.Errorf("sps list = exit %d, %q", code, stdout)
	}
	code, stdout, _ = cli("sps", "show", "https://legacy.example.gov.cn/saml")
	if code != exitOK || !strings.Contains(stdout, "urn:cardsso:loa:2") || !strings.Contains(stdout, "https://legacy.example.gov.cn/saml/acs") {
		t.Errorf("sps show by entity ID = exit %d, %q", code, stdout)
	}
	if code, _, _ := cli("sps", "delete", "legacy.example.gov.cn"); code != exitOK {
		t.Errorf("sps delete = exit %d", code)
	}
	code, stdout, _ = cli("sps", "list", "--json")
	var list []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 1 {
		t.Errorf("sps list --json after delete = exit %d, %q; want one SP", code, stdout)
	}

	// keys: both uses by default, one with --use.
	if code, _, stderr := cli("keys", "rotate"); code != exitOK {
		t.Fatalf("keys rotate = exit %d, %q", code, stderr)
	}
	code, stdout, _ = cli("keys", "list")
	if code != exitOK || !strings.Contains(stdout, "USE") || !strings.Contains(stdout, "saml") || !strings.Contains(stdout, "RS256") {
		t.Errorf("keys list = exit %d, %q; want oidc and saml keys", code, stdout)
	}
	code, stdout, _ = cli("keys", "rotate", "--use", "saml", "--json")
	var keys []struct {
		Use   string `json:"use"`
		State string `json:"state"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &keys) != nil || len(keys) < 3 {
		t.Fatalf("keys rotate --use saml = exit %d, %q; want the SAML keys", code, stdout)
	}
	for _, k := range keys {
		if k.Use != "saml" {
			t.Errorf("keys rotate --use saml listed a %s key", k.Use)
		}
	}

	// clients create --backchannel-logout-uri is checked.
	code, _, stderr = cli("clients", "create", "--id", "p", "--redirect-uri", "https://p.example/cb", "--backchannel-logout-uri", "javascript:x")
	if code != exitUsage || !strings.HasPrefix(stderr, "cardsso: --backchannel-logout-uri: ") {
		t.Errorf("clients create with a javascript: backchannel URI = exit %d, %q", code, stderr)
	}
	code, stdout, _ = cli("clients", "create", "--id", "p", "--redirect-uri", "https://p.example/cb", "--backchannel-logout-uri", "https://p.example/bc", "--json")
	if code != exitOK || !strings.Contains(stdout, `"backchannel_logout_uri": "https://p.example/bc"`) {
		t.Errorf("clients create --backchannel-logout-uri = exit %d, %q", code, stdout)
	}
}
