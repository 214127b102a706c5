package pgtest

import (
	"context"
	"encoding/json"
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
		got, err := CanonicalJSON(ctx, nil, DB{Name: CrateDB}, []json.RawMessage{json.RawMessage(doc)})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != want {
			t.Errorf("%s:\n got %s\nwant %s", doc, got[0], want)
		}
	}
}
