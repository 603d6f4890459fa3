"""Request and response models of the admin API (never ORM rows)."""
