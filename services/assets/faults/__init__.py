"""Faults: logged against cameras, moved through their statuses, with SLA and availability."""
