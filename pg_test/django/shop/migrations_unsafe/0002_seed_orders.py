# Shared with the safe chain: the same migration, re-exported.
from importlib import import_module

Migration = import_module("shop.migrations.0002_seed_orders").Migration
