package pgtest

import (
	"encoding/json"
	"slices"
	"strings"
)

// MergeDataAux renders each CDC row (jsonb text with pk, data and aux, as
// LiveRows and CanonicalJSON give them) as pk and one item holding data's
// and aux's attributes, sorted. On CrateDB the order in which changes
// arrive decides which value makes a sub-column and so which attributes
// land in aux (processor/cdc/README.md, "Type conflicts"); merged, rows
// compare whatever that order was. An attribute in both keeps both, under
// "data:" and "aux:", so that it differs.
func MergeDataAux(rows []string) []string {
	var out []string
	for _, r := range rows {
		dec := json.NewDecoder(strings.NewReader(r))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			out = append(out, r)
			continue
		}
		data, _ := row["data"].(map[string]any)
		aux, _ := row["aux"].(map[string]any)
		item := map[string]any{}
		for k, v := range data {
			item[k] = v
		}
		for k, v := range aux {
			if d, dup := item[k]; dup {
				delete(item, k)
				item["data:"+k], item["aux:"+k] = d, v
				continue
			}
			item[k] = v
		}
		out = append(out, JSONBText(map[string]any{"pk": row["pk"], "item": item}))
	}
	slices.Sort(out)
	return out
}
