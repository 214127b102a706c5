package shape

import (
	"encoding/json"
	"testing"
)

// FuzzSplit: for any JSON object, Split does not fail, its outputs are
// JSON objects, and when it returns no Full the main object alone is the
// record (keys merged the way encoding/json merges them: the last wins).
func FuzzSplit(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1,"a":"x"}`, `{"n":1e400,"s":"\u0000","k.k":[1,"a"]}`,
		`{"d":{"d":{"d":[[[{"x":"\ud800"}]]]}}}`, `{"":{"":null},"t\tab":true}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var obj map[string]any
		if json.Unmarshal(doc, &obj) != nil || obj == nil {
			return
		}
		for _, rules := range []Rules{CrateDB, CrateDBIgnored, PostgreSQL} {
			for _, mode := range []Mode{Fit, KnownOnly, AuxOnly} {
				res, err := rules.Split(doc, &Columns{}, mode)
				if err != nil {
					t.Fatalf("%s: %v", doc, err)
				}
				for _, out := range [][]byte{res.Main, res.Aux, res.Full} {
					if out != nil && !json.Valid(out) {
						t.Fatalf("%s gave invalid JSON %s", doc, out)
					}
				}
				if res.Full == nil {
					var got map[string]any
					if err := json.Unmarshal(res.Main, &got); err != nil || !equalJSON(got, obj) {
						t.Fatalf("%s: main %s is not the record", doc, res.Main)
					}
				}
			}
		}
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
