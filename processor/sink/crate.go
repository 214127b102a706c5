package sink

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
)

// crateDB is CrateDB's dialect: OBJECT columns whose sub-columns get typed
// as values arrive, no transactions and no COPY, and bulk operations that
// report each row's outcome in its own command tag.
type crateDB struct{}

func (crateDB) kind() Dialect          { return CrateDB }
func (crateDB) defaultSchema() string  { return "doc" }
func (crateDB) checkName(string) error { return nil }
func (crateDB) rowMethod() writeMethod { return methodUnnest }
func (crateDB) chunkRows() int         { return defaultCrateChunkSize }
func (crateDB) chunkBytes() int        { return crateChunkBytes }
func (crateDB) typedSubColumns() bool  { return true }
func (crateDB) cdcSQL() cdcDialect     { return crateDB{} }
func (crateDB) versionColumn() string  { return "TEXT NOT NULL" }
func (crateDB) upsertAlias() string    { return "" }

// firstFit: CrateDB checks values at Bind time, where one bad row fails the
// whole batch, so nothing goes unfitted there.
func (crateDB) firstFit() fitLevel { return fitKnown }

func (crateDB) payloadRules(objectPolicy string) shape.Rules {
	if strings.EqualFold(objectPolicy, "ignored") {
		return shape.CrateDBIgnored
	}
	return shape.CrateDB
}

// encodeRaw: the dead letter's raw column is base64 TEXT (CrateDB has no
// bytes type that takes any size).
func (crateDB) encodeRaw(b []byte) any { return base64.StdEncoding.EncodeToString(b) }

func (crateDB) decodeRaw(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("raw is %T, not base64 text", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("raw is not base64: %w", err)
	}
	return b, nil
}

func (crateDB) statements(target, deadLetter, progress tableName, objectPolicy string) statements {
	types := progressTypes{text: "TEXT", bigint: "BIGINT", timestamptz: "TIMESTAMP WITH TIME ZONE"}
	policy := "DYNAMIC"
	if strings.EqualFold(objectPolicy, "ignored") {
		policy = "IGNORED"
	}
	return statements{
		createTarget: recordTableDDL(target, "TIMESTAMP WITH TIME ZONE",
			`"payload" OBJECT(`+policy+`)`,
			`"payload_aux" OBJECT(IGNORED)`,
			`"payload_text" TEXT INDEX OFF STORAGE WITH (columnstore = false)`,
			`"written_at" TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP`),
		// raw holds base64 of arbitrary size, so it is neither indexed nor
		// column-stored (indexed strings are limited to 32766 bytes).
		createDeadLetter: recordTableDDL(deadLetter, "TIMESTAMP WITH TIME ZONE",
			`"raw" TEXT INDEX OFF STORAGE WITH (columnstore = false)`,
			`"stage" TEXT`, `"error" TEXT`, `"failed_at" TIMESTAMP WITH TIME ZONE`, `"attempts" INTEGER`),
		createProgress: progressDDL(progress, types),
		tableExists:    tableExistsSQL,

		insertRow: `INSERT INTO ` + target.sql() + ` (` + insertColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::OBJECT, $7::OBJECT, $8::TEXT) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		insertRowNoAux: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::OBJECT) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		// Explicit array types: CrateDB cannot infer a parameter's type
		// inside UNNEST (crate/crate#10620).
		insertUnnest: `INSERT INTO ` + target.sql() + ` (` + insertColumns + `) ` +
			`SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], ` +
			`$6::ARRAY(OBJECT), $7::ARRAY(OBJECT), $8::TEXT[]) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		insertUnnestNoAux: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::ARRAY(OBJECT)) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		addAuxColumn:  `ALTER TABLE ` + target.sql() + ` ADD COLUMN "payload_aux" OBJECT(IGNORED)`,
		addTextColumn: `ALTER TABLE ` + target.sql() + ` ADD COLUMN "payload_text" TEXT INDEX OFF STORAGE WITH (columnstore = false)`,
		selectColumns: selectColumnsSQL,

		upsertDeadLetterRow: `INSERT INTO ` + deadLetter.sql() + ` (` + deadLetterColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::TEXT, $7::TEXT, $8::TEXT, CURRENT_TIMESTAMP, 1) ` +
			deadLetterConflict(""),
		selectDeadLetters:   selectDeadLettersSQL(deadLetter),
		deleteDeadLetterRow: `DELETE FROM ` + deadLetter.sql() + ` WHERE "shard_id" = $1::TEXT AND "seq" = $2::TEXT AND "sub_seq" = $3::BIGINT`,
		refreshDeadLetters:  crateDB{}.refresh(deadLetter),

		upsertProgress:      upsertProgressSQL(progress, "", "", false),
		upsertProgressBasic: upsertProgressSQL(progress, "", "", true),
		addProgressColumns:  addProgressColumnsSQL(progress, types, ""),
		selectProgress:      selectProgressSQL(progress),
		selectHistograms:    selectHistogramsSQL(progress),
		selectNow:           selectNowSQL,
		maxLag:              maxLagSQL(progress),
	}
}

