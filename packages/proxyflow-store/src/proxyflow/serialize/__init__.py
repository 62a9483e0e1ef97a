"""Lazy transparent proxies, serialization and the Store that backs them."""
