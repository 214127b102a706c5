package daemonsim

import (
	"errors"
	"fmt"
	"time"
)

// answerCheckpoint replies to one checkpoint request like the daemon.
func (c *Child) answerCheckpoint(action string, raw []byte, msg childMessage, deferred *error) error {
	var errName string
	switch {
	case action == ActionInitialize || action == ActionLeaseLost:
		// The daemon has no checkpointer here and answers this itself.
		errName = ErrInvalidState
		if *deferred == nil {
			*deferred = c.violate(action, raw, "checkpoint during "+action+" (answered InvalidStateException)")
		}
	case c.checkpointF != nil:
		errName = c.checkpointF(msg.seq, msg.subSeq)
	}
	if errName == "" {
		errName = c.cp.checkpoint(msg.seq, msg.subSeq)
	}
	c.checkpoints = append(c.checkpoints, CheckpointRequest{Action: action, SequenceNumber: msg.seq, SubSequenceNumber: msg.subSeq, Error: errName})
	reply := appendCheckpointReply(nil, msg.seq, msg.subSeq, errName)
	if _, err := c.stdin.Write(reply); err != nil {
		return fmt.Errorf("daemonsim: writing checkpoint reply: %w", err)
	}
	return nil
}

// checkQuiet reports output the child wrote between actions. The daemon
// would take a stray status as the answer to the next action.
func (c *Child) checkQuiet() error {
	for {
		select {
		case raw, ok := <-c.lines:
			if !ok {
				c.awaitStderr(time.Second)
				return fmt.Errorf("daemonsim: child closed stdout before the next action%s", c.stderrHint())
			}
			if err := c.strayLine(raw); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// strayLine records a line written outside any action; protocol-shaped
// lines are errors.
func (c *Child) strayLine(raw []byte) error {
	msg, err := parseChildLine(raw)
	switch {
	case err != nil:
		return c.violate("", raw, err.Error())
	case msg.kind == lineEmpty:
		return nil
	case msg.kind == lineNotJSON:
		c.violations = append(c.violations, Violation{Line: truncate(raw), Reason: "non-JSON line on stdout (the daemon skips it)"})
		return nil
	}
	return c.violate("", raw, "unsolicited message outside an action")
}

func (c *Child) violate(action string, raw []byte, reason string) error {
	v := Violation{Action: action, Line: truncate(raw), Reason: reason}
	c.violations = append(c.violations, v)
	return &ProtocolError{Violation: v}
}

func (c *Child) usable() error {
	switch {
	case c.closed:
		return errors.New("daemonsim: child already closed")
	case c.broken != nil:
		return fmt.Errorf("daemonsim: protocol out of sync after an earlier failure: %w", c.broken)
	case c.finished:
		return errors.New("daemonsim: no action may follow leaseLost or shardEnded")
	}
	return nil
}
