"""Reviews: in-service cameras whose periodic review is due or overdue."""
