package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestJSONBTextMatchesPostgreSQL checks the CrateDB side's rendering against
// PostgreSQL's own jsonb output.
func TestJSONBTextMatchesPostgreSQL(t *testing.T) {
	db := Get(t, PostgreSQL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, doc := range []string{
		`{"b":1,"a":{"ccc":[1,2.50,{"x":null}],"dd":true},"long key":"q\"\\\n\t\u0001é😀<&>"}`,
		`{"k":1,"k":2}`, `[]`, `{}`, `{"n":1e2,"m":1.5E-3,"o":-0.0,"p":123456789012345678901234567890}`,
	} {
		var want string
		if err := conn.QueryRow(ctx, `SELECT $1::jsonb::text`, doc).Scan(&want); err != nil {
			t.Fatal(err)
		}
		v, err := decodeNumbers([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := JSONBText(v); got != want {
			t.Errorf("%s:\n got %s\nwant %s", doc, got, want)
		}
	}
}

func TestExactNumbers(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":50.0,"b":1.0E-7,"c":0.1,"d":1e2,"e":-0.0,"f":123456789012345678901234567890}`: `{"a": 50, "b": 0.0000001, "c": 0.1, "d": 100, "e": 0, "f": 123456789012345678901234567890}`,
		`[0.1000000000000000055511151231257827, 9.223372036854775807e18]`:                   `[0.1000000000000000055511151231257827, 9223372036854775807]`,
	} {
		v, err := decodeNumbers([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := JSONBText(exactNumbers(v)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", in, got, want)
		}
	}
	if got := JSONBText(exactNumbers(map[string]any{"x": 12.5, "y": 0.1})); got != `{"x": 12.5, "y": 0.1}` {
		t.Errorf("doubles: %s", got)
	}
}
