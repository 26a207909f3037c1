"""Use cases, one module per capability; ports come in through constructors."""
