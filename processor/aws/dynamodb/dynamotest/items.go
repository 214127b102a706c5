package dynamotest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Item is a generated DynamoDB item with mixed types, and the row the sink
// must make of it, written by hand here rather than by the product's
// decoder: Want is {"pk": {...}, "data": {...}, "aux": {}} with every
// attribute in data (compare it merged with the stored data and aux, see
// pgtest.MergeDataAux), big numbers as their exact decimal text.
type Item struct {
	ID    string
	Rev   int64
	Attrs json.RawMessage // attribute-value JSON, key attributes included
	Want  json.RawMessage
}

// Key is the item's key in attribute-value JSON ({"id":…,"rev":…}).
func (it Item) Key() json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":{"S":%q},"rev":{"N":"%d"}}`, it.ID, it.Rev))
}

// GenItem makes an item of table (id:S, rev:N) with random attributes: every
// DynamoDB type, numbers of every storage rule, an attribute ("v") whose
// type changes from item to item, nested maps and lists, a dotted map key,
// mixed lists.
func GenItem(r *rand.Rand, id string, rev int64) Item {
	attrs := map[string]string{} // name → attribute-value JSON
	want := map[string]string{}  // name → stored JSON
	set := func(name, attr, stored string) { attrs[name], want[name] = attr, stored }
	n := numbers[r.IntN(len(numbers))]
	set("num", fmt.Sprintf(`{"N":%q}`, n.lit), n.want)
	s := strs[r.IntN(len(strs))]
	set("name", fmt.Sprintf(`{"S":%s}`, jsonString(s)), jsonString(s))
	switch r.IntN(4) { // the same attribute, another type
	case 0:
		v := numbers[r.IntN(len(numbers))]
		set("v", fmt.Sprintf(`{"N":%q}`, v.lit), v.want)
	case 1:
		set("v", `{"S":"text"}`, `"text"`)
	case 2:
		set("v", `{"M":{"w":{"N":"10"},"h":{"BOOL":true}}}`, `{"w":10,"h":true}`)
	default:
		set("v", `{"L":[{"N":"1"},{"N":"2.5"}]}`, `[1,2.5]`)
	}
	if r.IntN(2) == 0 {
		set("flag", `{"BOOL":false}`, `false`)
		set("none", `{"NULL":true}`, `null`)
	}
	if r.IntN(2) == 0 {
		raw := make([]byte, 1+r.IntN(24))
		for i := range raw {
			raw[i] = byte(r.IntN(256))
		}
		b := base64.StdEncoding.EncodeToString(raw)
		set("blob", fmt.Sprintf(`{"B":%q}`, b), fmt.Sprintf("%q", b))
		set("blobs", fmt.Sprintf(`{"BS":[%q]}`, b), fmt.Sprintf("[%q]", b))
	}
	if r.IntN(2) == 0 {
		set("tags", `{"SS":["a","b c"]}`, `["a","b c"]`)
		set("sizes", `{"NS":["1","2.5","-3"]}`, `[1,2.5,-3]`)
	}
	if r.IntN(3) == 0 {
		deep := numbers[r.IntN(len(numbers))]
		set("meta", fmt.Sprintf(`{"M":{"dims":{"M":{"d":{"N":%q},"unit":{"S":"cm"}}},"a.b":{"S":"dotted"},"list":{"L":[{"M":{"k":{"S":"x"}}},{"M":{"k":{"S":"y"}}}]},"empty":{"L":[]}}}`, deep.lit),
			fmt.Sprintf(`{"dims":{"d":%s,"unit":"cm"},"a.b":"dotted","list":[{"k":"x"},{"k":"y"}],"empty":[]}`, deep.want))
	}
	if r.IntN(4) == 0 {
		set("mixed", `{"L":[{"N":"1"},{"S":"one"},{"BOOL":true}]}`, `[1,"one",true]`)
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	var a, w strings.Builder
	fmt.Fprintf(&a, `{"id":{"S":%q},"rev":{"N":"%d"}`, id, rev)
	for _, name := range names {
		fmt.Fprintf(&a, `,%q:%s`, name, attrs[name])
		if w.Len() > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(&w, `%q:%s`, name, want[name])
	}
	a.WriteByte('}')
	return Item{ID: id, Rev: rev, Attrs: json.RawMessage(a.String()),
		Want: json.RawMessage(fmt.Sprintf(`{"pk":{"id":%q,"rev":%d},"data":{%s},"aux":{}}`, id, rev, w.String()))}
}

// numbers are DynamoDB number literals and how the sink stores them
// (processor/cdc/README.md, "Numbers"): integers within int64 as integers,
// decimals a double holds exactly as doubles, anything else as its exact
// decimal text.
var numbers = []struct{ lit, want string }{
	{"0", "0"}, {"7", "7"}, {"-42", "-42"}, {"100.0", "100"}, {"1E+2", "100"},
	{"12.5", "12.5"}, {"0.1", "0.1"}, {"-3.75", "-3.75"}, {"1E+20", "1e+20"},
	{"9223372036854775807", "9223372036854775807"}, {"-9223372036854775808", "-9223372036854775808"},
	{"9223372036854775808", `"9223372036854775808"`},
	{"123456789012345678901234567890", `"123456789012345678901234567890"`},
	{"3.1415926535897932384626433832795028841", `"3.1415926535897932384626433832795028841"`},
}

var strs = []string{"", "plain", "naïve ☃ 🦀", `quote " and \ backslash`, "line\nbreak\ttab", "x.y[0]"}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
