"""Stage 1, define: the public API of a tasks file (`Orchestrator`, `Task`, schedules, skip
conditions, parameter values), each call checked at once, and loading a tasks file."""
