"""The meaning of what a tasks file says, shared by the stages that define and the runtime that
runs it: when a schedule fires, what a built-in skip condition checks, what a parameter value may
be, what a run context holds, how a template renders. Standard library only (jinja2 is loaded by
`templates` when a template is rendered)."""
