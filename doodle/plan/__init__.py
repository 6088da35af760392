"""Options, style packs, and the plan of a run: its settings and its memory."""
