"""The platform-neutral core: grammar, commands, domain rules and the neutral reply."""
