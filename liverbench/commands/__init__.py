"""The `liverbench` command line: run, eval, report, methods, profile, tune-refinement, check."""
