package sink

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestPGArrayRoundTrip sends hand-encoded arrays to PostgreSQL and reads
// them back through pgx's own decoding: what upsertUnnest sends is what the
// server sees.
func TestPGArrayRoundTrip(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	for _, tt := range []struct {
		name string
		elem uint32
		in   []any
		want string // the array's text as PostgreSQL prints it
	}{
		{"text", oidText, []any{"a", "", nil, "grüße \"q\" \\ ,{}"}, `{a,"",NULL,"grüße \"q\" \\ ,{}"}`},
		{"numbers as text", oidText, []any{int64(-42), 12.5, 1e21, true, json.RawMessage(`{"k":[1,2]}`)}, `{-42,12.5,1e+21,true,"{\"k\":[1,2]}"}`},
		{"time as text", oidText, []any{at}, `{2026-11-30T04:06:07.891234567Z}`},
		{"boolean", oidBool, []any{true, nil, false}, `{t,NULL,f}`},
		{"timestamptz", oidTimestamptz, []any{at, nil}, `{"2026-11-30 04:06:07.891234+00",NULL}`},
		{"empty", oidText, nil, `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a pgArray
			a.reset(tt.elem)
			for _, v := range tt.in {
				if err := a.add(v); err != nil {
					t.Fatal(err)
				}
			}
			got := conn.PgConn().ExecParams(ctx, "SELECT $1::text", [][]byte{a.bytes()}, []uint32{a.oid()},
				[]int16{pgtype.BinaryFormatCode}, nil).Read()
			if got.Err != nil {
				t.Fatal(got.Err)
			}
			if s := string(got.Rows[0][0]); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestPGArrayRefusesWrongElement(t *testing.T) {
	var a pgArray
	a.reset(oidBool)
	if err := a.add("yes"); err == nil {
		t.Error("a string went into a boolean array")
	}
	a.reset(oidTimestamptz)
	if err := a.add(int64(1)); err == nil {
		t.Error("an integer went into a timestamptz array")
	}
}