// documentColumns is commons-codec's layout: pk as a strict object whose
// typed sub-columns form the primary key.
func (d crateDB) documentColumns(spec *cdc.Table) []string {
	var keys []string
	for _, c := range spec.Key {
		keys = append(keys, quoteIdent(c.Name)+" "+d.columnType(c.Type)+" PRIMARY KEY")
	}
	data := `"data" OBJECT(DYNAMIC)`
	if len(spec.Columns) > 0 {
		var typed []string
		for _, c := range spec.Columns {
			typed = append(typed, quoteIdent(c.Name)+" "+d.columnType(c.Type))
		}
		data += " AS (" + strings.Join(typed, ", ") + ")"
	}
	return []string{`"pk" OBJECT(STRICT) AS (` + strings.Join(keys, ", ") + `)`, data, `"aux" OBJECT(IGNORED)`}
}

// guarded assigns the proposed value only when the change is newer; CrateDB
// resolves a bare column to the stored row.
func (crateDB) guarded(col string) string {
	q, v := quoteIdent(col), quoteIdent(colVersion)
	return q + ` = CASE WHEN excluded.` + v + ` > coalesce(` + v + `, '') THEN excluded.` + q + ` ELSE ` + q + ` END`
}

// conflictTarget is the full primary key: CrateDB requires exactly that,
// and only a lookup by the full key sees rows not yet refreshed.
func (crateDB) conflictTarget(spec *cdc.Table) string {
	if spec.Layout == cdc.Direct {
		return keyList(spec)
	}
	var parts []string
	for _, c := range spec.Key {
		parts = append(parts, `"pk"[`+sqlString(c.Name)+`]`)
	}
	return strings.Join(parts, ", ")
}

// upsertUnnest: CrateDB has no WHERE in ON CONFLICT DO UPDATE, and an
// UNNEST would drop a refused change silently; each change goes as a row
// of a bulk.
func (crateDB) upsertUnnest(tableName, *cdc.Table, []cdcColumn) string { return "" }

func (crateDB) columnType(t cdc.Type) string {
	switch t {
	case cdc.Timestamp:
		return "TIMESTAMP WITH TIME ZONE"
	case cdc.Object:
		return "OBJECT(DYNAMIC)"
	case cdc.IgnoredObject:
		return "OBJECT(IGNORED)"
	}
	return commonColumnType(t)
}

func (d crateDB) castType(t cdc.Type) string {
	switch t {
	case cdc.Timestamp:
		return "TIMESTAMPTZ"
	case cdc.Object, cdc.IgnoredObject:
		return "OBJECT"
	}
	return d.columnType(t)
}

// columnOptions are the storage options CrateDB users give long text.
func (crateDB) columnOptions(c cdc.Column) string {
	var opts string
	if c.IndexOff {
		opts += " INDEX OFF"
	}
	if c.NoColumnstore {
		opts += " STORAGE WITH (columnstore = false)"
	}
	return opts
}

func (crateDB) partitionColumn(p *cdc.Partition) string {
	return quoteIdent(p.Name()) + ` TIMESTAMP WITH TIME ZONE GENERATED ALWAYS AS date_trunc(` + sqlString(p.Unit) + `, ` + quoteIdent(p.Column) + `)`
}

// partitionedBy: a partition per day, week or month, which retention drops
// whole (DELETE on the partition column).
func (crateDB) partitionedBy(p *cdc.Partition) string {
	if p == nil {
		return ""
	}
	return ` PARTITIONED BY (` + quoteIdent(p.Name()) + `)`
}

// refresh: CrateDB's reads see writes after a refresh (every second by
// default); counts taken right after writing need one.
func (crateDB) refresh(t tableName) string { return `REFRESH TABLE ` + t.sql() }
