"""HTTP clients of outside systems (the insurer's portal). No business rules here."""
