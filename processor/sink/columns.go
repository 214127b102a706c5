package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Tables made by an earlier version lack the columns added since; Open
// adds them (ensureAuxColumns for the target, ensureProgressColumns for
// the progress table).

// ensureColumns adds the columns of cols that table lacks, or, when the
// writer may not change tables (add is false), hands each of them to
// missing instead.
func (c *core) ensureColumns(ctx context.Context, table tableName, cols []columnDDL, add bool, missing func(columnDDL)) error {
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	have, err := c.columnsOf(ctx, table)
	if err != nil {
		return err
	}
	for _, col := range cols {
		switch {
		case have[col.column]:
		case !add:
			missing(col)
		default:
			if err := c.addColumn(ctx, table, col); err != nil {
				return err
			}
		}
	}
	return nil
}

// columnsOf returns the names of table's columns (CrateDB lists an
// object's sub-columns too, as col['a']).
func (c *core) columnsOf(ctx context.Context, table tableName) (map[string]bool, error) {
	rows, err := c.pool.Query(ctx, c.sql.selectColumns, table.schema, table.name)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	return have, nil
}

// addColumn runs col's ALTER TABLE; a column another process added first
// is no error.
func (c *core) addColumn(ctx context.Context, table tableName, col columnDDL) error {
	if _, err := c.pool.Exec(ctx, col.ddl); err != nil && !columnExists(err) {
		return fmt.Errorf("add column %s to %s: %w", col.column, table, err)
	}
	c.log.Info().Str("table", table.String()).Str("column", col.column).Msg("added column")
	return nil
}

// columnExists reports the error of adding a column another process added
// first.
func columnExists(err error) bool {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "42701" {
		return true
	}
	return strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "already has a column")
}
