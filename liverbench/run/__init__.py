"""One run, from its config to its stored rows: config, plan, the work units, the scheduler, the store."""
