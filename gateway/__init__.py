"""The composition root: config, CLI, process lifecycle and the sockets (DESIGN.md §1)."""
