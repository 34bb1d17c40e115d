"""Taskbot on Matrix (matrix-nio): the adapter, its renderer and its Sender."""
