package sink

import (
	"strconv"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// All SQL for change-data-capture tables lives in this file (the plain
// layout's is in sql.go); testdata/cdc_*.sql.golden shows it per dialect.
//
// Every change, whatever its kind, is the same guarded upsert addressed by
// the full primary key: INSERT … ON CONFLICT (primary key) DO UPDATE, which
// replaces the stored row only when the change's cdc_version is greater. A
// delete is that upsert with cdc_deleted = true and empty values (a
// tombstone), so a stale insert replayed later cannot resurrect the row.
// One statement text per table also keeps each CrateDB bulk to one
// statement, so CrateDB's regrouping of mixed batches cannot reorder work.
//
// PostgreSQL guards with ON CONFLICT … DO UPDATE … WHERE.
//
// CrateDB has no WHERE there. Its grammar (crate/crate
// libs/sql-parser/…/SqlBaseParser.g4, rule onConflict) is
//
//	ON CONFLICT conflictTarget DO UPDATE SET assignment (COMMA assignment)*
//
// where conflictTarget takes subscripts such as "pk"['id'] and an assignment
// is `primaryExpression EQ expr`, so any expression, CASE included.
// InsertAnalyzer.verifyOnConflictTargets requires the target to be exactly
// the primary key columns. The assignments are analysed with an
// ExcludedFieldProvider over the table (InsertAnalyzer.getUpdateAssignments):
// `excluded.col` is the proposed value and a bare `col` the stored one
// (docs/sql/statements/insert.rst: "visits = visits + 1"). On the shard,
// UpdateToInsert.convert evaluates every assignment against the stored
// document, not against assignments made earlier in the same SET, so
// guarding each column with
//
//	col = CASE WHEN excluded.cdc_version > coalesce(cdc_version, '') THEN excluded.col ELSE col END
//
// and cdc_version last is the same guard as PostgreSQL's WHERE: a stale
// change rewrites the row with its own values. coalesce lets rows written
// by other tools (no version yet) be taken over.

// CDC bookkeeping columns of every CDC table.
const (
	colVersion   = "cdc_version"
	colDeleted   = "cdc_deleted"
	colEventTime = "cdc_event_time"
)

// liveViewSuffix names the view that hides tombstones.
const liveViewSuffix = "_live"

// cdcStatements is the SQL for one CDC table in one dialect.
type cdcStatements struct {
	createTable string
	createView  string
	dropView    string
	dropTable   string
	// upsertRow is the single-row guarded upsert: CrateDB's bulk batches
	// and re-running a failed row alone. The PostgreSQL variant uses the
	// same CASE guard (tests run it to check the guard's logic on a real
	// database); production PostgreSQL writes use upsertUnnest.
	upsertRow string
	// upsertUnnest upserts a whole chunk given as column arrays (PostgreSQL).
	upsertUnnest string
	// Retention (retention.go): rows of partitions that start before $1,
	// per partition; their deletion (CrateDB drops the partitions whole);
	// tombstones whose event is older than $1, and their deletion.
	expiredPartitions, deleteExpired string
	countTombstones, purgeTombstones string
	refresh                          string // makes recent writes visible to the counts; "" where reads are real-time
}

// cdcColumn is a column of a CDC table as the SQL sees it.
type cdcColumn struct {
	name string
	typ  cdc.Type // Object for pk/data/aux
	key  bool
}

// cdcColumns lists the columns in the order of the upsert's parameters.
func cdcColumns(spec *cdc.Table) []cdcColumn {
	var cols []cdcColumn
	if spec.Layout == cdc.Document {
		cols = []cdcColumn{{name: "pk", typ: cdc.Object, key: true}, {name: "data", typ: cdc.Object}, {name: "aux", typ: cdc.Object}}
	} else {
		for _, c := range spec.Key {
			cols = append(cols, cdcColumn{name: c.Name, typ: c.Type, key: true})
		}
		for _, c := range spec.Columns {
			cols = append(cols, cdcColumn{name: c.Name, typ: c.Type})
		}
	}
	return append(cols,
		cdcColumn{name: colVersion, typ: cdc.Text},
		cdcColumn{name: colDeleted, typ: cdc.Boolean},
		cdcColumn{name: colEventTime, typ: cdc.Timestamp})
}

func buildCDCStatements(d dialect, table, view tableName, spec *cdc.Table) cdcStatements {
	cols := cdcColumns(spec)
	s := cdcStatements{
		createTable: createCDCTable(d, table, spec),
		createView:  createLiveView(table, view, spec),
		dropView:    `DROP VIEW IF EXISTS ` + view.sql(),
		dropTable:   `DROP TABLE IF EXISTS ` + table.sql(),
	}
	s.upsertRow = upsertRow(d, table, spec, cols)
	s.upsertUnnest = d.cdcSQL().upsertUnnest(table, spec, cols)
	if p := spec.Partition; p != nil {
		part := quoteIdent(p.Name())
		s.expiredPartitions = `SELECT ` + part + `, count(*) FROM ` + table.sql() + ` WHERE ` + part + ` < $1::TIMESTAMPTZ GROUP BY ` + part + ` ORDER BY ` + part
		s.deleteExpired = `DELETE FROM ` + table.sql() + ` WHERE ` + part + ` < $1::TIMESTAMPTZ`
	}
	tombstones := ` FROM ` + table.sql() + ` WHERE ` + quoteIdent(colDeleted) + ` = TRUE AND ` + quoteIdent(colEventTime) + ` < $1::TIMESTAMPTZ`
	s.countTombstones, s.purgeTombstones = `SELECT count(*)`+tombstones, `DELETE`+tombstones
	s.refresh = d.cdcSQL().refresh(table)
	return s
}

func createCDCTable(d dialect, table tableName, spec *cdc.Table) string {
	var defs []string
	if spec.Layout == cdc.Document {
		defs = append(defs, d.cdcSQL().documentColumns(spec)...)
	} else {
		for _, c := range spec.Key {
			defs = append(defs, quoteIdent(c.Name)+" "+d.columnType(c.Type)+" NOT NULL")
		}
		for _, c := range spec.Columns {
			defs = append(defs, quoteIdent(c.Name)+" "+d.columnType(c.Type)+d.columnOptions(c))
		}
	}
	defs = append(defs,
		quoteIdent(colVersion)+" "+d.cdcSQL().versionColumn(),
		quoteIdent(colDeleted)+" BOOLEAN NOT NULL",
		quoteIdent(colEventTime)+" "+d.columnType(cdc.Timestamp))
	if spec.Partition != nil {
		defs = append(defs, d.cdcSQL().partitionColumn(spec.Partition))
	}
	if spec.Layout == cdc.Direct {
		defs = append(defs, "PRIMARY KEY ("+keyList(spec)+")")
	}
	return `CREATE TABLE IF NOT EXISTS ` + table.sql() + ` (` + strings.Join(defs, ", ") + `)` + d.cdcSQL().partitionedBy(spec.Partition)
}

// createLiveView shows the source table's state: no tombstones, no
// bookkeeping columns. coalesce keeps rows of an adopted table that have no
// cdc_deleted value yet. (IS NOT TRUE would say the same, but CrateDB only
// parses it from 6.3 on; coalesce and = work on every CrateDB and on
// PostgreSQL.)
func createLiveView(table, view tableName, spec *cdc.Table) string {
	var cols []string
	for _, c := range cdcColumns(spec) {
		if c.name != colVersion && c.name != colDeleted && c.name != colEventTime {
			cols = append(cols, quoteIdent(c.name))
		}
	}
	return `CREATE OR REPLACE VIEW ` + view.sql() + ` AS SELECT ` + strings.Join(cols, ", ") +
		` FROM ` + table.sql() + ` WHERE coalesce(` + quoteIdent(colDeleted) + `, FALSE) = FALSE`
}

func upsertRow(d dialect, table tableName, spec *cdc.Table, cols []cdcColumn) string {
	names, params := make([]string, len(cols)), make([]string, len(cols))
	var sets []string
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
		params[i] = "$" + strconv.Itoa(i+1) + "::" + d.castType(c.typ)
		if !c.key && c.name != colVersion && !partitionSource(spec, c.name) {
			sets = append(sets, d.cdcSQL().guarded(c.name))
		}
	}
	sets = append(sets, d.cdcSQL().guarded(colVersion))
	return `INSERT INTO ` + table.sql() + d.cdcSQL().upsertAlias() + ` (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(params, ", ") + `) ` +
		onConflict(d.cdcSQL().conflictTarget(spec), spec, sets)
}

// onConflict is what a change does to a stored row: a guarded update, or
// nothing for an append-only table, whose rows never change.
func onConflict(target string, spec *cdc.Table, sets []string) string {
	if spec.AppendOnly {
		return `ON CONFLICT (` + target + `) DO NOTHING`
	}
	return `ON CONFLICT (` + target + `) DO UPDATE SET ` + strings.Join(sets, ", ")
}

// keyList is the primary key of a Direct table: its key columns, and the
// partition column (CrateDB requires it there; it depends on the key's
// own columns or on the record's place in the stream, see cdc.NewMapped).
func keyList(spec *cdc.Table) string {
	var parts []string
	for _, c := range spec.Key {
		parts = append(parts, quoteIdent(c.Name))
	}
	if spec.Partition != nil {
		parts = append(parts, quoteIdent(spec.Partition.Name()))
	}
	return strings.Join(parts, ", ")
}

// sqlString quotes s as an SQL string literal (subscript keys cannot be
// parameters in CrateDB).
func sqlString(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}

// commonColumnType is the DDL type both databases spell alike.
func commonColumnType(t cdc.Type) string {
	switch t {
	case cdc.BigInt:
		return "BIGINT"
	case cdc.Integer:
		return "INTEGER"
	case cdc.Double:
		return "DOUBLE PRECISION"
	case cdc.Boolean:
		return "BOOLEAN"
	default:
		return "TEXT"
	}
}

// partitionSource reports the column a table's partition is generated
// from: a row never moves to another partition, and CrateDB refuses to
// update such a column, so an upsert leaves it as first written.
func partitionSource(spec *cdc.Table, col string) bool {
	return spec.Partition != nil && spec.Partition.Column == col
}
