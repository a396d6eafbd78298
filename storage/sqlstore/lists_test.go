package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// encodeList writes what encoding/json writes, and decodeList reads both
// its own output and any JSON list of strings.
func TestLists(t *testing.T) {
	lists := [][]string{
		nil, {}, {""}, {"openid"}, {"openid", "profile", "offline_access"},
		{"a,b"}, {`quo"te`}, {`back\slash`}, {"<html>&"}, {"张三", "tab\there"}, {"a", "", "b"},
		{`","`}, {"\u2028"},
	}
	for _, l := range lists {
		want, _ := json.Marshal(l)
		got := encodeList(l)
		if got != string(want) {
			t.Errorf("encodeList(%q) = %s; want %s", l, got, want)
		}
		back, err := decodeList(got)
		if err != nil || !reflect.DeepEqual(back, l) || (back == nil) != (l == nil) {
			t.Errorf("decodeList(%s) = %q, %v; want %q", got, back, err, l)
		}
	}
	for _, text := range []string{`[ "a" , "b" ]`, `["a","b\"c"]`, `["\u0041"]`} {
		var want []string
		_ = json.Unmarshal([]byte(text), &want)
		got, err := decodeList(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeList(%s) = %q, %v; want %q", text, got, err, want)
		}
	}
	for _, bad := range []string{`["a"`, `[a]`, `{"a":1}`, `["a",]`} {
		if got, err := decodeList(bad); err == nil {
			t.Errorf("decodeList(%s) = %q; want an error", bad, got)
		}
	}
}
