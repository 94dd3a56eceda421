"""Adapters: concrete engines and clouds behind the core's ports."""
