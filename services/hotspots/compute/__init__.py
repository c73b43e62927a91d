"""Pure numerics of the hotspots service: arrays and ``Grid`` in, arrays and dataclasses out.

No database, web framework or task queue here (the import-linter contracts say so): the CLI,
the service and the worker all call these functions.
"""
