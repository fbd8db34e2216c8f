"""Gin-configured sweeps (issue 18): a grid of bindings, each point trained and evaluated, one table."""
