"""The embedded default: state on local disk, no server to start."""
