"""The insurance officer's pages, under /claims/ (namespace `claims`)."""
