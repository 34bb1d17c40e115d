"""The leaf of the core: the registry and router, the grammar, the neutral reply model,
the directory, roles, dates and recurrence, posts and the shared scheduling kit. It imports
no feature; features import it."""
