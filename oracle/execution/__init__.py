"""Execution layer: simulate-then-send, fee caps, stuck-transaction replacement, the journal."""
