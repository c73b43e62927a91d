"""The composition root: the one place that names the services and puts the suite together.

``csp.services`` lists each service's settings and app factory, ``csp.models`` imports every
ORM model for the one database, ``csp.worker`` the Celery task modules and beat schedule, and
``csp.cli`` the whole command line. Nothing under ``shared/`` names a service.
"""
