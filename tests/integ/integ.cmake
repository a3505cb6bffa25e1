# Integration tests: each starts its own practiced.
