package sink

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// parseRefusingServer is a minimal server that refuses every Parse with
// err, the way CrateDB refuses an INSERT into a write-blocked table.
func parseRefusingServer(t *testing.T, err *pgproto3.ErrorResponse) string {
	t.Helper()
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, aerr := ln.Accept()
			if aerr != nil {
				return
			}
			go serveRefusingParse(c, err)
		}
	}()
	return "postgres://crate@" + ln.Addr().String() + "/doc?sslmode=disable"
}

func serveRefusingParse(c net.Conn, err *pgproto3.ErrorResponse) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(c, c)
	if _, rerr := be.ReceiveStartupMessage(); rerr != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "crate_version", Value: "6.4.3"})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	failed := false
	for {
		msg, rerr := be.Receive()
		if rerr != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.Parse:
			if !failed {
				be.Send(err)
				failed = true
			}
		case *pgproto3.Close: // pgx deallocates what it invalidated
			be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Sync:
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			failed = false
			if be.Flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		}
	}
}

// A refusal at Parse never blames a row, whatever its SQLSTATE: pgx wraps it
// differently for a batch and for a single statement, and classify must see
// through both (a pgx upgrade that changes the wrapping fails here).
func TestParseErrorIsNeverARowError(t *testing.T) {
	refusal := &pgproto3.ErrorResponse{Severity: "ERROR", Code: "XX000", Message: "some refusal CrateDB has not shown us yet"}
	url := parseRefusingServer(t, refusal)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const insert = `INSERT INTO t (a) VALUES ($1::TEXT)`

	b := &pgx.Batch{}
	b.Queue(insert, "x")
	b.Queue(insert, "y")
	_, batchErr := conn.SendBatch(ctx, b).Exec()
	_, execErr := conn.Exec(ctx, insert, "x")
	for name, err := range map[string]error{"batch": batchErr, "exec": execErr} {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !atParse(err) {
			t.Errorf("%s: atParse(%v) = false (%T)", name, err, err)
		}
		if got := classify(crateDB{}, err); got != classConfig {
			t.Errorf("%s: classify(%v) = %v, want config", name, err, got)
		}
	}
	// The same message at run time blames the row.
	if got := classify(crateDB{}, pgErr("XX000", refusal.Message)); got != classRow {
		t.Errorf("run-time XX000 = %v, want row", got)
	}
}
