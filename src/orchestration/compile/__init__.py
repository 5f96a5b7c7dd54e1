"""Stage 2, compile: definitions to manifests, the typed contract between install and every run."""
