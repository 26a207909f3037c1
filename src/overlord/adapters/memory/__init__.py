"""In-memory adapters: product code that passes every contract suite, for fast tests."""
