"""Background work: `flask jobs tick` runs each due job; every job calls a feature's service."""
