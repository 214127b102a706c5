package cdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Metadata sources, as the settings spell them.
const (
	MetaPartitionKey      = "$partitionKey"
	MetaArrival           = "$arrival"
	MetaShardID           = "$shardId"
	MetaSequenceNumber    = "$sequenceNumber"
	MetaSubSequenceNumber = "$subSequenceNumber"
)

// Source is where a column's value comes from: a JSON pointer into the
// record (Path) or one of the record's metadata fields (Meta).
type Source struct {
	Path []string // the pointer's reference tokens; nil for metadata
	Meta string   // MetaPartitionKey, …
}

// Rule is a delete rule: a record whose value at Path equals Value (as
// JSON, strings compared after unescaping) is a tombstone for its key.
type Rule struct {
	Path  []string
	Value json.RawMessage
}

// members indexes a record's top-level members once (the last of
// duplicate names wins, as in encoding/json): every path starts there.
func members(doc []byte) (map[string][]byte, error) {
	top := map[string][]byte{}
	err := eachMember(doc, func(k, v []byte) error {
		name, err := unquote(k)
		top[name] = v
		return err
	})
	return top, err
}

// lookup finds the source's value: raw JSON for a path, JSON text for
// metadata. found is false when the path does not exist.
func (s Source) lookup(top map[string][]byte, src record.Source) (raw []byte, found bool) {
	switch s.Meta {
	case "":
		v, ok := top[s.Path[0]]
		if !ok {
			return nil, false
		}
		return pointer(v, s.Path[1:])
	case MetaPartitionKey:
		return jsonString(src.PartitionKey), true
	case MetaShardID:
		return jsonString(src.ShardID), true
	case MetaSequenceNumber:
		return jsonString(src.SequenceNumber), true
	case MetaSubSequenceNumber:
		return []byte(strconv.FormatInt(src.SubSequenceNumber, 10)), true
	case MetaArrival:
		if src.ArrivedAt.IsZero() {
			return []byte("null"), true
		}
		return jsonString(src.ArrivedAt.UTC().Format(time.RFC3339Nano)), true
	}
	return nil, false
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// String spells the source as the settings do.
func (s Source) String() string {
	if s.Meta != "" {
		return s.Meta
	}
	var b strings.Builder
	for _, tok := range s.Path {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// pointer resolves an RFC 6901 JSON pointer in doc.
func pointer(doc []byte, path []string) ([]byte, bool) {
	cur := doc
	for _, tok := range path {
		var next []byte
		found := false
		switch {
		case len(cur) > 0 && cur[0] == '{':
			_ = eachMember(cur, func(k, v []byte) error {
				if name, err := unquote(k); err == nil && name == tok {
					next, found = v, true // the last of duplicate names wins, as in encoding/json
				}
				return nil
			})
		case len(cur) > 0 && cur[0] == '[':
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 {
				return nil, false
			}
			var elems []json.RawMessage
			if json.Unmarshal(cur, &elems) != nil || i >= len(elems) {
				return nil, false
			}
			next, found = elems[i], true
		}
		if !found {
			return nil, false
		}
		cur = bytes.TrimSpace(next)
	}
	return cur, true
}

// ParsePointer reads a JSON pointer ("/a/b~1c").
func ParsePointer(s string) ([]string, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q is not a JSON pointer (want /member/…)", s)
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// matches reports whether doc's value at the rule's path equals its value.
func (r *Rule) matches(top map[string][]byte) bool {
	raw, found := (Source{Path: r.Path}).lookup(top, record.Source{})
	if !found {
		return false
	}
	return sameJSON(raw, r.Value)
}

// sameJSON compares two JSON scalars: strings by their unescaped text,
// numbers by their exact value, literals as written.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	if a[0] == '"' || b[0] == '"' {
		sa, err1 := unquote(a)
		sb, err2 := unquote(b)
		return err1 == nil && err2 == nil && sa == sb
	}
	na, ok1 := ParseNumber(string(a))
	nb, ok2 := ParseNumber(string(b))
	if ok1 && ok2 {
		return na.Text == nb.Text
	}
	return string(a) == string(b)
}
