"""Surface runs: queueing one (``service``), computing it under a lease (``execute``,
``leases``) and the routes that start, list and serve them (``api``)."""
