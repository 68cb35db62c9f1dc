package engine

// HoldEvaluationSlots takes every evaluation slot of e, as if that many
// evaluations were running, until release is called.
func HoldEvaluationSlots(e *Engine) (release func()) {
	n := cap(e.slots.ch)
	for range n {
		e.slots.ch <- struct{}{}
	}
	return func() {
		for range n {
			e.slots.release()
		}
	}
}

// WaitingForSlot is how many exchanges are blocked waiting for a slot.
func WaitingForSlot(e *Engine) int64 { return e.slots.waiting.Load() }
