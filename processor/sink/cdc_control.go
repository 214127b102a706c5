package sink

import (
	"context"
	"fmt"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// ApplyControl creates or drops a CDC table (DMS control records, when
// sink.dms.control = apply). A dropped table is created again before the
// next change for it is written.
func (w *ChangeWriter) ApplyControl(ctx context.Context, ctl cdc.Control) error {
	t, err := w.tableFor(ctl.Table)
	if err != nil {
		return err
	}
	var ddl []string
	switch ctl.Kind {
	case cdc.CreateTable:
		ddl = []string{t.sql.createTable, t.sql.createView}
	case cdc.DropTable:
		ddl = []string{t.sql.dropView, t.sql.dropTable}
	default:
		return fmt.Errorf("sink: unknown control %s", ctl.Kind)
	}
	if err := w.runDDL(ctx, ctl.Kind.String(), ddl); err != nil {
		return fmt.Errorf("sink: %s %s: %w", ctl.Kind, t.name, err)
	}
	w.mu.Lock()
	w.dropped[t.spec] = ctl.Kind == cdc.DropTable
	w.mu.Unlock()
	w.log.Info().Str("table", t.name.String()).Str("control", ctl.Kind.String()).Msg("applied DMS control record")
	return nil
}

func (w *ChangeWriter) recreateIfDropped(ctx context.Context, t *cdcTarget) error {
	w.mu.Lock()
	dropped := w.dropped[t.spec]
	w.mu.Unlock()
	if !dropped {
		return nil
	}
	return w.ApplyControl(ctx, cdc.Control{Kind: cdc.CreateTable, Table: t.spec})
}

// runDDL runs statements with the retry policy. Afterwards the pool is
// reset: prepared statements cached on pooled connections may still refer
// to a dropped table (CrateDB keeps the analysis made at Parse time).
func (w *ChangeWriter) runDDL(ctx context.Context, op string, ddl []string) error {
	_, err := w.retry.do(ctx, op, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
		defer cancel()
		for _, s := range ddl {
			if _, err := w.pool.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", ddlHead(s), err)
			}
		}
		return nil
	})
	w.pool.Reset()
	return err
}
