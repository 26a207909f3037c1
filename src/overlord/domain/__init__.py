"""The pure model: stdlib and attrs only, no I/O."""
