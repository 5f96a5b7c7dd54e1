"""Stage 6, observe: what is installed and what ran, for `list`, `status`, `next`, `why`,
`history` and `logs`; nothing here writes."""
