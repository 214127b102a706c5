package pgtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rows are compared as text in PostgreSQL's jsonb output: keys sorted (by
// length, then bytes) and unique, ", " and ": " between items, numbers as
// numeric prints them (1 and 1.0 differ). PostgreSQL renders both sides
// itself; CrateDB has no jsonb, so there the rows and the expectations are
// rendered here in the same form, with one difference: CrateDB keeps a
// number in a typed sub-column (BIGINT, DOUBLE) and prints a double its own
// way (50.0, 1.0E-7), so on CrateDB numbers are compared by exact value
// (50 = 50.0, but 0.1000000000000000055 is not 0.1, nor 2^63 a double).

// Querier is a *pgx.Conn or a *pgxpool.Pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CanonicalJSON renders expected rows (JSON documents) as jsonb text, sorted.
func CanonicalJSON(ctx context.Context, conn Querier, db DB, want []json.RawMessage) ([]string, error) {
	var out []string
	for _, r := range want {
		var s string
		if db.Crate() {
			v, err := decodeNumbers(r)
			if err != nil {
				return nil, fmt.Errorf("expected row %s: %w", r, err)
			}
			s = JSONBText(exactNumbers(v))
		} else if err := conn.QueryRow(ctx, `SELECT $1::jsonb::text`, string(r)).Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// LiveRows returns every row of view (a table or view) as jsonb text of
// the row object, sorted. PostgreSQL renders with to_jsonb; on CrateDB the
// columns are read and rendered here, object columns from their JSON text
// so that numbers keep their digits.
func LiveRows(ctx context.Context, conn Querier, db DB, view string) ([]string, error) {
	if !db.Crate() {
		rows, err := conn.Query(ctx, `SELECT to_jsonb(v)::text FROM `+view+` v`)
		if err != nil {
			return nil, err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		slices.Sort(got)
		return got, err
	}
	rows, err := conn.Query(ctx, `SELECT * FROM `+view)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		raw := rows.RawValues()
		obj := map[string]any{}
		for i, f := range rows.FieldDescriptions() {
			v := vals[i]
			if (f.DataTypeOID == 114 || f.DataTypeOID == 3802) && raw[i] != nil {
				b := raw[i]
				if f.DataTypeOID == 3802 && f.Format == 1 && len(b) > 0 && b[0] == 1 {
					b = b[1:]
				}
				if v, err = decodeNumbers(b); err != nil {
					return nil, fmt.Errorf("column %s: %w", f.Name, err)
				}
			} else if f.DataTypeOID == 1114 {
				if ts, ok := v.(time.Time); ok {
					v = localTime(ts)
				}
			}
			obj[f.Name] = v
		}
		got = append(got, JSONBText(exactNumbers(obj)))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(got)
	return got, nil
}

// exactNumbers replaces every number in v by its exact value in one
// spelling: an integer without a fraction, otherwise the shortest exact
// decimal. A double read from a typed column counts as CrateDB prints it
// (the shortest text that reads back as the same double).
func exactNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return json.Number(exactDecimal(string(x)))
	case float64:
		return json.Number(exactDecimal(strconv.FormatFloat(x, 'g', -1, 64)))
	case float32:
		return json.Number(exactDecimal(strconv.FormatFloat(float64(x), 'g', -1, 32)))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = exactNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = exactNumbers(e)
		}
		return out
	}
	return v
}

func exactDecimal(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	d := strings.TrimRight(r.FloatString(400), "0")
	return strings.TrimSuffix(d, ".")
}

// localTime is a TIMESTAMP WITHOUT TIME ZONE: no offset in the output.
type localTime time.Time

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// JSONBText renders a value as PostgreSQL prints jsonb. Objects may have
// json.Number values (kept as numeric prints them) and the Go values pgx
// reads from typed columns.
func JSONBText(v any) string {
	var b strings.Builder
	writeJSONB(&b, v)
	return b.String()
}

func writeJSONB(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeString(b, x)
	case json.Number:
		b.WriteString(numeric(string(x)))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		fmt.Fprintf(b, "%d", x)
	case float32:
		b.WriteString(numeric(strconv.FormatFloat(float64(x), 'g', -1, 32)))
	case float64:
		b.WriteString(numeric(strconv.FormatFloat(x, 'g', -1, 64)))
	case time.Time:
		writeString(b, x.UTC().Format("2006-01-02T15:04:05.999999-07:00")) // SET TIME ZONE 'UTC'
	case localTime:
		writeString(b, time.Time(x).Format("2006-01-02T15:04:05.999999"))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, c string) int {
			if len(a) != len(c) {
				return len(a) - len(c)
			}
			return strings.Compare(a, c)
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, k)
			b.WriteString(": ")
			writeJSONB(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONB(b, e)
		}
		b.WriteByte(']')
	default:
		// Typed arrays and anything else pgx returns: through encoding/json.
		j, err := json.Marshal(x)
		if err != nil {
			fmt.Fprintf(b, "%q", fmt.Sprint(x))
			return
		}
		d, err := decodeNumbers(j)
		if err != nil {
			b.Write(j)
			return
		}
		writeJSONB(b, d)
	}
}

// numeric prints a JSON number as PostgreSQL's numeric does: the digits as
// written, an exponent expanded.
func numeric(s string) string {
	if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.eE+") == "" {
		s = s[1:] // numeric has no negative zero
	}
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return s
	}
	exp, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s
	}
	mant := s[:i]
	scale := 0
	if j := strings.IndexByte(mant, '.'); j >= 0 {
		scale = len(mant) - j - 1
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	return r.FloatString(max(scale-exp, 0))
}

func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// SameJSON reports whether two JSON texts hold the same value: numbers
// compared by exact value (1, 1.0 and 1E+0 are equal), objects whatever
// their key order, duplicate keys the last winning.
func SameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	x, err := decodeNumbers(a)
	if err != nil {
		t.Fatalf("decode %.200s: %v", a, err)
	}
	y, err := decodeNumbers(b)
	if err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
	return reflect.DeepEqual(exactNumbers(x), exactNumbers(y))
}
