"""Onboarding and offboarding: the pure plan, the state record and the steps behind ports.

Nothing here talks to a cloud directly: AWS goes through :class:`~theia_sf.onboarding.ports.AwsPort`
(implemented by :mod:`theia_sf.adapters.aws`), Snowflake through the ``Warehouse`` port.
"""
