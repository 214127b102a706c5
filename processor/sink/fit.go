package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
)

// Fitting payloads to the table (see package shape). A payload is stored in
// three columns: payload (what the column indexes exactly), payload_aux
// (values moved out of payload, at their paths) and payload_text (the whole
// record as JSON text whenever payload_aux is set). A record reads back
// whole as coalesce(payload_text, payload::TEXT).

// fitted is a payload ready for the three columns.
type fitted struct {
	main, aux, full []byte
}

// fitLevel says how hard a row is fitted; each refusal of the row by the
// database raises it by one.
type fitLevel int

const (
	// fitAsIs sends the payload untouched (PostgreSQL's bulk paths: jsonb
	// takes nearly everything, and a refusal comes back as an error).
	fitAsIs fitLevel = iota
	// fitKnown fits the payload to the sub-columns the writer knows.
	fitKnown
	// fitReloaded reads the table's sub-columns again first: another
	// process may have made one with another type.
	fitReloaded
	// fitKnownOnly makes no new sub-column (a column limit, say).
	fitKnownOnly
	// fitAuxOnly keeps everything in payload_aux and payload_text.
	fitAuxOnly
	// fitTextOnly keeps the record in payload_text alone.
	fitTextOnly
	fitLevels
)

func (l fitLevel) String() string {
	return [...]string{"as-is", "known", "reloaded", "known-only", "aux-only", "text-only"}[l]
}

// fit prepares r's payload at level. It is safe for concurrent use.
func (w *Writer) fit(r *Row, level fitLevel) (fitted, error) {
	payload := payloadBytes(r)
	switch level {
	case fitAsIs:
		return fitted{main: payload}, nil
	case fitTextOnly:
		res, err := w.rules.Split(payload, nil, shape.AuxOnly)
		if err != nil {
			return fitted{}, err
		}
		return fitted{main: res.Main, full: res.Full}, nil
	}
	mode := shape.Fit
	if w.columnsFull.Load() {
		mode = shape.KnownOnly
	}
	switch level {
	case fitKnownOnly:
		mode = shape.KnownOnly
	case fitAuxOnly:
		mode = shape.AuxOnly
	}
	w.colsMu.Lock()
	res, err := w.rules.Split(payload, w.payloadCols, mode)
	w.colsMu.Unlock()
	if err != nil {
		return fitted{}, err
	}
	return fitted{main: res.Main, aux: res.Aux, full: res.Full}, nil
}

// firstFit is the level of a row's first attempt: CrateDB checks values
// at Bind time, where one bad row fails the whole batch, so nothing goes
// unfitted there.
func (w *Writer) firstFit() fitLevel { return w.db.firstFit() }

// reloadColumns reads the payload's sub-columns from the database.
func (w *Writer) reloadColumns(ctx context.Context) error {
	if !w.db.typedSubColumns() {
		return nil // jsonb makes no sub-columns
	}
	cols, err := w.loadObjectColumns(ctx, w.target, "payload")
	if err != nil {
		return err
	}
	w.colsMu.Lock()
	w.payloadCols = cols
	w.colsMu.Unlock()
	return nil
}

// loadObjectColumns reads the sub-columns of an object column of table.
func (w *core) loadObjectColumns(ctx context.Context, table tableName, column string) (*shape.Columns, error) {
	names, types, err := w.subColumns(ctx, table, column)
	if err != nil {
		return nil, err
	}
	cols := &shape.Columns{}
	for i, name := range names {
		if !cols.AddColumn(name, types[i]) {
			w.log.Warn().Str("column", name).Msg("cannot read sub-column name; ignoring it")
		}
	}
	return cols, nil
}

// subColumns reads the names and types of table's object sub-columns, which
// CrateDB names col['a']['b'], of the object column named column ("" for
// every object column).
func (w *core) subColumns(ctx context.Context, table tableName, column string) (names, types []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	rows, err := w.pool.Query(ctx, w.sql.selectColumns, table.schema, table.name)
	if err != nil {
		return nil, nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, nil, err
		}
		if i := strings.IndexByte(name, '['); i > 0 && (column == "" || name[:i] == column) {
			names, types = append(names, name), append(types, typ)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	return names, types, nil
}

// ensureAuxColumns adds payload_aux and payload_text to a target table
// made before they existed, or, when the writer may not change tables,
// says how to.
func (w *Writer) ensureAuxColumns(ctx context.Context, add bool) error {
	cols := []columnDDL{{"payload_aux", w.sql.addAuxColumn}, {"payload_text", w.sql.addTextColumn}}
	return w.ensureColumns(ctx, w.target, cols, add, func(c columnDDL) {
		// A table the user made: store what fits in payload alone, and
		// dead-letter records that need the other columns.
		w.noAux = true
		w.log.Warn().Str("table", w.target.String()).Str("missing", c.column).Str("add_with", c.ddl).
			Msg("the target has no column for values its payload column cannot take; records with such values will be dead-lettered")
	})
}

// errNoAuxColumns refuses a fitted payload that needs payload_aux or
// payload_text in a table without them.
var errNoAuxColumns = errors.New("the record has values the payload column cannot take, and the table has no payload_aux and payload_text columns to keep them")

// fitArgs are a fitted payload as statement parameters: the bytes
// themselves (pgx sends them as the JSON and text they are), not string
// copies, which a 10,000-row batch would hold all at once.
func fitArgs(f fitted) (main, aux, full any) {
	main = f.main
	if f.aux != nil {
		aux = f.aux
	}
	if f.full != nil {
		full = string(f.full) // TEXT: a []byte would go as bytea
	}
	return main, aux, full
}

// payloadBytes never returns nil: a nil slice would be stored as SQL NULL,
// while a missing payload must be refused (and dead-lettered) like any other
// invalid JSON, whichever write method runs.
func payloadBytes(r *Row) []byte {
	if r.Payload == nil {
		return []byte{}
	}
	return r.Payload
}
