"""The qsched service: gRPC server, SQLite job store, worker processes."""
