"""Errors the product raises on purpose, with messages meant for users."""

from __future__ import annotations


class TheiaError(Exception):
    """Base class: a problem the user can fix; the message names it and the setting."""


class ConfigurationError(TheiaError):
    """A setting, Param or connection is missing or invalid."""


class WarehouseBusyError(TheiaError):
    """The embedded database stayed locked by another process for too long."""


class WarehouseUnavailableError(TheiaError):
    """The warehouse could not be reached or refused the login (network, account, credentials)."""


class StatementCancelled(TheiaError):
    """A running statement was stopped in the engine because its task was ended."""
