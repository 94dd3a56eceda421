"""NetworkPolicy recommendation: reduced flow tuples in, Kubernetes/Antrea policies out.

The warehouse reduces flows to distinct tuples (``sql/recommendation``); this package turns the
tuples into policies (:mod:`.building`), names them stably (:mod:`.naming`), renders YAML
(:mod:`.render`) and diffs runs (:mod:`.diff`). The self-check uses :mod:`theia_sf.policyeval`.
"""
