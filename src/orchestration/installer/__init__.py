"""Stage 4, install: diff, apply, fences, locks and scopes; the only writer of crontabs, unit
folders and manifest files."""
