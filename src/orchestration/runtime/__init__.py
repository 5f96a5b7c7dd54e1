"""Stage 5, run: `orchestration-exec` and only what it needs (standard library only for tasks
without functions or templates): the run loop, skip conditions, parameters, script supervision,
overlap, catch-up, output and the journal."""
