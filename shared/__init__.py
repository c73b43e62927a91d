"""Code the services share: settings, database, errors, auth, geometry, incidents, web kit."""
