package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Encoding of values the databases do not share a type for.

// zeroMillis is the zero time.Time in unix milliseconds: a zero time is stored
// as it is (it sorts before every real time, so a zero ExpiresAt has expired)
// and read back as the zero time.
var zeroMillis = time.Time{}.UnixMilli()

// millis is t in unix milliseconds, rounded down.
func millis(t time.Time) int64 {
	return t.Truncate(time.Millisecond).UnixMilli()
}

// fromMillis is the UTC time at ms unix milliseconds.
func fromMillis(ms int64) time.Time {
	if ms == zeroMillis {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// millisPtr stores an optional time; nil is NULL.
func millisPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := millis(*t)
	return &ms
}

func fromMillisPtr(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := fromMillis(*ms)
	return &t
}

// encodeList stores a string list as JSON; nil stays apart from empty ("null"
// and "[]"). Lists of plain strings (scopes, client ids, amr values) are
// written directly, byte for byte what encoding/json writes; anything
// json.Marshal would escape goes through it.
func encodeList(l []string) string {
	if l == nil {
		return "null"
	}
	n := 2
	for _, v := range l {
		if !plainJSON(v) {
			b, _ := json.Marshal(l) // a []string always marshals
			return string(b)
		}
		n += len(v) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(v)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plainJSON reports whether v needs no escaping in a JSON string as
// encoding/json writes it (printable ASCII other than " \ < > &).
func plainJSON(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// decodeList reads what encodeList wrote. Lists of strings without escapes
// are split directly; anything else goes through encoding/json.
func decodeList(text string) ([]string, error) {
	switch text {
	case "null":
		return nil, nil
	case "[]":
		return []string{}, nil
	}
	if len(text) >= 4 && text[0] == '[' && text[len(text)-1] == ']' && !strings.ContainsRune(text, '\\') {
		inner := text[1 : len(text)-1]
		out := make([]string, 0, strings.Count(inner, `","`)+1)
		ok := true
		for part := range strings.SplitSeq(inner, ",") {
			if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' || strings.ContainsRune(part[1:len(part)-1], '"') {
				ok = false
				break
			}
			out = append(out, part[1:len(part)-1])
		}
		if ok {
			return out, nil
		}
	}
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, err
	}
	return l, nil
}

// listColumn is a JSON list column to decode into dst.
type listColumn struct {
	name string
	text string
	dst  *[]string
}

func decodeLists(cols ...listColumn) error {
	for _, c := range cols {
		l, err := decodeList(c.text)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
		*c.dst = l
	}
	return nil
}

// uniqueBytes is a value for a nullable unique BLOB column: empty is NULL, so
// rows without a value do not collide.
func uniqueBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
